"""The filter stage: records from `dedup/` (a dedup stage turned off passes every record through) ->
`filter/`, with every rejected record in `filter/_rejected/` and `reason` = "<filter>:<rule>", and
every record a filter could not read (or crashed on) in `filter/_errors/` with the exception.

Every record comes out with `lang` and `lang_score` (language id), and with `quality_score` when a
classifier model is configured. Counts add up: rows read = rows in filter/ + filter/_rejected/ +
filter/_errors/. The filters themselves live in thresher.filters (chain.py gives their order).

Before the filter pass, a pre-pass learns from the same input what the rules need from the user's
own corpus (thresher.filters.prepass): each language's function words, saved in
`filter/_function_words/`. It runs when the per-language stop-word rule does and
`filter.learned_words` is on.
"""

from __future__ import annotations

from thresher.filters.chain import build_filters
from thresher.filters.prepass import LEARN_FOLDER, FinishLearning, LearnFromCorpus
from thresher.pipelines.config import Config
from thresher.pipelines.engine import StagePlan
from thresher.pipelines.stages import folder, input_folder

from thresher.io import RecordReader, RecordWriter


def plan(cfg: Config) -> StagePlan:
    src, out = input_folder(cfg, "filter"), folder(cfg, "filter")
    f = cfg.filter
    steps = build_filters(f, out) if f.enabled else []
    main = StagePlan("filter", [RecordReader(src), *steps, RecordWriter(out)], cfg.tasks, out, input=src)
    learns = f.enabled and f.learned_words.enabled and f.gopher_quality.enabled and f.gopher_quality.stop_words == "all"
    if not learns:
        return main
    parts = [
        StagePlan("filter/learn", [RecordReader(src), LearnFromCorpus(f, out)], cfg.tasks, out / LEARN_FOLDER,
                  input=src, counts_input=False),
        StagePlan("filter/learned", [FinishLearning(f, out)], 1, out / LEARN_FOLDER, counts_input=False),
        StagePlan("filter/filter", main.pipeline, cfg.tasks, out, input=src),
    ]
    return StagePlan("filter", [], cfg.tasks, out, input=src, then=parts)
