"""The four datatrove steps of the dedup stage, each run by its own executor (pipelines/dedup.py):

    1. DedupSignatures  per rank: records -> fingerprints in the index (bad records -> _errors)
    2. DedupBuckets     per band: sorted keys -> verified pairs of records that share a bucket
    3. DedupCluster     one task: pairs -> clusters -> a survivor and an action per record
    4. DedupFilter      per rank: records -> kept (dedup/) or removed (dedup/_removed/)

Steps 1 and 4 must see the same records in the same order on each rank: both read the extract
folder with the same task count, and step 4 checks the row count against the index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from thresher.dedup.buckets import Checks
from thresher.dedup.features import Fingerprinter, Params
from thresher.dedup.index import EXACT, FAILED_ROW, KEPT_IN_CLUSTER, NEAR, REASONS, Index, IndexSet, RankWriter, rank_name
from thresher.errors import StageError
from thresher.io import RecordWriter
from thresher.records import mark

STAGE = "dedup"


class DedupSignatures(PipelineStep):
    name = "🫆 dedup fingerprints"
    type = "🫂 - DEDUP"

    def __init__(self, params: Params, index: Path, errors_folder: Path, batch_docs: int = 256):
        super().__init__()
        self.params, self.index, self.batch_docs = params, Path(index), batch_docs
        self.errors = RecordWriter(errors_folder, always_create=False)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        fingerprint = Fingerprinter(self.params)
        out = RankWriter(self.index, rank, self.params)
        batch: list[Document] = []
        self.errors.open(rank)

        def flush() -> None:
            with self.track_time(unit="batch"):
                fp, errors = fingerprint(batch)
            for i, reason, detail in errors:
                self.stat_update("failed", f"failed:{reason}")
                self.errors.write(mark(batch[i], stage=STAGE, reason=reason, detail=detail), rank)
            out.append(fp, [d.id for d in batch])
            batch.clear()

        try:
            for doc in data or ():
                self.stat_update("in")
                batch.append(doc)
                if len(batch) >= self.batch_docs:
                    flush()
            if batch:
                flush()
        finally:
            self.errors.close()
        out.close()
        return
        yield  # a generator that yields nothing: this pipeline ends here


class DedupBuckets(PipelineStep):
    name = "🪣 dedup buckets"
    type = "🫂 - DEDUP"

    def __init__(self, index: Path, earlier: list[str], checks: Checks, slots: int):
        super().__init__()
        self.index, self.earlier, self.checks, self.slots = Path(index), list(earlier), checks, slots

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        from thresher.dedup.buckets import band_pairs

        ix = IndexSet(Index(self.index), [Index(p) for p in self.earlier])
        for slot in range(rank, self.slots, world_size):
            with self.track_time(unit="band"):
                pairs = band_pairs(ix, slot, self.checks)
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
    name = "🔗 dedup clusters"
    type = "🫂 - DEDUP"

    def __init__(self, index: Path, earlier: list[str], slots: int):
        super().__init__()
        self.index, self.earlier, self.slots = Path(index), list(earlier), slots

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if rank != 0:
            return
        from thresher.dedup.cluster import assign  # scipy.sparse: only this task needs it

        ix = IndexSet(Index(self.index), [Index(p) for p in self.earlier])
        files = [self.index / "pairs" / f"{slot:03d}.npy" for slot in range(self.slots)]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise StageError(f"dedup buckets missing for bands {missing}: the bucket step did not finish")
        with self.track_time():
            counts = assign(ix, files, self.index / "assign")
        for key, value in counts.items():
            self.stat_update(key, value=value)
        return
        yield


class DedupFilter(PipelineStep):
    name = "🧹 dedup filter"
    type = "🫂 - DEDUP"

    def __init__(self, index: Path, removed_folder: Path):
        super().__init__()
        self.index = Path(index)
        self.removed = RecordWriter(removed_folder, always_create=False)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        path = self.index / "assign" / f"{rank_name(rank)}.npz"
        with np.load(path) as z:
            action, survivor_id = z["action"], z["survivor_id"]
        self.removed.open(rank)
        i = -1
        try:
            for i, doc in enumerate(data or ()):
                if i >= action.size:
                    raise StageError(f"rank {rank} reads more records than it fingerprinted ({action.size}): the "
                                     "extract folder changed since; rerun dedup with --force")
                act = int(action[i])
                if act == FAILED_ROW:
                    continue  # already in _errors with its reason
                if act == KEPT_IN_CLUSTER:
                    doc.metadata["cluster_id"] = str(survivor_id[i])
                if act in (EXACT, NEAR):
                    doc.metadata["cluster_id"] = doc.metadata["duplicate_of"] = str(survivor_id[i])
                    mark(doc, stage=STAGE, reason=REASONS[act])
                    self.stat_update(REASONS[act])
                    self.removed.write(doc, rank)
                    continue
                self.stat_update("kept")
                yield doc
        finally:
            self.removed.close()
        if i + 1 != action.size:
            raise StageError(f"rank {rank} read {i + 1} records but fingerprinted {action.size}: the extract folder "
                             "changed since; rerun dedup with --force")
