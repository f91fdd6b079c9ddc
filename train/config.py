"""The train stage's settings (the loop; the model's shape is a preset in train/presets.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from thresher.config import Strict
from thresher.errors import ConfigError


class QuietStarConfig(Strict):
    """`train.quiet_star`: a phase after pretraining that teaches the model to think (train/quiet_star.py)."""

    init: str = ""  # checkpoint (file or run folder) to start from; "": the train run's latest
    run: str = "quiet_star"  # outputs go to WORKDIR/train/<train.run>/<run>/
    thought_len: int = Field(8, ge=1)  # sampled tokens between the markers
    n_thoughts: int = Field(2, ge=1)  # thoughts per position; their mean reward is the baseline (1: none)
    n_future: int = Field(4, ge=1)  # true tokens predicted after each thought (teacher-forced)
    every: int = Field(1, ge=1)  # think at every k-th position of a window (bounds the cost)
    reinforce_weight: float = Field(1.0, ge=0)
    nll_weight: float = Field(1.0, ge=0)  # the mixed prediction of the future tokens
    base_weight: float = Field(1.0, ge=0)  # the plain language-model loss
    temperature: float = Field(1.0, gt=0)  # of the thought sampling
    # [start, end]: the token ids whose embeddings <|thought|> / <|/thought|> start from in a fresh phase
    # (the paper: the id of "---" for both); None: the markers' rows as pretrained
    init_markers_from: tuple[int, int] | None = None
    mixer_hidden: int = Field(0, ge=0)  # width of the mixing head's hidden layer (0: d_model)
    steps: int = Field(100, ge=1)
    batch_size: int | None = Field(None, ge=1)  # default: train.batch_size
    lr: float = Field(1e-3, gt=0)
    warmup_steps: int = Field(10, ge=0)
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(0, ge=0)  # held-out loss every this many steps (train.eval_batches batches); 0: at the end
    ckpt_every: int = Field(0, ge=0)  # 0: only at the end


class TrainConfig(Strict):
    """The trainer (train/loop.py); the model shape is a preset (train/presets.py) plus `model` overrides."""

    preset: Literal["tiny", "small", "1b"] = "tiny"
    model: dict[str, Any] = {}  # overrides of the preset's ModelConfig fields, e.g. {n_experts: 16}
    run: str = "run"  # outputs go to WORKDIR/train/<run>/
    steps: int = Field(200, ge=1)  # optimizer steps
    batch_size: int = Field(8, ge=1)  # sequences per micro-batch per process
    grad_accum: int = Field(1, ge=1)  # micro-batches per optimizer step
    seq_len: int | None = Field(None, ge=8)  # default: the preset's
    # [[step, seq_len], ...]: longer sequences from each step on, tokens per step kept (train/data.py
    # Curriculum: batch_size counts rows of the first length); the model is built for the longest
    seq_len_schedule: list[tuple[int, int]] | None = None
    lr: float = Field(3e-3, gt=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # final lr = lr * min_lr_ratio
    warmup_steps: int = Field(20, ge=0)
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    decay_fraction: float = Field(0.2, gt=0, le=1)  # wsd: the last fraction of steps decays linearly
    weight_decay: float = Field(0.1, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = Field(1.0, ge=0)  # 0: no clipping
    seed: int = 0
    log_every: int = Field(10, ge=1)
    eval_every: int = Field(100, ge=0)  # 0: only at the end
    eval_batches: int = Field(8, ge=1)
    ckpt_every: int = Field(100, ge=0)  # 0: only at the end
    keep_checkpoints: int = Field(2, ge=1)
    resume: bool = True  # continue from the run's latest checkpoint if it has one (False: refuse to)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "bf16", "fp32"] = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    compile: bool = False  # torch.compile the model
    threads: int | None = Field(None, ge=1)  # CPU intra-op threads; 1 is fastest on a busy shared machine
    parallel: Literal["ddp", "fsdp"] = "ddp"  # under torchrun with more than one process
    nproc: int = Field(1, ge=1)  # processes per node; > 1: the stage launches torchrun
    # ranks that split each sequence along its length (train/context_parallel.py); divides the processes
    context_parallel: int = Field(1, ge=1)
    # which tokens each of them holds: zigzag (chunks r and 2N - 1 - r of 2N: the same causal attention
    # work on every rank) or contiguous (rank r the r-th N-th: rank N - 1 does N times rank 0's work)
    context_parallel_balance: Literal["zigzag", "contiguous"] = "zigzag"
    sample_tokens: int = Field(64, ge=0)  # after training, sample up to this many tokens into train/<run>/samples/
    quiet_star: QuietStarConfig | None = None  # a Quiet-STaR phase after training (train/quiet_star.py)

    @model_validator(mode="after")
    def _check_seq_len_schedule(self) -> "TrainConfig":
        """A schedule that cannot be cut into rows stops the run when the config loads, not at the train stage."""
        if self.seq_len_schedule:
            if self.seq_len:
                raise ConfigError("train.seq_len and train.seq_len_schedule are both set; the model's seq_len is "
                                  "the schedule's longest, so set only the schedule")
            from thresher.train.data import Curriculum

            Curriculum.build(self.seq_len_schedule, 0, self.batch_size)
        return self
