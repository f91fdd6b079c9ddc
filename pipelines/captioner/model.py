"""The captioner: the project's Transformer (train/model.py) with a loss on caption tokens only.

Why not `train.loop.train`: that loop trains on packed shard windows and scores every token. A
captioner must score only the caption given the image (the image codes are 85-95 % of a row), and the
lm_head is the largest matmul of a small model, so it is applied only where a target is. This module
keeps the project's model, presets, optimizer and schedule (`build_optimizer`) and MoE balancing
(`update_bias`) and adds that loss, over in-memory pairs.

Saved as one file per round, `caption/_model/round{r}.pt`: format version, the model config, the
captioner layout, the vocabulary fingerprint, a key of the settings that shaped it, the weights and
the training losses. Written to a temporary name and renamed; `load` checks all of it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from thresher.config import CaptionConfig, TrainConfig
from thresher.errors import StageError
from thresher.pipelines.captioner.sequences import Layout, image_rows, null_codes
from thresher.train.attention import DocMask, rope_tables
from thresher.train.model import IGNORE, Transformer
from thresher.train.moe import update_bias
from thresher.train.optim import build_optimizer
from thresher.train.presets import build_config, from_dict

FORMAT_VERSION = 1


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise StageError("caption.device is cuda but no CUDA device is visible; set caption.device=cpu")
    return torch.device(name)


class Captioner:
    def __init__(self, lay: Layout, cc: CaptionConfig, device: torch.device, model_config: dict | None = None):
        self.lay, self.device = lay, device
        if model_config is None:
            seq = lay.prefix_len + cc.max_caption_tokens + 2
            mcfg = build_config(cc.preset, lay.vocab_size, {"seq_len": seq, **cc.model})
        else:
            mcfg = from_dict(model_config)
        # eos_id None: every row is one document, padded at its end (causal attention needs no mask)
        self.model = Transformer(mcfg, eos_id=None).to(device)

    @property
    def cfg(self):
        return self.model.cfg

    def hidden(self, x_BT: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final hidden states (B, T, D) and the routers' auxiliary loss: `Transformer.forward`
        without the lm_head (an adapter: the model has no public method for it yet)."""
        m = self.model
        B, T = x_BT.shape
        cos, sin = rope_tables(m.cfg, T, x_BT.device)  # (T, K/2): every row starts at position 0
        cos, sin = cos.expand(B, T, -1), sin.expand(B, T, -1)
        h = m.embed(x_BT)
        aux = h.new_zeros((), dtype=torch.float32)
        for block in m.blocks:
            h, a = block(h, cos, sin, DocMask())
            if a is not None:
                aux = aux + a
        return m.norm(h), aux

    def target_logprobs(self, x_BT: torch.Tensor, y_BT: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(target) for every scored slot, as a (B, T) tensor (0 where IGNORE), and the aux loss."""
        h, aux = self.hidden(x_BT.to(self.device))
        y = y_BT.to(self.device)
        where = y != IGNORE
        logits = self.model.lm_head(h[where]).float()  # (N, V): only the scored slots
        lp = torch.zeros(y.shape, device=self.device)
        lp[where] = -F.cross_entropy(logits, y[where], reduction="none")
        return lp, aux

    def loss(self, x_BT: torch.Tensor, y_BT: torch.Tensor) -> tuple[torch.Tensor, int]:
        lp, aux = self.target_logprobs(x_BT, y_BT)
        n = int((y_BT != IGNORE).sum())
        return -lp.sum() / max(n, 1) + aux, n

    def save(self, path: Path, meta: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        blob = {"format_version": FORMAT_VERSION, "model_config": asdict(self.cfg), "layout": asdict(self.lay),
                "model": self.model.state_dict(), **meta}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(blob, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, cc: CaptionConfig, device: torch.device, fingerprint: str, key: str) -> "Captioner":
        """Load a saved round; StageError if it is from another format, vocabulary or settings."""
        try:
            blob = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # a truncated or foreign file: say which and what to do
            raise StageError(f"cannot read captioner {path}: {type(e).__name__}: {e}; remove it to retrain") from None
        if not isinstance(blob, dict) or blob.get("format_version") != FORMAT_VERSION:
            raise StageError(f"{path} is not a captioner of format version {FORMAT_VERSION}; remove it to retrain")
        if blob.get("fingerprint") != fingerprint or blob.get("key") != key:
            raise StageError(f"{path} was trained with another vocabulary or caption settings; remove it to retrain")
        cap = cls(Layout(**blob["layout"]), cc, device, blob["model_config"])
        cap.model.load_state_dict(blob["model"])
        cap.model.eval()
        cap.meta = {k: v for k, v in blob.items() if k not in ("model",)}
        return cap


def fit(cap: Captioner, codes: list[np.ndarray], captions: list[list[int]], cc: CaptionConfig,
        echo: Callable[[str], None] = lambda _: None) -> dict:
    """Train on (image codes, caption tokens) pairs for `cc.steps` AdamW steps; returns the losses.

    Each step draws `cc.batch_size` pairs (a seeded permutation per epoch); a `cc.null_image` share of
    them is also shown with the image blanked (the text-only baseline)."""
    if not captions:
        raise StageError("the caption stage found no image with a caption to train on; add captioned "
                         "images (sidecar .txt files, alt text, a caption column) or set caption.enabled=false")
    model, device = cap.model, cap.device
    torch.manual_seed(cc.seed)
    model.reset_parameters()
    tc = TrainConfig(steps=cc.steps, lr=cc.lr, warmup_steps=min(cc.warmup_steps, cc.steps // 2), schedule="cosine",
                     weight_decay=cc.weight_decay, min_lr_ratio=0.1)
    opt, sched = build_optimizer(model, tc, device)
    rng = np.random.default_rng(cc.seed)
    order, pos = rng.permutation(len(captions)), 0
    n_null = max(1, round(cc.null_image * cc.batch_size)) if cc.null_image > 0 else 0
    null = null_codes(cap.lay)
    routers = model.routers()
    losses, t0 = [], time.perf_counter()
    model.train()
    for step in range(1, cc.steps + 1):
        if pos + cc.batch_size > len(order):
            order, pos = np.concatenate([order[pos:], rng.permutation(len(captions))]), 0
        batch, pos = order[pos:pos + cc.batch_size], pos + cc.batch_size
        caps = [captions[i] for i in batch]
        xi, yi = image_rows(cap.lay, [codes[i] for i in batch] + [null] * n_null, caps + caps[:n_null])
        loss_i, _ = cap.loss(xi[:len(batch)], yi[:len(batch)])  # logged: the captioning loss alone
        loss, _ = cap.loss(xi, yi)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        for r in routers:
            update_bias(r, cap.cfg.bias_update_rate, r.tokens_per_expert)
        losses.append(float(loss_i.detach()))
        if step % max(1, cc.steps // 10) == 0 or step == cc.steps:
            echo(f"caption: step {step}/{cc.steps} caption loss {np.mean(losses[-20:]):.3f} "
                 f"({time.perf_counter() - t0:.0f} s)")
    model.eval()
    if not math.isfinite(losses[-1]):
        raise StageError(f"the captioner's loss diverged ({losses[-1]}); lower caption.lr")
    tail = losses[-max(1, len(losses) // 10):]
    return {"steps": cc.steps, "pairs": len(captions), "first_loss": losses[0], "final_loss": float(np.mean(tail)),
            "seconds": time.perf_counter() - t0}
