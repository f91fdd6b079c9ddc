"""The extract stage: raw records from `pull/` -> clean records of the schema in `extract/`.

The kind is sniffed again from the bytes (the pull only looked at the head), the extractor for that
kind fills the record, and anything it cannot use goes to `extract/_errors/` with a reason. Counts
add up: rows in pull = rows in extract + rows in extract/_errors (an extractor that splits one item
into several records, such as an archive, says so in `parent_id`).
"""

from __future__ import annotations

from typing import Iterable

from datatrove.data import Document

from thresher.config import Config, ExtractConfig
from thresher.errors import RecordError
from thresher.extractors.sniff import sniff
from thresher.io import RecordReader, RecordWriter
from thresher.pipelines.engine import StagePlan
from thresher.records import Kind, media_bytes
from thresher.steps import RecordStep


class Extract(RecordStep):
    stage = "extract"
    name = "🔎 extract"

    def __init__(self, cfg: ExtractConfig, errors_folder):
        super().__init__(errors_folder)
        self.cfg = cfg
        self._extractors = None

    @property
    def extractors(self):
        if self._extractors is None:  # built in the worker, not pickled from the parent
            from thresher.extractors import registry

            self._extractors = registry(html_main_text=self.cfg.html_main_text, min_chars=self.cfg.min_chars,
                                        max_text_bytes=self.cfg.max_text_bytes)
        return self._extractors

    def process(self, doc: Document) -> Document | Iterable[Document]:
        if not doc.media:  # a table row: the text is already there
            return self.extractors[Kind.TEXT].finish(doc, doc.text, mime=doc.metadata.get("mime") or "text/plain")
        try:
            data = media_bytes(doc.media[0])
        except OSError as e:
            raise RecordError("unreadable", f"{type(e).__name__}: {e}") from None
        if not data:
            raise RecordError("empty", "zero-length file")
        found = sniff(data, doc.metadata.get("uri") or "")
        doc.metadata.update(kind=str(found.kind), mime=found.mime)
        extractor = self.extractors.get(found.kind)
        if extractor is None:
            raise RecordError("no_extractor", f"no extractor for kind {found.kind} ({found.mime}) is built yet")
        self.stat_update(f"kind:{found.kind}")
        return extractor.extract(doc, data, found.mime)


def plan(cfg: Config) -> StagePlan:
    src, out = cfg.work / "pull", cfg.work / "extract"
    return StagePlan("extract", [RecordReader(src), Extract(cfg.extract, out / "_errors"), RecordWriter(out)],
                     cfg.tasks, out, input=src)
