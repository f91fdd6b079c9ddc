"""The learning check: `tiny` learns the shards' structure on CPU in a few seconds, with balanced experts."""

from __future__ import annotations

import numpy as np

from thresher.config import TrainConfig
from thresher.tokenizer.reader import ShardReader
from thresher.train.loop import train
from thresher.train.metrics import read_metrics


def unigram_entropy(shards) -> float:
    r = ShardReader(shards, "train", seq_len=16, shuffle=False)
    counts = np.bincount(np.concatenate([r.document(i) for i in range(r.n_documents)]))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())  # nats, like the cross-entropy


def test_tiny_learns_below_the_unigram_entropy_with_balanced_experts(chain_shards, tmp_path):
    tc = TrainConfig(preset="tiny", steps=60, batch_size=8, seq_len=128, lr=1e-2, warmup_steps=5, log_every=10,
                     eval_every=0, eval_batches=4, ckpt_every=0)
    res = train(tc, chain_shards, tmp_path / "run", echo=lambda _: None)
    h = unigram_entropy(chain_shards)
    val = res.evals[-1]["val_loss"]
    assert val < 0.5 * h, (val, h)
    logged = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl") if "expert_load" in r]
    after_warmup = [r for r in logged if r["step"] > 20]
    busiest = max(layer["max"] for r in after_warmup for layer in r["expert_load"])
    assert busiest <= 1.5, busiest
    assert all(layer["entropy"] > 0.9 for r in after_warmup for layer in r["expert_load"])
