"""The one base class of a thresher step, and the side writers every stage shares.

A step reads records and yields records. What it does not yield it accounts for in a side folder of
its stage, written as parquet of the record schema with `stage`, `reason` and `detail`:

    side="errors"    STAGE/_errors/    the record could not be processed (bad input, or a bug)
    side="rejected"  STAGE/_rejected/  a filter judged it garbage
    side="removed"   STAGE/_removed/   dedup removed it as a duplicate

A subclass implements `process(doc)` (or `process_batch(docs)` when it works on batches) and calls
`reject` / `remove` for what it drops. Whatever it raises lands on the record in `_errors`:
`RecordError(reason, detail)` with its reason, anything else as `internal_error` with the exception
(a crash is a bug, and the audit must not count it as garbage). A `StageError` is about the stage,
not the record, and stops the task.

The side writers are context-managed per rank by `RecordStep.run` (datatrove's BaseFilter keeps its
exclusion writer the same way). Several steps of one pipeline write to one side folder and rank
(every filter of the filter stage writes `filter/_rejected/00000.parquet`): they share one writer,
opened by the first step that enters and closed, renamed into place, when the last one leaves.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from typing import Callable, Iterable, Iterator, Literal

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from thresher.arrow import set_column, strings
from thresher.errors import RecordError, StageError
from thresher.io import RecordWriter
from thresher.records import DETAIL_CHARS, mark

Side = Literal["errors", "rejected", "removed"]
SIDE_FOLDERS: dict[str, str] = {"errors": "_errors", "rejected": "_rejected", "removed": "_removed"}
_STATS: dict[str, str] = {"errors": "failed", "rejected": "rejected", "removed": "removed"}  # a side's counter

class SideNotDeclared(AssertionError):
    """A step wrote to a side folder it does not declare in `sides` (a bug in the step, raised, never
    recorded on the record)."""


# (side folder, rank) -> [writer, steps holding it]; per process, never pickled
_OPEN: dict[tuple[str, int], list] = {}


@contextlib.contextmanager
def side_writer(folder: str, rank: int) -> Iterator[RecordWriter]:
    """The shared writer of `folder` for `rank`: opened (stale files of an interrupted attempt
    removed) by the first holder, closed and renamed into place when the last holder leaves."""
    key = (folder, rank)
    entry = _OPEN.get(key)
    if entry is None:
        writer = RecordWriter(folder, always_create=False)
        writer.open(rank)
        entry = _OPEN[key] = [writer, 0]
    entry[1] += 1
    try:
        yield entry[0]
    finally:
        entry[1] -= 1
        if entry[1] == 0:
            del _OPEN[key]
            entry[0].close()


class RecordStep(PipelineStep):
    """Subclasses set `stage` and `sides`, and implement `process` (or `process_batch`).

    `folder` is the stage's output folder (WORKDIR/<stage>); the side writers go under it. With
    `folder=None` (a step used outside a stage, in a test or a benchmark) side records are only
    counted and tagged.
    """

    stage: str = "step"
    sides: tuple[Side, ...] = ("errors",)
    batch_size: int = 1  # > 1: records reach `process_batch` in lists of this many
    type = "🧰 - STEP"

    def __init__(self, folder: str | os.PathLike | None = None):
        # PipelineStep's, not super(): a filter also inherits a datatrove filter whose __init__
        # (next in its MRO) would be called again without its thresholds
        PipelineStep.__init__(self)
        self.folder = os.fspath(folder) if folder is not None else None
        self._writers: dict[str, RecordWriter] = {}
        self._held = 0  # nesting depth of side_writers()
        self.rank = 0

    # ------------------------------------------------------------ what a subclass implements

    def process(self, doc: Document) -> Document | Iterable[Document] | None:
        """Return the record (changed in place or new), several records, or None when it was
        sent to a side folder. Raise RecordError for bad input."""
        raise NotImplementedError(f"{type(self).__name__} implements neither process nor process_batch")

    def process_batch(self, docs: list[Document]) -> Iterable[Document]:
        """Records out for a batch of records in (default: `process` on each). When it raises, the
        batch is processed again record by record, so the error lands on the record that caused it."""
        for doc in docs:
            yield from self._one(doc)

    def setup(self, rank: int, world_size: int) -> None:
        """Per-rank set-up in the worker process (models, index files), before the first record."""

    def teardown(self) -> None:
        """Per-rank clean-up after the last record, even when the task fails."""

    def batch_ready(self, batch: list[Document]) -> bool:
        return len(batch) >= self.batch_size

    # ------------------------------------------------------------ accounting

    def fail(self, doc: Document, reason: str, detail: str = "") -> None:
        """Send `doc` to `_errors` with its stage and reason."""
        self.stat_update("failed", f"failed:{reason}")
        self._side("errors", mark(doc, stage=self.stage, reason=reason, detail=detail))

    def reject(self, doc: Document, reason: str, detail: str | None = None) -> None:
        """Send `doc` to `_rejected` (a filter's verdict)."""
        self.stat_update("rejected", f"rejected:{reason}")
        self._side("rejected", mark(doc, stage=self.stage, reason=reason, detail=detail))

    def remove(self, doc: Document, reason: str, detail: str | None = None) -> None:
        """Send `doc` to `_removed` (a duplicate)."""
        self.stat_update("removed", f"removed:{reason}")
        self._side("removed", mark(doc, stage=self.stage, reason=reason, detail=detail))

    def _side(self, side: str, doc: Document) -> None:
        writer = self._side_writer(side)
        if writer is not None:
            writer.write(doc, self.rank)

    def _side_writer(self, side: str) -> RecordWriter | None:
        if side not in self.sides:
            raise SideNotDeclared(f"{type(self).__name__} declares sides {self.sides}, not {side!r}")
        return self._writers.get(side)

    def side_batch(self, side: Side, batch: pa.RecordBatch, reasons: list[str], details: list[str] | None = None) -> None:
        """`fail` / `reject` / `remove` for the rows of an arrow batch at once (a columnar step's):
        each row gets this stage and its reason (and detail), and is counted as those do."""
        if len(reasons) != batch.num_rows or (details is not None and len(details) != batch.num_rows):
            raise ValueError(f"{batch.num_rows} rows need as many reasons (got {len(reasons)}) and details")
        stat = _STATS[side]
        for reason, count in Counter(reasons).items():
            self.stat_update(stat, f"{stat}:{reason}", value=count)
        writer = self._side_writer(side)
        if writer is None:
            return
        marks = {"stage": [self.stage] * batch.num_rows, "reason": reasons}
        if details is not None:
            marks["detail"] = [d[:DETAIL_CHARS] for d in details]
        for column, values in marks.items():
            batch = set_column(batch, column, strings(values))
        writer.write_batch(batch, self.rank)

    @contextlib.contextmanager
    def side_writers(self, rank: int) -> Iterator[None]:
        """Hold this step's side writers for `rank` (what `run` does around the records); nested
        holds of one step share the writers."""
        if self._held:
            self._held += 1
            try:
                yield
            finally:
                self._held -= 1
            return
        self.rank, self._held = rank, 1
        with contextlib.ExitStack() as stack:
            if self.folder is not None:
                for side in self.sides:
                    folder = os.path.join(self.folder, SIDE_FOLDERS[side])
                    self._writers[side] = stack.enter_context(side_writer(folder, rank))
            try:
                yield
            finally:
                self._writers, self._held = {}, 0

    # ------------------------------------------------------------ the loop

    def _guarded(self, doc: Document, work: Callable[[], list[Document]]) -> list[Document]:
        """`work()`'s records; what it raises lands on `doc` in `_errors` (a RecordError with its
        reason, anything else as internal_error: a crash on one record is a bug, but it must not
        lose the run). A StageError stops the task."""
        try:
            return work()
        except (StageError, SideNotDeclared, KeyboardInterrupt):
            raise
        except RecordError as e:
            self.fail(doc, e.reason, e.detail)
        except Exception as e:
            self.fail(doc, "internal_error", f"{type(e).__name__}: {e}")
        return []

    def _one(self, doc: Document) -> list[Document]:
        def work() -> list[Document]:
            out = self.process(doc)
            # materialised here, so that a generator's error lands on this record
            return [out] if isinstance(out, Document) else list(out or ())

        return self._guarded(doc, work)

    def _batch(self, docs: list[Document]) -> list[Document]:
        if len(docs) == 1:
            return self._guarded(docs[0], lambda: list(self.process_batch(docs)))
        try:
            return list(self.process_batch(docs))
        except (StageError, SideNotDeclared, KeyboardInterrupt):
            raise
        except Exception:  # again record by record, so the error lands on the record that caused it
            return [out for doc in docs for out in self._guarded(doc, lambda d=doc: list(self.process_batch([d])))]

    def records(self, data: DocumentsPipeline) -> Iterator[Document]:
        """The loop over the records, inside the side writers (for a subclass that overrides run)."""
        per_record = self.batch_size == 1 and type(self).process_batch is RecordStep.process_batch
        batch: list[Document] = []
        for doc in data or ():
            self.stat_update("in")
            if per_record:
                with self.track_time():
                    out = self._one(doc)
            else:
                batch.append(doc)
                if not self.batch_ready(batch):
                    continue
                with self.track_time(unit="batch"):
                    out, batch = self._batch(batch), []
            yield from self._counted(out)
        if batch:
            with self.track_time(unit="batch"):
                out = self._batch(batch)
            yield from self._counted(out)

    def _counted(self, out: list[Document]) -> Iterator[Document]:
        for item in out:
            self.stat_update("out")
            yield item

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.side_writers(rank):
            self.setup(rank, world_size)
            try:
                yield from self.records(data)
            finally:
                self.teardown()
