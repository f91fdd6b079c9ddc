"""Raw record -> extracted records: read the bytes, sniff the kind, hand them to that kind's extractor.

The same function runs in the isolated worker (extractors/isolate.py) and, with `isolate: false`,
in the stage process. Archive members come back through `route_member`, which turns a member's
failure into a marked record instead of failing the whole archive.
"""

from __future__ import annotations

from typing import Mapping

from datatrove.data import Document

from thresher.errors import RecordError
from thresher.extractors.base import Extractor
from thresher.extractors.sniff import sniff
from thresher.records import Kind, mark, media_bytes

STAGE = "extract"


def extract_record(doc: Document, extractors: Mapping[Kind, Extractor]) -> list[Document]:
    """Extract one pulled record; raises RecordError for the record itself. Records in the result
    that carry a `reason` are failed members (of an archive) that belong in the errors folder."""
    if not doc.media:  # a table row: the text is already there
        return [extractors[Kind.TEXT].finish(doc, doc.text, mime=doc.metadata.get("mime") or "text/plain")]
    try:
        data = media_bytes(doc.media[0])
    except OSError as e:
        raise RecordError("unreadable", f"{type(e).__name__}: {e}") from None
    return extract_bytes(doc, data, extractors, 0)


def extract_bytes(doc: Document, data: bytes, extractors: Mapping[Kind, Extractor], depth: int) -> list[Document]:
    if not data:
        raise RecordError("empty", "zero-length file")
    found = sniff(data, doc.metadata.get("uri") or "")
    doc.metadata.update(kind=str(found.kind), mime=found.mime)
    extractor = extractors.get(found.kind)
    if extractor is None:
        raise RecordError("no_extractor", f"no extractor for kind {found.kind} ({found.mime})")
    if found.kind == Kind.BLOB:
        out = extractor.extract(doc, data, found.mime, depth=depth)
    else:
        out = extractor.extract(doc, data, found.mime)
    return [out] if isinstance(out, Document) else list(out)


def route_member(doc: Document, data: bytes, depth: int, extractors: Mapping[Kind, Extractor]) -> list[Document]:
    """An archive member: its records, or itself marked with the reason it failed."""
    try:
        return extract_bytes(doc, data, extractors, depth)
    except RecordError as e:
        doc.media = []  # do not carry the member's raw bytes into the errors folder
        return [mark(doc, stage=STAGE, reason=e.reason, detail=e.detail)]
