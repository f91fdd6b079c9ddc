"""What a run reports: `metrics.jsonl` (one JSON object per logged step or eval) and a console line.

MFU is model FLOPs per second (`flops_per_token` x tokens/s) over the accelerator's dense bf16 peak;
it is left out on CPUs and on GPUs whose peak we do not know (set THRESHER_PEAK_FLOPS to give one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import torch

# dense bf16 tensor-core peak FLOP/s per GPU (vendor data sheets, SXM parts)
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 70e12, "4090": 165e12,
             "B200": 2250e12}


def peak_flops(device: torch.device) -> float | None:
    if "THRESHER_PEAK_FLOPS" in os.environ:
        return float(os.environ["THRESHER_PEAK_FLOPS"])
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    if "H100" in name and "PCIe" in name:
        return 756e12
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


class MetricsLog:
    """Appends JSON lines to RUN/metrics.jsonl (rank 0 only) and echoes a short console line."""

    def __init__(self, path: Path, enabled: bool, echo: Callable[[str], None] = print):
        self.path, self.enabled, self.echo = Path(path), enabled, echo
        if enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.echo(self._line(record))

    @staticmethod
    def _line(r: dict) -> str:
        if r.get("event") == "eval":
            kinds = " ".join(f"{k}={v:.3f}" for k, v in r.get("val_loss_by_kind", {}).items())
            return f"step {r['step']:>6} | val loss {r['val_loss']:.4f} {kinds}".rstrip()
        parts = [f"step {r['step']:>6}", f"loss {r['loss']:.4f}", f"lr {r['lr']:.2e}", f"grad {r['grad_norm']:.2f}",
                 f"{r['tokens_per_s']:,.0f} tok/s"]
        if r.get("mfu") is not None:
            parts.append(f"MFU {100 * r['mfu']:.1f}%")
        if r.get("expert_load"):
            worst = max(layer["max"] for layer in r["expert_load"])
            parts.append(f"busiest expert {worst:.2f}x mean")
        return " | ".join(parts)


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
