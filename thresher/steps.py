"""The base class of a thresher step: one record in, zero or more records out.

A subclass implements `process(doc)`; it raises `RecordError(reason, detail)` for bad input. The
base class counts what went in and out, and writes every failed record to the side folder (for
example `extract/_errors/`) with `stage`, `reason` and `detail`, so nothing is silently lost and a
bad record never stops the run.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Iterable

from datatrove.data import Document, DocumentsPipeline
from datatrove.io import DataFolderLike
from datatrove.pipeline.base import PipelineStep

from thresher.errors import RecordError
from thresher.io import RecordWriter
from thresher.records import mark


class RecordStep(PipelineStep):
    """Subclasses set `stage` and implement `process`."""

    stage: str = "step"
    type = "🧰 - STEP"

    def __init__(self, errors_folder: DataFolderLike | None = None):
        super().__init__()
        self.errors = RecordWriter(errors_folder, always_create=False) if errors_folder is not None else None

    @abstractmethod
    def process(self, doc: Document) -> Document | Iterable[Document] | None:
        """Return the record (changed in place or new), several records, or None to drop it
        (only for records accounted for elsewhere). Raise RecordError for bad input."""

    def fail(self, doc: Document, reason: str, detail: str = "", rank: int = 0) -> None:
        """Write `doc` to the errors folder with its stage and reason."""
        self.stat_update("failed", f"failed:{reason}")
        mark(doc, stage=self.stage, reason=reason, detail=detail)
        if self.errors is not None:
            self.errors.write(doc, rank)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self.errors is not None:
            self.errors.open(rank)
        try:
            for doc in data or ():
                self.stat_update("in")
                with self.track_time():
                    try:
                        out = self.process(doc)
                        # materialise a generator here so that its errors land on this record
                        out = [out] if isinstance(out, Document) else list(out or ())
                    except RecordError as e:
                        self.fail(doc, e.reason, e.detail, rank)
                        continue
                    except Exception as e:  # a crash on one record is a bug, but it must not lose the run
                        self.fail(doc, "internal_error", f"{type(e).__name__}: {e}", rank)
                        continue
                for item in out:
                    self.stat_update("out")
                    yield item
        finally:
            if self.errors is not None:
                self.errors.close()
