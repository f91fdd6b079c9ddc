"""The base of every thresher filter: a datatrove `BaseFilter` whose rejected records are tagged.

datatrove's `BaseFilter.run` writes a dropped document to the exclusion writer with only a
`filter_reason` metadata key (not a column of our schema, so it would be lost on disk). Ours marks
the record with `stage="filter"` and `reason="<filter>:<rule>"` first, so `filter/_rejected/` says
which filter and which rule removed each row. A filter also says which records it `applies` to;
the others pass through untouched (an image never meets a text rule).

A subclass sets `rule_prefix` and implements datatrove's `filter(doc) -> bool | (bool, reason)`;
a datatrove filter is wrapped by inheriting from both (`class GopherQuality(ThresherFilter,
GopherQualityFilter)`), so the rules themselves stay datatrove's.
"""

from __future__ import annotations

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.utils.typeshelper import StatHints

from thresher.io import RecordWriter
from thresher.records import mark

STAGE = "filter"


class ThresherFilter(BaseFilter):
    """Subclasses set `rule_prefix` and implement `filter`; optionally narrow `applies`."""

    rule_prefix: str = "filter"

    def applies(self, doc: Document) -> bool:
        return True

    def reject(self, doc: Document, reason: str | None, detail: str | None = None) -> Document:
        """Tag `doc` as rejected by this filter; `reason` is the rule (datatrove's reason string)."""
        return mark(doc, stage=STAGE, reason=f"{self.rule_prefix}:{reason or 'rejected'}", detail=detail)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        # Same loop as BaseFilter.run (batch_size 1), plus `applies` and the reason column.
        # The exclusion writer is shared by every filter of the stage (one `<rank>.parquet` in
        # `_rejected/`), so it is opened and closed by `RejectedWriterScope`, not here.
        writer = self.exclusion_writer
        for doc in data:
            self.stat_update(StatHints.total)
            if not self.applies(doc):
                self.stat_update("not_applicable")
                yield doc
                continue
            detail = None
            with self.track_time():
                try:
                    result = self.filter(doc)
                except Exception as e:  # a rule that cannot read this record rejects it, with why
                    result, detail = (False, "error"), f"{type(e).__name__}: {e}"
            keep, reason = result if isinstance(result, tuple) else (result, None)
            if keep:
                self.stat_update(StatHints.forwarded)
                yield doc
                continue
            self.stat_update(StatHints.dropped)
            self.stat_update(f"dropped_{reason or 'rejected'}")
            self.reject(doc, reason, detail)
            if writer is not None:
                writer.write(doc, rank)


class RejectedWriterScope(PipelineStep):
    """Opens the shared `_rejected` writer before the first filter runs and closes it after the
    last one: put one at the start (`opening=True`) and one after the last filter.

    Opening first also removes a file an interrupted earlier attempt of this rank left behind, even
    when this attempt rejects nothing."""

    type = "🔻 - FILTER"

    def __init__(self, writer: RecordWriter, *, opening: bool):
        super().__init__()
        self.writer = writer
        self.opening = opening
        self.name = "🗑 rejected (open)" if opening else "🗑 rejected (close)"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if self.opening:
            self.writer.open(rank)
            yield from data or ()
            return
        try:
            yield from data or ()
        finally:
            self.writer.close()
