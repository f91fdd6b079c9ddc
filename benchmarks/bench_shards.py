"""Shards: write throughput of ShardWriter, and ShardReader windows against raw memmap slicing.

    python benchmarks/bench_shards.py [--tokens 50_000_000] [--seq-len 2048] [--repeats 3]

Writing: documents of 100-4000 random uint16 tokens appended with `ShardWriter.add`, closed (which
computes the checksums) and merged into a manifest; MB/s of token bytes written.
Reading: the same shuffled windows of seq_len+1 tokens read (a) by the ShardReader (int64 tokens
plus document ids for masking) and (b) as bare `memmap[start:end].astype(int64)` slices, the floor
any loader pays. Goal: ours >= 0.8x the raw slicing's tokens/s. Medians over the repeats.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from thresher.tokenizer.reader import ShardReader
from thresher.tokenizer.shards import ShardWriter, merge_manifest


def make_docs(n_tokens: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    docs, total = [], 0
    while total < n_tokens:
        d = rng.integers(3, 60000, rng.integers(100, 4000), dtype=np.uint16)
        d[-1] = 2
        docs.append(d)
        total += len(d)
    return docs


def write(folder: Path, docs: list[np.ndarray]) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    w = ShardWriter(folder, 0, np.uint16, max_tokens=2**26)
    for d in docs:
        w.add("train", d, "text")
    w.close()
    merge_manifest(folder, 1, {"vocab_fingerprint": "bench", "vocab_size": 65536, "dtype": "uint16", "eos_id": 2})
    return time.perf_counter() - start


def read_ours(folder: Path, seq_len: int, n: int, batch: int, doc_ids: bool = True) -> float:
    """batch 1: iterating the reader; batch > 1: next_batch (what the trainer calls)."""
    r = ShardReader(folder, "train", seq_len=seq_len, seed=0, verify=False)
    start = time.perf_counter()
    if batch == 1:
        it = iter(r)
        for _ in range(n):
            tokens, doc_ids = next(it)
    else:
        for _ in range(n // batch):
            r.next_batch(batch, doc_ids=doc_ids)
    return time.perf_counter() - start


def read_raw(folder: Path, seq_len: int, n: int) -> float:
    r = ShardReader(folder, "train", seq_len=seq_len, seed=0, verify=False)
    order = r._windows()[:n]  # the same windows in the same order
    mm = r._bins[0]
    start = time.perf_counter()
    for w in order:
        s = int(w) * seq_len
        mm[s:s + seq_len + 1].astype(np.int64)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=50_000_000)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--windows", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp()) / "shards"
    docs = make_docs(args.tokens)
    mb = sum(d.nbytes for d in docs) / 2**20
    t_write = statistics.median(write(folder, docs) for _ in range(args.repeats))
    print(f"write: {mb:.0f} MB of uint16 tokens in {len(docs)} documents: {t_write:.2f} s, {mb / t_write:.0f} MB/s "
          "(incl. xxh3 checksums and manifest)")
    # one file, so raw slicing never needs to cross a file boundary
    n = min(args.windows, (args.tokens - 1) // args.seq_len)
    n -= n % 16
    tok = n * (args.seq_len + 1)
    t_raw = statistics.median(read_raw(folder, args.seq_len, n) for _ in range(args.repeats))
    print(f"read {n} shuffled windows of {args.seq_len + 1}: raw memmap slicing {tok / t_raw / 1e6:.0f} M tokens/s")
    for batch, ids in ((1, True), (16, True), (16, False)):
        t_ours = statistics.median(read_ours(folder, args.seq_len, n, batch, ids) for _ in range(args.repeats))
        how = "iterating" if batch == 1 else f"next_batch({batch})"
        print(f"  ShardReader {how:14s} {tok / t_ours / 1e6:4.0f} M tokens/s {'with' if ids else 'without'} doc ids: "
              f"{t_raw / t_ours:.2f}x raw")
    shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
