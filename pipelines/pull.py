"""The pull stage: every source in the config -> raw records in `WORKDIR/pull/`, failures in
`pull/_errors/`. Each rank reads its share of every source's items."""

from __future__ import annotations

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from thresher.config import Config
from thresher.errors import ConfigError
from thresher.io import RecordWriter
from thresher.pipelines.engine import StagePlan
from thresher.pipelines.sources import build_source


class Pull(PipelineStep):
    """All sources one after the other, sharing this rank's error file."""

    name = "📥 pull"
    type = "📥 - SOURCE"

    def __init__(self, cfg: Config):
        super().__init__()
        self.errors = RecordWriter(cfg.work / "pull" / "_errors", always_create=False)
        self.sources = [build_source(s, self.errors) for s in cfg.sources]

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self.errors.open(rank)
        try:
            for source in self.sources:
                for doc in source.run(None, rank, world_size):
                    self.stat_update("pulled")
                    yield doc
                for key, metric in source.stats.stats.items():  # the source's own counts, by source name
                    self.stats.stats[f"{source.source}/{key}"] += metric
        finally:
            self.errors.close()


def plan(cfg: Config) -> StagePlan:
    if not cfg.sources:
        raise ConfigError("sources: the config names no source to pull from")
    out = cfg.work / "pull"
    return StagePlan("pull", [Pull(cfg), RecordWriter(out)], cfg.tasks, out)
