"""The filter stage: records from `dedup/` (or `extract/` when there is no dedup stage output) ->
`filter/`, with every rejected record in `filter/_rejected/` and `reason` = "<filter>:<rule>".

Every record comes out with `lang` and `lang_score` (language id), and with `quality_score` when a
classifier model is configured. Counts add up: rows read = rows in filter/ + rows in
filter/_rejected/. The filters themselves live in thresher.filters (chain.py gives their order).
"""

from __future__ import annotations

from thresher.config import Config
from thresher.filters.base import RejectedWriterScope
from thresher.filters.chain import build_filters
from thresher.io import RecordReader, RecordWriter
from thresher.pipelines.engine import StagePlan


def plan(cfg: Config) -> StagePlan:
    src = cfg.work / "dedup" if (cfg.work / "dedup").is_dir() else cfg.work / "extract"
    out = cfg.work / "filter"
    rejected = RecordWriter(out / "_rejected", always_create=False)
    steps = build_filters(cfg.filter, rejected) if cfg.filter.enabled else []
    pipeline = [RecordReader(src), RejectedWriterScope(rejected, opening=True), *steps,
                RejectedWriterScope(rejected, opening=False), RecordWriter(out)]
    return StagePlan("filter", pipeline, cfg.tasks, out, input=src)
