"""The four datatrove steps of the dedup stage, each run by its own executor (pipelines/dedup.py):

    1. DedupSignatures  per rank: records -> fingerprints in the index (bad records -> _errors)
    2. DedupBuckets     per band: sorted keys -> verified pairs of records that share a bucket
    3. DedupCluster     one task: pairs -> clusters -> a survivor and an action per record, each
                        removed record checked against its survivor (dedup/cluster.py)
    4. DedupFilter      per rank: records -> kept (dedup/) or removed (dedup/_removed/)

Steps 1 and 4 must see the same records in the same order on each rank: both read the extract
folder with the same task count, and step 4 checks the row count against the index.

Steps 1 and 4 take the records as arrow batches (`RecordReader(arrow=True)`), not as Documents: a
Document and a dict per row cost more than their own work (3.8 s of 12 s on 150 MB of text). Step
1 makes Python objects of the columns it reads (kind, text, id; a record that is not text, or that
fails, becomes a Document); step 4 never does: it filters the batches and sets their dedup columns
with pyarrow, and the writers write the batches as they are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from thresher.dedup.features import FAILED, Fingerprinter, Fingerprints, Params, Rows
from thresher.dedup.index import (
    EXACT,
    FAILED_ROW,
    KEPT_IN_CLUSTER,
    NEAR,
    REASONS,
    Index,
    IndexSet,
    RankWriter,
    rank_name,
)
from thresher.dedup.verify import Checks, Verifier

from thresher.arrow import from_numpy, set_column, strings
from thresher.errors import StageError
from thresher.io import prefetched
from thresher.steps import RecordStep

STAGE = "dedup"


class DedupSignatures(RecordStep):
    """Fingerprints of every record, a batch at a time (arrow batches of SCHEMA rows); a record
    dedup cannot read goes to `dedup/_errors/` (its row in the index is marked failed, so the
    filter pass skips it)."""

    stage = STAGE
    name = "🫆 dedup fingerprints"
    type = "🫂 - DEDUP"

    def __init__(self, params: Params, index: Path, folder: Path | None):
        super().__init__(folder)
        self.params, self.index = params, Path(index)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.fingerprint = Fingerprinter(self.params)
        self.out = RankWriter(self.index, rank, self.params)
        with self.side_writers(rank):
            for batch in prefetched(data):  # the next batch is read while this one is hashed
                self.stat_update("in", value=len(batch))
                with self.track_time(unit="batch"):
                    self.process_rows(Rows(batch))
        self.out.close()  # only when every record is in: a failed task leaves no index files
        return
        yield  # a generator that yields nothing: this pipeline ends here

    def preload(self) -> None:
        """Called in the parent before a forked worker pool starts (pipelines/engine.py): load what
        each worker's first batch would load for itself, so that the workers inherit it: the
        compiled kernels (numba's cache: about half a second per process) and their tables. (The
        passes make and read arrow arrays through thresher.arrow, so pyarrow never imports pandas.)"""
        from thresher.records import Kind, new_document

        doc = new_document(id="preload", kind=Kind.TEXT, source="preload", uri="preload", text="a b c d e f g")
        Fingerprinter(self.params)([doc])

    def process_rows(self, rows: Rows) -> None:
        """Every record gets its row in the index, in order, even when fingerprinting raises: the
        filter pass counts rows to stay in step with the records (a missing row would read as "the
        extract folder changed"). A batch that raises is fingerprinted again record by record, so
        that the error lands on the record that caused it, as a failed row."""
        try:
            fp, errors = self.fingerprint(rows)
        except (StageError, KeyboardInterrupt):
            raise
        except Exception as e:
            if len(rows) > 1:
                for i in range(len(rows)):
                    self.process_rows(rows.one(i))
                return
            fp, errors = Fingerprints.empty(1, self.params), [(0, "internal_error", f"{type(e).__name__}: {e}")]
            fp.status[0] = FAILED
        if errors and rows.arrow:
            at = np.array([i for i, _, _ in errors], np.int64)
            self.side_batch("errors", rows.batch.take(from_numpy(at)), [r for _, r, _ in errors], [d for _, _, d in errors])
        else:
            for i, reason, detail in errors:
                self.fail(rows.doc(i), reason, detail)
        try:
            self.out.append(fp, rows.column("id"))
        except Exception as e:  # a half-written index must not be retried record by record: stop the task
            raise StageError(f"cannot write the dedup index {self.index}: {type(e).__name__}: {e}") from e


class DedupBuckets(PipelineStep):
    name = "🪣 dedup buckets"
    type = "🫂 - DEDUP"

    def __init__(self, index: Path, earlier: list[str], checks: Checks, slots: int):
        super().__init__()
        self.index, self.earlier, self.checks, self.slots = Path(index), list(earlier), checks, slots

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from thresher.dedup.buckets import band_pairs

        ix = IndexSet(Index(self.index), [Index(p) for p in self.earlier])
        verifier = Verifier(ix, self.checks)
        for slot in range(rank, self.slots, world_size):
            with self.track_time(unit="band"):
                pairs = band_pairs(ix, slot, self.checks, verifier)
            self.stat_update("pairs", value=len(pairs))
            path = self.index / "pairs" / f"{slot:03d}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            with open(tmp, "wb") as f:
                np.save(f, pairs.astype(np.int64))
            tmp.replace(path)
        return
        yield


class DedupCluster(PipelineStep):
    # no _requires_dependencies: its check (datatrove's) scans every installed distribution's
    # metadata (~50 ms) each time the step is made or unpickled
    name = "🔗 dedup clusters"
    type = "🫂 - DEDUP"

    def __init__(self, index: Path, earlier: list[str], checks: Checks, slots: int):
        super().__init__()
        self.index, self.earlier, self.checks, self.slots = Path(index), list(earlier), checks, slots

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if rank != 0:
            return
        from thresher.dedup.cluster import assign

        ix = IndexSet(Index(self.index), [Index(p) for p in self.earlier])
        files = [self.index / "pairs" / f"{slot:03d}.npy" for slot in range(self.slots)]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise StageError(f"dedup buckets missing for bands {missing}: the bucket step did not finish")
        with self.track_time():
            counts = assign(ix, files, self.index / "assign", self.checks)
        for key, value in counts.items():
            self.stat_update(key, value=value)
        return
        yield


class DedupFilter(RecordStep):
    """Keep or remove each record by the cluster pass's verdict (`dedup/_removed/`), a batch at a
    time: arrow batches of SCHEMA rows in, the kept rows of each out."""

    stage = STAGE
    sides = ("removed",)
    name = "🧹 dedup filter"
    type = "🫂 - DEDUP"

    def __init__(self, index: Path, folder: Path | None):
        super().__init__(folder)
        self.index = Path(index)

    def setup(self, rank: int, world_size: int) -> None:
        with np.load(self.index / "assign" / f"{rank_name(rank)}.npz") as z:
            self.action, self.survivor_id = z["action"], z["survivor_id"]
        self.i = 0

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.side_writers(rank):
            self.setup(rank, world_size)
            for batch in prefetched(data):
                with self.track_time(unit="batch"):
                    kept = self.filter_batch(batch)
                yield kept
        if self.i != self.action.size:
            raise StageError(f"rank {rank} read {self.i} records but fingerprinted {self.action.size}: the extract "
                             "folder changed since; rerun dedup with --force")

    def filter_batch(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """The batch's kept rows, `cluster_id` set on those in a cluster; its duplicates go to
        `_removed/` with `cluster_id`, `duplicate_of` (the survivor's id), stage and reason."""
        n, at = batch.num_rows, self.i
        if at + n > self.action.size:
            raise StageError(f"rank {self.rank} reads more records than it fingerprinted ({self.action.size}): the "
                             "extract folder changed since; rerun dedup with --force")
        self.i += n
        act, survivor = self.action[at:at + n], self.survivor_id[at:at + n]
        self.stat_update("in", value=n)
        removed = (act == EXACT) | (act == NEAR)
        in_cluster = removed | (act == KEPT_IN_CLUSTER)
        if in_cluster.any():
            batch = set_column(batch, "cluster_id", pc.if_else(from_numpy(in_cluster), strings(survivor.tolist()),
                                                               batch.column("cluster_id")))
        if removed.any():
            gone = batch.filter(from_numpy(removed))
            gone = set_column(gone, "duplicate_of", gone.column("cluster_id"))
            self.side_batch("removed", gone, np.where(act[removed] == EXACT, REASONS[EXACT], REASONS[NEAR]).tolist())
        kept = batch.filter(from_numpy((act != FAILED_ROW) & ~removed))  # failed rows are in _errors already
        self.stat_update("kept", value=kept.num_rows)
        self.stat_update("out", value=kept.num_rows)
        return kept

