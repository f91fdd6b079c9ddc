"""EPUB chapter parsing from the chapter's own bytes: encodings, control bytes, junk."""

from __future__ import annotations

from thresher.extractors.html_blocks import ImageRef, blocks


def texts(content: bytes) -> list[str]:
    return [b for b in blocks(content) if isinstance(b, str)]


def test_utf8_without_declaration_and_utf16_with_bom():
    body = "<html><body><h2>Caf\u00e9</h2><p>\u4e2d\u6587 <i>and</i> \u0644\u063a\u0629</p></body></html>"
    assert texts(body.encode("utf-8")) == ["## Caf\u00e9", "\u4e2d\u6587 and \u0644\u063a\u0629"]
    assert texts(body.encode("utf-16")) == ["## Caf\u00e9", "\u4e2d\u6587 and \u0644\u063a\u0629"]  # BOM first
    assert texts(b"\xef\xbb\xbf" + body.encode("utf-8")) == ["## Caf\u00e9", "\u4e2d\u6587 and \u0644\u063a\u0629"]


def test_control_bytes_junk_and_empty_chapters():
    assert texts(b"<p>a\x00b\x01c\x1bd\tz</p>") == ["abcd z"]  # C0 controls dropped, tab is space
    assert blocks(b"") == [] and blocks(b"  \n ") == []
    junk = bytes(range(256)) * 4  # a damaged chapter: no exception, only text without controls
    assert all(not any(ord(ch) < 9 for ch in t) for t in texts(junk))


def test_images_breaks_and_skipped_elements_in_order():
    out = blocks(b"<html><body><p>one<br/>two</p><figure><img src='a.png' alt=' x '/><figcaption>Cap <b>1</b>"
                 b"</figcaption></figure><script>var s;</script><p>after</p><svg:image xlink:href='b.png'/></body></html>")
    assert out[0] == "one two"
    assert out[1] == ImageRef("a.png", "x", "Cap 1") and out[2] == "Cap 1"
    assert out[3] == "after" and out[4] == ImageRef("b.png", None, None)
