"""What an item is, from its bytes (never its file name).

The magic-number table is the `filetype` library's: pure Python, no libmagic to install, reads
only the first 261 bytes, and knows the image, audio, archive and document signatures we need.
Its guess is then confirmed or refined here: a zip is an EPUB when it holds an EPUB's mimetype or
container, a GIF/PNG/... is trusted by signature (the extractor's parse check decides `corrupt`),
an MP3 without an ID3 header is found by its MPEG frame sync, and anything without a signature is
text when it decodes, otherwise a blob.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import filetype

from thresher.records import Kind

HEAD_BYTES = 64 * 1024  # how much of an item sniffing may look at

_KIND_BY_MIME_PREFIX = {"image/gif": Kind.GIF, "image/": Kind.IMAGE, "audio/midi": Kind.MIDI, "audio/": Kind.AUDIO}
# filetype knows these as images but no decoder here reads them; they stay blobs.
_NOT_DECODABLE_IMAGES = {"image/vnd.dwg", "image/x-xcf", "image/x-canon-cr2", "image/vnd.adobe.photoshop", "image/vnd.ms-photo", "image/jpx", "image/heic", "image/avif"}


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    mime: str


def _is_epub(data: bytes) -> bool:
    # An EPUB's first zip member is the uncompressed file `mimetype` (OCF spec); fall back to
    # opening the central directory for EPUBs written without that convention.
    if data[30:58] == b"mimetypeapplication/epub+zip":
        return True
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError):
        return False
    return "META-INF/container.xml" in names


def _mpeg_frame_sync(head: bytes) -> bool:
    """An MPEG audio frame header: 11 set sync bits, a valid layer and bitrate index."""
    for i in range(min(len(head) - 3, 4096)):
        if head[i] == 0xFF and head[i + 1] & 0xE0 == 0xE0:
            layer = (head[i + 1] >> 1) & 0x3
            bitrate = head[i + 2] >> 4
            if layer != 0 and bitrate not in (0, 15) and (head[i + 2] >> 2) & 0x3 != 3:
                # require a second frame header later on, or random bytes would often match
                return head.count(b"\xff" + bytes([head[i + 1]])) >= 3
    return False


def looks_like_html(text_head: str) -> bool:
    low = text_head.lstrip("\ufeff \t\r\n")[:1024].lower()
    return low.startswith(("<!doctype html", "<html")) or ("<html" in low and "</" in low) or low.startswith("<head")


def _text_mime(head: bytes, name: str) -> str | None:
    """text/html, text/markdown or text/plain when `head` is text, else None."""
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # NULs: binary, unless UTF-16 with a BOM
    try:
        sample = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start >= len(head) - 4:  # a multi-byte character cut by the head limit
            sample = head[: e.start].decode("utf-8")
        else:
            from charset_normalizer import from_bytes

            best = from_bytes(head).best()
            if best is None:
                return None
            sample = str(best)
    if looks_like_html(sample):
        return "text/html"
    if name.lower().endswith((".md", ".markdown")):
        return "text/markdown"
    return "text/plain"


def sniff(data: bytes, name: str = "") -> Sniffed:
    """Kind and mime type of `data`; `name` only picks between text flavours (.md vs .txt).

    >>> sniff(b"%PDF-1.7 ...")
    Sniffed(kind=<Kind.PDF: 'pdf'>, mime='application/pdf')
    """
    if not data:
        return Sniffed(Kind.BLOB, "application/x-empty")
    head = data[:HEAD_BYTES]
    if head[:1024].find(b"%PDF-") != -1:
        return Sniffed(Kind.PDF, "application/pdf")
    guess = filetype.guess(head)
    if guess is not None:
        mime = guess.mime
        if mime in ("application/zip", "application/epub+zip"):
            return Sniffed(Kind.EPUB, "application/epub+zip") if _is_epub(data) else Sniffed(Kind.BLOB, "application/zip")
        if mime in _NOT_DECODABLE_IMAGES:
            return Sniffed(Kind.BLOB, mime)
        for prefix, kind in _KIND_BY_MIME_PREFIX.items():
            if mime.startswith(prefix):
                return Sniffed(kind, mime)
        return Sniffed(Kind.BLOB, mime)
    if data[:4] == b"MThd":
        return Sniffed(Kind.MIDI, "audio/midi")
    text_mime = _text_mime(head, name)
    if text_mime is not None:
        return Sniffed(Kind.TEXT, text_mime)
    if _mpeg_frame_sync(head):
        return Sniffed(Kind.AUDIO, "audio/mpeg")
    return Sniffed(Kind.BLOB, "application/octet-stream")
