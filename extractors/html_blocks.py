"""XHTML of an EPUB chapter -> paragraphs and image references, in document order.

Headings become Markdown headings (`## Title`), block elements (p, li, blockquote, ...) become
paragraphs, inline whitespace is collapsed, scripts and styles are dropped, and each <img> (or SVG
<image>) becomes an image slot carrying its alt text and the <figcaption> of its <figure>. Written
by hand on lxml because trafilatura (our web extractor) drops images and headings that a book needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

BLOCK = {"p", "div", "li", "blockquote", "pre", "section", "article", "figure", "figcaption", "table", "tr", "hr",
         "dd", "dt", "header", "footer", "aside", "ul", "ol", "dl", "body", "main", "address", "caption", "td", "th"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
SKIP = {"script", "style", "head", "title", "template", "noscript"}
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# Plain lxml elements (not lxml.html's, whose class lookup costs a Python call per element). EPUB
# chapters are UTF-8 or UTF-16 (OCF spec); UTF-8 is forced as ebooklib does, a BOM picks UTF-16.
_OPTIONS = dict(no_network=True, remove_comments=True, remove_pis=True)
_PARSER = etree.HTMLParser(encoding="utf-8", **_OPTIONS)
_PARSER_BOM = etree.HTMLParser(**_OPTIONS)
# C0 controls a serialiser would refuse (XML 1.0); a damaged chapter's bytes are full of them
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # on UTF-8 bytes: never inside a character
_LOCAL: dict[str, str] = {}  # tag -> local lower-case name, bounded (a hostile file may invent tags)


@dataclass
class ImageRef:
    src: str
    alt: str | None
    figcaption: str | None


def _local(tag) -> str:
    # the HTML parser keeps prefixes in the name ("svg:image"); the XML parser uses "{ns}image"
    if not isinstance(tag, str):  # comments, processing instructions, entities
        return ""
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()
        if len(_LOCAL) < 4096:
            _LOCAL[tag] = name
    return name


def blocks(content: bytes) -> list[str | ImageRef]:
    """Parse one chapter (bytes of XHTML/HTML) into paragraph strings and ImageRef items in document
    order. The HTML parser loads no DTD and resolves no external entity, so a hostile chapter
    cannot read local files."""
    if not content.strip():
        return []
    if content[:2] in (b"\xff\xfe", b"\xfe\xff") or content[:3] == b"\xef\xbb\xbf":
        parser = _PARSER_BOM
    else:
        parser, content = _PARSER, _CONTROL.sub(b"", content)
    root = etree.fromstring(content, parser=parser)
    if root is None:
        return []
    items: list[str | ImageRef] = []
    inline: list[str] = []  # text of the paragraph being built
    prefix = [""]  # "## " while inside a heading

    def flush() -> None:
        if inline:
            para = " ".join("".join(inline).split())
            inline.clear()
            if para:
                items.append(prefix[0] + para)
        prefix[0] = ""

    def walk(el, figcaption: str | None) -> None:
        tag = _local(el.tag)
        if not tag or tag in SKIP:
            pass
        elif tag == "br":
            inline.append("\n")
        elif tag == "img" or tag == "image":
            src = el.get("src") or el.get("href") or el.get("xlink:href") or el.get(XLINK_HREF)
            if src:
                flush()
                items.append(ImageRef(src, (el.get("alt") or "").strip() or None, figcaption))
        else:
            if tag == "figure":
                cap = next((c for c in el.iter() if _local(c.tag) == "figcaption"), None)
                figcaption = " ".join("".join(cap.itertext()).split()) if cap is not None else None
            block = tag in BLOCK or tag in HEADINGS
            if block:
                flush()
                if tag in HEADINGS:
                    prefix[0] = "#" * HEADINGS[tag] + " "
            text = el.text  # each read of .text/.tail builds a new str: read once
            if text:
                inline.append(text)
            if len(el):
                for child in el:
                    walk(child, figcaption)
            if block:
                flush()
        tail = el.tail
        if tail:
            inline.append(tail)

    body = next(root.iter("body"), root)
    walk(body, None)
    flush()
    return items
