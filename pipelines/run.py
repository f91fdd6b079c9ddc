"""Running stages in order (`thresher run`, one stage subcommand, `thresher demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from thresher.config import Config, load_config, save_config
from thresher.pipelines.engine import StageResult, reset_stage, run_plan
from thresher.pipelines.stages import ORDER, is_built, plan_stage

CONFIGS = Path(__file__).parent / "configs"


def run_stages(cfg: Config, stages: list[str], *, force: bool = False, echo: Callable[[str], None] = print) -> list[StageResult]:
    """Run `stages` (in pipeline order) and return their summaries; a StageError stops the run."""
    save_config(cfg, cfg.work / "_logs" / "config.yaml")
    results, previous = [], None
    for stage in sorted(stages, key=ORDER.index):
        plan = plan_stage(cfg, stage)
        if force:
            reset_stage(cfg, plan)
        result, previous = run_plan(cfg, plan, depends=previous)
        echo(result.line())
        results.append(result)
    return results


def demo_config(workdir: Path, overrides: list[str] = ()) -> Config:
    workdir = Path(workdir)
    srcs = workdir / "sources"
    base = [f"workdir={workdir}", f"sources.0.path={workdir / 'corpus'}", f"sources.1.dataset={srcs / 'hf'}",
            f"sources.2.metadata=[{srcs / 'annas/meta/*.zst'}]", f"sources.2.elasticsearch=[{srcs / 'annas/es/*.json.gz'}]",
            f"sources.2.files=[{srcs / 'annas/files'}]"]
    return load_config(CONFIGS / "demo.yaml", base + list(overrides))


def run_demo(workdir: Path, *, size: str = "demo", seed: int = 0, overrides: list[str] = (),
             echo: Callable[[str], None] = print) -> list[StageResult]:
    """Generate the demo corpus into WORKDIR/corpus (once) and run every stage that is built."""
    from thresher.pipelines.demo import generate

    workdir = Path(workdir)
    corpus = workdir / "corpus"
    if not corpus.is_dir():
        echo(f"demo: writing the {size} demo corpus to {corpus}")
        generate(corpus, size=size, seed=seed)
    if not (workdir / "sources").is_dir():  # the Hugging Face and Anna's Archive demo inputs
        from thresher.pipelines.demo_sources import write_demo_sources

        write_demo_sources(workdir / "sources", corpus, seed=seed)
    cfg = demo_config(workdir, overrides)
    stages = [s for s in ORDER if is_built(s)]
    return run_stages(cfg, stages, echo=echo)
