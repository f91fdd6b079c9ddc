"""Sources: each config `sources:` entry becomes a datatrove reader step emitting raw records."""

from __future__ import annotations

from thresher.config import AnnasArchiveSource, HuggingFaceSource, LocalSource, source_name
from thresher.errors import StageNotBuilt
from thresher.io import RecordWriter
from thresher.pipelines.sources.base import Source


def build_source(cfg: LocalSource | HuggingFaceSource | AnnasArchiveSource, errors: RecordWriter | None) -> Source:
    """The reader step for one source config."""
    name = source_name(cfg)
    if isinstance(cfg, LocalSource):
        from thresher.pipelines.sources.local import LocalSource as LocalReader

        return LocalReader(cfg, name, errors)
    if isinstance(cfg, HuggingFaceSource):
        from thresher.pipelines.sources.huggingface import HuggingFaceSource as HFReader

        reader = HFReader(cfg, name, errors)
        reader.preflight()  # an unreachable hub stops the stage here, with advice, before tasks start
        return reader
    if isinstance(cfg, AnnasArchiveSource):
        from thresher.pipelines.sources.annas_archive import AnnasArchiveSource as AnnasReader

        return AnnasReader(cfg, name, errors)
    raise StageNotBuilt(f"the {cfg.type!r} source is not built yet")
