"""The filter stage's steps in order, built from a `FilterConfig`.

Order: language id first (every record gets `lang`), then the cheap datatrove rules, thresher's
garbage rules, the media rules, and the classifier last (the most expensive, on what is left).
All filters share the stage's side files, `filter/_rejected/` and `filter/_errors/`.
"""

from __future__ import annotations

import os

from thresher.filters.base import ThresherFilter
from thresher.filters.classifier import QualityClassifierFilter
from thresher.filters.config import FilterConfig
from thresher.filters.garbage import GarbageFilter
from thresher.filters.langid import LanguageFilter
from thresher.filters.media import MediaFilter
from thresher.filters.text import (
    C4Quality,
    FineWebQuality,
    GopherQuality,
    GopherRepetition,
)
from thresher.filters.words import UnicodeWordTokenizer

TEXT_FILTERS = (("gopher_quality", GopherQuality), ("gopher_repetition", GopherRepetition), ("c4", C4Quality),
                ("fineweb", FineWebQuality))

Folder = str | os.PathLike | None
Learned = dict[str, frozenset[str]] | None


def text_filters(cfg: FilterConfig, folder: Folder = None, learned: Learned = None) -> list[ThresherFilter]:
    """datatrove's four text filters and thresher's garbage rules, with the config's thresholds.
    `learned`: corpus-learned function words per language (default: what the stage's pre-pass saved
    under `folder`, none without a folder)."""
    tokenizer = UnicodeWordTokenizer()  # one instance: datatrove caches word splits per tokenizer
    steps: list[ThresherFilter] = []
    for name, cls in TEXT_FILTERS:
        rules = getattr(cfg, name)
        if rules.enabled:
            steps.append(cls(rules, tokenizer, folder, learned) if cls is GopherQuality else cls(rules, tokenizer, folder))
    if cfg.garbage.enabled:
        steps.append(GarbageFilter(cfg.garbage, folder))
    return steps


def build_filters(cfg: FilterConfig, folder: Folder = None, learned: Learned = None) -> list[ThresherFilter]:
    """Every filter of the stage, in order; `folder` is the stage's (WORKDIR/filter)."""
    steps: list[ThresherFilter] = []
    if cfg.lang.enabled:
        steps.append(LanguageFilter(cfg.lang.allow, cfg.lang.min_score, cfg.lang.max_chars, folder))
    steps += text_filters(cfg, folder, learned)
    if cfg.media.enabled:
        steps.append(MediaFilter(cfg.media, folder))
    if cfg.classifier.model:
        steps.append(QualityClassifierFilter(cfg.classifier.model, cfg.classifier.threshold, folder))
    return steps
