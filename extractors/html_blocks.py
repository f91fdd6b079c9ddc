"""XHTML of an EPUB chapter -> paragraphs and image references, in document order.

Headings become Markdown headings (`## Title`), block elements (p, li, blockquote, ...) become
paragraphs, inline whitespace is collapsed, scripts and styles are dropped, and each <img> (or SVG
<image>) becomes an image slot carrying its alt text and the <figcaption> of its <figure>. Written
by hand on lxml because trafilatura (our web extractor) drops images and headings that a book needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import html

BLOCK = {"p", "div", "li", "blockquote", "pre", "section", "article", "figure", "figcaption", "table", "tr", "hr",
         "dd", "dt", "header", "footer", "aside", "ul", "ol", "dl", "body", "main", "address", "caption", "td", "th"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
SKIP = {"script", "style", "head", "title", "template", "noscript"}
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_PARSER = html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)


@dataclass
class ImageRef:
    src: str
    alt: str | None
    figcaption: str | None


@dataclass
class Blocks:
    """Paragraph strings and ImageRef items in document order."""

    items: list[str | ImageRef] = field(default_factory=list)
    _inline: list[str] = field(default_factory=list)
    _prefix: str = ""

    def text(self, s: str | None) -> None:
        if s:
            self._inline.append(s)

    def flush(self) -> None:
        para = " ".join("".join(self._inline).split())
        if para:
            self.items.append(self._prefix + para)
        self._inline, self._prefix = [], ""

    def image(self, ref: ImageRef) -> None:
        self.flush()
        self.items.append(ref)


def _local(tag) -> str:
    # the HTML parser keeps prefixes in the name ("svg:image"); the XML parser uses "{ns}image"
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower() if isinstance(tag, str) else ""


def _walk(el, out: Blocks, figcaption: str | None) -> None:
    tag = _local(el.tag)
    if tag in SKIP or not tag:  # comments and processing instructions have a non-str tag
        out.text(el.tail)
        return
    if tag == "br":
        out.text("\n")
        out.text(el.tail)
        return
    if tag in ("img", "image"):
        src = el.get("src") or el.get("href") or el.get("xlink:href") or el.get(XLINK_HREF)
        if src:
            out.image(ImageRef(src, (el.get("alt") or "").strip() or None, figcaption))
        out.text(el.tail)
        return
    if tag == "figure":
        cap = next((c for c in el.iter() if _local(c.tag) == "figcaption"), None)
        figcaption = " ".join(cap.text_content().split()) if cap is not None else None
    block = tag in BLOCK or tag in HEADINGS
    if block:
        out.flush()
    if tag in HEADINGS:
        out._prefix = "#" * HEADINGS[tag] + " "
    out.text(el.text)
    for child in el:
        _walk(child, out, figcaption)
    if block:
        out.flush()
    out.text(el.tail)


def blocks(content: bytes) -> list[str | ImageRef]:
    """Parse one chapter (bytes of XHTML/HTML) into paragraphs and images. The HTML parser loads no
    DTD and resolves no external entity, so a hostile chapter cannot read local files."""
    root = html.fromstring(content, parser=_PARSER) if content.strip() else None
    out = Blocks()
    if root is not None:
        body = next(iter(root.iter("body")), root)
        _walk(body, out, None)
        out.flush()
    return out.items
