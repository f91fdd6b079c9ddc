"""Shards: write throughput of ShardWriter, and ShardReader windows against raw memmap slicing.

    python benchmarks/bench_shards.py [--tokens 50_000_000] [--seq-len 2048] [--batch 16] [--repeats 5]
                                      [--file-tokens 67108864]

Writing: documents of 100-4000 random uint16 tokens appended with `ShardWriter.add`, closed (which
computes the checksums) and merged into a manifest; MB/s of token bytes written.

Reading: the same shuffled windows of seq_len+1 tokens (epoch 0's order, taken from the reader), read
  - raw: `bin[s:s + T + 1]` memmap slices copied row by row into a preallocated (B, T+1) int64 array,
    with each window's file and offset in its file worked out before the clock starts (the floor any
    loader that slices per window pays; the issue's baseline);
  - raw slicing, locating too: the same, finding each window's file and offset inside the clock
    (what ours must do as well): for reference, the ratios stay against raw slicing;
  - raw gather: the same windows fetched with one fancy index per file of an overlapping strided view
    (how the reader fetches tokens; no doc ids): shown as the copy floor, for reference;
  - ours: `ShardReader.next_batch(B)` with document ids (what the trainer calls), without them, and
    plain iteration (`for tokens, doc_ids in reader`).
Every variant opens its own fresh memmap (so each pays the same page faults) and runs once per
repeat, interleaved in a rotating order because the machine is shared; the figures are medians
over the repeats, and the ratio is the median of the per-repeat ratios (ours against the raw run of
the same repeat). Goal (issues 7 and 18): ours >= 0.8x raw slicing, on one file and on 12 (`--file-tokens 4194304`).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from thresher.tokenizer.reader import ShardReader
from thresher.tokenizer.shards import ShardWriter, merge_manifest

Times = tuple[float, float]  # (wall seconds, CPU seconds of this process: user + system)


def _clock() -> Times:
    return time.perf_counter(), time.process_time()


def _since(start: Times) -> Times:
    now = _clock()
    return now[0] - start[0], now[1] - start[1]


def make_docs(n_tokens: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    docs, total = [], 0
    while total < n_tokens:
        d = rng.integers(3, 60000, rng.integers(100, 4000), dtype=np.uint16)
        d[-1] = 2
        docs.append(d)
        total += len(d)
    return docs


def write(folder: Path, docs: list[np.ndarray], file_tokens: int) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    start = time.perf_counter()
    w = ShardWriter(folder, 0, np.uint16, max_tokens=file_tokens)
    for d in docs:
        w.add("train", d, "text")
    w.close()
    merge_manifest(folder, 1, {"vocab_fingerprint": "bench", "vocab_size": 65536, "dtype": "uint16", "eos_id": 2})
    return time.perf_counter() - start


def open_bins(folder: Path) -> tuple[list[np.ndarray], list[int]]:
    """Fresh memmaps of the train files (as plain ndarray views) and their global start offsets."""
    files = json.loads((folder / "manifest.json").read_text())["splits"]["train"]["files"]
    bins, starts = [], [0]
    for f in files:
        bins.append(np.memmap(folder / f"{f['prefix']}.bin", dtype=np.uint16, mode="r").view(np.ndarray))
        starts.append(starts[-1] + f["tokens"])
    return bins, starts


def locate(starts: list[int], order: np.ndarray, seq_len: int) -> list[tuple[int, int]]:
    """(file, offset in file) of each window, computed before timing so raw pays only the slicing."""
    out = []
    for w in order.tolist():
        s = w * seq_len
        f = bisect.bisect_right(starts, s) - 1
        out.append((f, s - starts[f]))
    return out


def read_raw(folder: Path, where: list[tuple[int, int]], seq_len: int, batch: int) -> Times:
    bins, starts = open_bins(folder)
    span = seq_len + 1
    start = _clock()
    for i in range(0, len(where), batch):
        out = np.empty((batch, span), dtype=np.int64)
        for b, (f, off) in enumerate(where[i:i + batch]):
            if off + span <= len(bins[f]):
                out[b] = bins[f][off:off + span]
            else:  # crosses into the next file (rare)
                rest = span - (len(bins[f]) - off)
                out[b] = np.concatenate([bins[f][off:], bins[f + 1][:rest]])
    return _since(start)


def read_raw_locating(folder: Path, order: np.ndarray, seq_len: int, batch: int) -> Times:
    """Raw slicing that also finds each window's file and offset inside the clock (a bisect per
    window), as any loader given window numbers must and as ours does: shown for reference, the
    ratio stays against `read_raw`, which is given them."""
    bins, starts = open_bins(folder)
    span = seq_len + 1
    start = _clock()
    for i in range(0, len(order), batch):
        out = np.empty((batch, span), dtype=np.int64)
        for b, w in enumerate(order[i:i + batch].tolist()):
            s = w * seq_len
            f = bisect.bisect_right(starts, s) - 1
            off = s - starts[f]
            if off + span <= len(bins[f]):
                out[b] = bins[f][off:off + span]
            else:  # crosses into the next file (rare)
                rest = span - (len(bins[f]) - off)
                out[b] = np.concatenate([bins[f][off:], bins[f + 1][:rest]])
    return _since(start)


def read_raw_gather(folder: Path, where: list[tuple[int, int]], seq_len: int, batch: int) -> Times:
    """One fancy index per file and batch over an overlapping (windows, T+1) view; no doc ids."""
    bins, starts = open_bins(folder)
    span, item = seq_len + 1, np.dtype(np.uint16).itemsize
    views = []
    for f, b in enumerate(bins):
        r = -starts[f] % seq_len
        n = max(0, (len(b) - r - span) // seq_len + 1)
        views.append(np.lib.stride_tricks.as_strided(b[r:], (n, span), (seq_len * item, item), writeable=False))
    # file (-1: the window crosses into the next file) and window index in that file's view
    fk = np.array([(f if off + span <= len(bins[f]) else -1, (off - (-starts[f] % seq_len)) // seq_len)
                   for f, off in where], dtype=np.int64)
    start = _clock()
    for i in range(0, len(fk), batch):
        fs, ks = fk[i:i + batch, 0], fk[i:i + batch, 1]
        out = np.empty((len(ks), span), dtype=np.int64)
        if fs[0] >= 0 and (fs == fs[0]).all():
            out[:] = views[int(fs[0])][ks]
            continue
        for f in np.unique(fs).tolist():
            rows = np.flatnonzero(fs == f)
            if f >= 0:
                out[rows] = views[f][ks[rows]]
            else:
                for row in rows.tolist():
                    g, off = where[i + row]
                    out[row] = np.concatenate([bins[g][off:], bins[g + 1][:span - (len(bins[g]) - off)]])
    return _since(start)


def read_ours(folder: Path, seq_len: int, n: int, batch: int, doc_ids: bool = True,
              read_ahead: int | None = None, narrow: bool = True) -> Times:
    """batch 1: iterating the reader; batch > 1: next_batch (what the trainer calls). `narrow`: the
    window-relative ids in the narrowest type (uint8 here), as the trainer's Batches reads them."""
    r = ShardReader(folder, "train", seq_len=seq_len, seed=0, verify=False, narrow_ids=narrow)
    if read_ahead is not None:
        r.read_ahead_tokens = read_ahead
    start = _clock()
    if batch == 1:
        it = iter(r)
        for _ in range(n):
            next(it)
    else:
        for _ in range(n // batch):
            r.next_batch(batch, doc_ids=doc_ids)
    return _since(start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=50_000_000)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--windows", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--write-repeats", type=int, default=3)
    ap.add_argument("--read-ahead", type=int, default=None,
                    help="ShardReader.read_ahead_tokens (default: the reader's own)")
    ap.add_argument("--file-tokens", type=int, default=2**26, help="tokens per .bin (the writer's max_tokens)")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp()) / "shards"
    try:
        docs = make_docs(args.tokens)
        mb = sum(d.nbytes for d in docs) / 2**20
        t_write = statistics.median(write(folder, docs, args.file_tokens) for _ in range(args.write_repeats))
        n_files = len(open_bins(folder)[0])
        print(f"write: {mb:.0f} MB of uint16 tokens in {len(docs)} documents, {n_files} file(s): {t_write:.2f} s, "
              f"{mb / t_write:.0f} MB/s (incl. xxh3 checksums and manifest; median of {args.write_repeats})")
        del docs
        probe = ShardReader(folder, "train", seq_len=args.seq_len, seed=0, verify=False)
        n = min(args.windows, len(probe))
        n -= n % args.batch
        order = probe._windows()[:n]  # epoch 0's windows, in the order next_batch and iteration read them
        where = locate(open_bins(folder)[1], order, args.seq_len)
        tok = n * (args.seq_len + 1)
        B = args.batch
        runs: dict[str, Callable[[], Times]] = {
            "raw slicing": lambda: read_raw(folder, where, args.seq_len, B),
            "raw slicing, locating too": lambda: read_raw_locating(folder, order, args.seq_len, B),
            "raw gather (no doc ids)": lambda: read_raw_gather(folder, where, args.seq_len, B),
            f"next_batch({B}) + doc ids": lambda: read_ours(folder, args.seq_len, n, B, True, args.read_ahead),
            f"next_batch({B}) + int32 ids": lambda: read_ours(folder, args.seq_len, n, B, True, args.read_ahead,
                                                             False),
            f"next_batch({B}), no doc ids": lambda: read_ours(folder, args.seq_len, n, B, False, args.read_ahead),
            "iterating + doc ids": lambda: read_ours(folder, args.seq_len, n, 1, True, args.read_ahead),
        }
        names = list(runs)
        load_before = os.getloadavg()
        times: dict[str, list[Times]] = {k: [] for k in names}
        for rep in range(args.repeats):
            for k in names[rep % len(names):] + names[:rep % len(names)]:  # rotate who goes first
                times[k].append(runs[k]())
        raw = times["raw slicing"]
        print(f"read {n} shuffled windows of {args.seq_len + 1} tokens, batches of {B}, medians of {args.repeats} "
              f"interleaved repeats (wall clock; CPU time of the process in brackets); load average "
              f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after, on {os.cpu_count()} cores:")
        for k in names:
            wall, cpu = (statistics.median(t[i] for t in times[k]) for i in (0, 1))
            r_wall, r_cpu = (statistics.median(r[i] / t[i] for r, t in zip(raw, times[k])) for i in (0, 1))
            print(f"  {k:28s} {tok / wall / 1e6:5.0f} M tokens/s {r_wall:5.2f}x raw   "
                  f"[{tok / cpu / 1e6:5.0f} M tokens/s {r_cpu:5.2f}x]")
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
