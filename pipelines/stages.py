"""The stages in order, and the module that plans each (DESIGN.md, "Stages and the work folder")."""

from __future__ import annotations

import importlib

from thresher.config import Config
from thresher.errors import StageNotBuilt
from thresher.pipelines.engine import StagePlan

ORDER = ("pull", "extract", "dedup", "filter", "tokenizer", "caption", "shard", "train")

# stage -> module under thresher.pipelines with `plan(cfg) -> StagePlan`; a stage missing here is
# not built yet, and asking for it is an error rather than a silent no-op.
BUILT = {
    "pull": "thresher.pipelines.pull",
    "extract": "thresher.pipelines.extract",
    "dedup": "thresher.pipelines.dedup",
    "filter": "thresher.pipelines.filter",
    "tokenizer": "thresher.pipelines.tokenizer",
    "caption": "thresher.pipelines.caption",
    "shard": "thresher.pipelines.shard",
    "train": "thresher.pipelines.train",
}


def is_built(stage: str) -> bool:
    return stage in BUILT


def plan_stage(cfg: Config, stage: str) -> StagePlan:
    if stage not in ORDER:
        raise StageNotBuilt(f"unknown stage {stage!r}; the stages are {', '.join(ORDER)}")
    if stage not in BUILT:
        raise StageNotBuilt(f"the {stage} stage is not built yet (built: {', '.join(BUILT)})")
    return importlib.import_module(BUILT[stage]).plan(cfg)
