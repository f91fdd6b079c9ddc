"""The filter stage's steps in order, built from a `FilterConfig` and its preset.

Order: language id first (every record gets `lang`), then the cheap datatrove rules, thresher's
garbage rules, the media rules, and the classifier last (the most expensive, on what is left).
All filters share one exclusion writer, `filter/_rejected/`.
"""

from __future__ import annotations

from datatrove.pipeline.writers.disk_base import DiskWriter

from thresher.config import FilterConfig
from thresher.filters.base import ThresherFilter
from thresher.filters.classifier import QualityClassifierFilter
from thresher.filters.garbage import GarbageFilter
from thresher.filters.langid import LanguageFilter
from thresher.filters.media import MediaFilter
from thresher.filters.presets import PRESETS
from thresher.filters.text import C4Quality, FineWebQuality, GopherQuality, GopherRepetition
from thresher.filters.words import UnicodeWordTokenizer

TEXT_FILTERS = (("gopher_quality", GopherQuality), ("gopher_repetition", GopherRepetition), ("c4", C4Quality),
                ("fineweb", FineWebQuality))


def text_filters(cfg: FilterConfig, writer: DiskWriter | None = None) -> list[ThresherFilter]:
    """datatrove's four text filters and thresher's garbage rules, with the preset's thresholds."""
    preset = PRESETS[cfg.preset]
    tokenizer = UnicodeWordTokenizer()  # one instance: datatrove caches word splits per tokenizer
    steps: list[ThresherFilter] = []
    for name, cls in TEXT_FILTERS:
        rules = getattr(cfg, name).resolved(preset[name])
        if rules.get("enabled", True):
            steps.append(cls(rules, tokenizer, writer))
    rules = cfg.garbage.resolved(preset["garbage"])
    if rules.get("enabled", True):
        steps.append(GarbageFilter(rules, writer))
    return steps


def build_filters(cfg: FilterConfig, writer: DiskWriter | None = None) -> list[ThresherFilter]:
    """Every filter of the stage, in order."""
    steps: list[ThresherFilter] = []
    if cfg.lang.enabled:
        steps.append(LanguageFilter(cfg.lang.allow, cfg.lang.min_score, cfg.lang.max_chars, writer))
    steps += text_filters(cfg, writer)
    rules = cfg.media.resolved(PRESETS[cfg.preset]["media"])
    if rules.get("enabled", True):
        steps.append(MediaFilter(rules, writer))
    if cfg.classifier.model:
        steps.append(QualityClassifierFilter(cfg.classifier.model, cfg.classifier.threshold, writer))
    return steps
