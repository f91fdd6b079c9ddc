"""One extractor per kind; `registry` maps each kind to the extractor that handles it."""

from __future__ import annotations

from thresher.extractors.base import Extractor
from thresher.extractors.text import TextExtractor
from thresher.records import Kind


def registry(**options) -> dict[Kind, Extractor]:
    """The extractors that exist, by kind; a kind missing here has no extractor yet."""
    text = TextExtractor(**options)
    return {kind: ex for ex in (text,) for kind in ex.kinds}
