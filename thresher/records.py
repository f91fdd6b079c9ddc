"""The record: one explicit, versioned pyarrow schema for every parquet file thresher writes.

In memory a record is a datatrove `Document`; on disk it is a row of `SCHEMA`. The flat columns are
the ones people filter on with polars; everything a stage learns that is not a column goes in the
`metadata` column as a JSON object. Kept, rejected, removed and failed rows share one schema, so
`pl.scan_parquet("WORKDIR/extract/**/*.parquet")` reads outputs and errors together.

Mapping to `Document`:
    text          -> Document.text
    id            -> Document.id
    media         -> Document.media (datatrove `Media`; our per-media facts in `Media.metadata`)
    other columns -> Document.metadata[column]
    metadata JSON -> Document.metadata["extra"] (a dict)
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, Iterable

import orjson
import pyarrow as pa
from datatrove.data import Document, Media, MediaType

SCHEMA_VERSION = 1
# Where an image stood in the text of an interleaved document (PDF, EPUB): the i-th placeholder is
# media[i]. The tokenizer replaces it with the image's tokens.
IMAGE_PLACEHOLDER = "<|image|>"


class Kind(StrEnum):
    """What an item was (sniffed from its bytes, never from its file name)."""

    TEXT = "text"
    IMAGE = "image"
    GIF = "gif"
    AUDIO = "audio"
    MIDI = "midi"
    PDF = "pdf"
    EPUB = "epub"
    BLOB = "blob"


# datatrove's Media.type is an int; ours is the finer `kind` string kept in Media.metadata.
_MEDIA_TYPE = {
    Kind.IMAGE: MediaType.IMAGE,
    Kind.GIF: MediaType.IMAGE,
    Kind.AUDIO: MediaType.AUDIO,
}

MEDIA_STRUCT = pa.struct(
    [
        ("kind", pa.string()),
        ("mime", pa.string()),
        ("bytes", pa.binary()),  # inline content, or null when path/offset/length point at it
        ("path", pa.string()),
        ("offset", pa.int64()),
        ("length", pa.int64()),
        ("alt", pa.string()),
        ("caption", pa.string()),
        ("caption_source", pa.string()),  # sidecar|column|alt|figcaption|synthetic|original
        ("caption_score", pa.float32()),
        ("caption_round", pa.int32()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("n_frames", pa.int32()),
        ("duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
    ]
)
MEDIA_FIELDS = tuple(f.name for f in MEDIA_STRUCT)

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("source", pa.string()),  # the source's name in the config, e.g. "local:corpus"
        ("uri", pa.string()),  # where the item came from: a path, a path#row, hf://..., an md5
        ("text", pa.string()),
        ("lang", pa.string()),
        ("lang_score", pa.float32()),
        ("n_chars", pa.int64()),
        ("mime", pa.string()),
        ("size_bytes", pa.int64()),
        ("encoding", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("n_frames", pa.int32()),
        ("duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
        ("n_pages", pa.int32()),
        ("title", pa.string()),
        ("author", pa.string()),
        ("year", pa.int32()),
        ("md5", pa.string()),
        ("parent_id", pa.string()),  # a segment or archive member points at its original
        ("quality_score", pa.float32()),
        ("cluster_id", pa.string()),
        ("duplicate_of", pa.string()),
        ("flags", pa.list_(pa.string())),  # e.g. needs_ocr, no_metadata, segment
        ("stage", pa.string()),  # set on rejected / removed / failed rows
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("media", pa.list_(MEDIA_STRUCT)),
        ("metadata", pa.string()),  # JSON object with everything else
    ],
    metadata={b"thresher.schema_version": str(SCHEMA_VERSION).encode()},
)
COLUMNS = tuple(SCHEMA.names)
_FLAT = tuple(c for c in COLUMNS if c not in ("id", "text", "media", "metadata"))


def make_id(source: str, uri: str, content: bytes | str = b"") -> str:
    """A stable id from where an item came from and what it holds (the same input gives the same
    id on every run; two copies of one file at two paths get two ids, so dedup can count them).

    >>> make_id("local:corpus", "a.txt", b"hello")
    '2f034c099c74570b5405f15f39daddb1'
    """
    h = hashlib.blake2b(digest_size=16)
    for part in (source, uri):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    h.update(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    return h.hexdigest()


def new_document(
    *, id: str, kind: Kind | str, source: str, uri: str, text: str = "", media: Iterable[Media] = (), **columns: Any
) -> Document:
    """Build a Document whose metadata holds the flat columns; unknown keys go to `extra`."""
    meta: dict[str, Any] = {"kind": str(kind), "source": source, "uri": uri}
    extra = columns.pop("extra", None) or {}
    for key, value in columns.items():
        if key in _FLAT:
            meta[key] = value
        else:
            extra[key] = value
    if extra:
        meta["extra"] = extra
    return Document(text=text, id=id, media=list(media), metadata=meta)


def new_media(kind: Kind | str, *, data: bytes | None = None, path: str | None = None, **facts: Any) -> Media:
    """A media item: inline bytes, or a path with optional offset/length for large content."""
    unknown = set(facts) - set(MEDIA_FIELDS)
    if unknown:
        raise KeyError(f"unknown media fields {sorted(unknown)}; known: {MEDIA_FIELDS}")
    return Media(
        id="",
        type=_MEDIA_TYPE.get(Kind(kind), MediaType.DOCUMENT),
        url=path or "",
        alt=facts.pop("alt", None),
        path=path,
        offset=facts.pop("offset", None),
        length=facts.pop("length", None),
        media_bytes=data,
        metadata={"kind": str(kind), **facts},
    )


def media_bytes(media: Media) -> bytes:
    """The content of a media item, reading path/offset/length when it is not inline."""
    if media.media_bytes is not None:
        return media.media_bytes
    if not media.path:
        raise ValueError("media has neither bytes nor a path")
    import fsspec

    with fsspec.open(media.path, "rb") as f:
        if media.offset:
            f.seek(media.offset)
        return f.read(media.length if media.length is not None else -1)


def _media_to_struct(m: Media) -> dict[str, Any]:
    row = {name: m.metadata.get(name) for name in MEDIA_FIELDS}
    row.update(bytes=m.media_bytes, path=m.path, offset=m.offset, length=m.length, alt=m.alt)
    return row


def _struct_to_media(s: dict[str, Any]) -> Media:
    facts = {k: v for k, v in s.items() if k not in ("bytes", "path", "offset", "length", "alt", "kind") and v is not None}
    return new_media(
        s.get("kind") or Kind.BLOB,
        data=s.get("bytes"),
        path=s.get("path"),
        offset=s.get("offset"),
        length=s.get("length"),
        alt=s.get("alt"),
        **facts,
    )


def document_to_row(doc: Document) -> dict[str, Any]:
    """Document -> one row of SCHEMA (a dict); n_chars is filled from the text."""
    meta = doc.metadata
    row: dict[str, Any] = {c: meta.get(c) for c in _FLAT}
    row["id"] = doc.id
    row["text"] = doc.text
    row["n_chars"] = len(doc.text) if doc.text is not None else 0
    row["media"] = [_media_to_struct(m) for m in doc.media]
    extra = meta.get("extra")
    row["metadata"] = orjson.dumps(extra, default=str).decode() if extra else None
    return row


def row_to_document(row: dict[str, Any]) -> Document:
    """One row of SCHEMA -> Document (inverse of `document_to_row`)."""
    meta = {c: row[c] for c in _FLAT if row.get(c) is not None}
    if row.get("metadata"):
        meta["extra"] = orjson.loads(row["metadata"])
    media = [_struct_to_media(s) for s in row.get("media") or []]
    return Document(text=row.get("text") or "", id=row["id"], media=media, metadata=meta)


def to_table(docs: Iterable[Document]) -> pa.Table:
    return pa.Table.from_pylist([document_to_row(d) for d in docs], schema=SCHEMA)


DETAIL_CHARS = 2000  # a side record's `detail` is cut to this many characters


def mark(doc: Document, *, stage: str, reason: str, detail: str | None = None) -> Document:
    """Tag a record as rejected / removed / failed by `stage` for `reason` (in place, returned)."""
    doc.metadata["stage"] = stage
    doc.metadata["reason"] = reason
    if detail is not None:
        doc.metadata["detail"] = detail[:DETAIL_CHARS]
    return doc
