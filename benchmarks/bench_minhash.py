"""MinHash signature throughput on one core, from raw text: thresher vs rensa, interleaved.

    python benchmarks/bench_minhash.py [--repeats 15] [--planted 0]

Every tool makes 112-permutation signatures of word 5-grams of normalize_for_shingles(text)
(NFKC, lower case, Unicode spaces as spaces), on the real-text set of the filter stage
(tests/data/real/text: treebank sentences in 30+ languages, books, recipes, real page garbage;
nobody here wrote it), and with --planted N also on N documents of the planted near-duplicate
corpus (thresher.dedup.planted, English-like ASCII). MB/s are of the raw UTF-8 text.

- thresher: MinHasher.signatures(raw texts), batches of 256: normalisation, shingling, hashing and
  the permutation min (dedup/fused.py).
- thresher, given normalised texts: MinHasher.signatures(normalize_for_shingles(text) made before
  the timing, normalized=True), the call of the dedup stage (dedup/features.py); MB/s of the raw
  text, as the others.
- rensa (Python shingling): the shingle strings built in Python, then rensa's bulk API
  RMinHash.digest_matrix_from_token_sets (its fastest documented full-set path; the per-document
  RMinHash(...).update(shingles) is timed too).
- rensa core (shingles given): the same calls on shingles made before the timing: rensa's Rust
  core alone, the ceiling of any caller that shingles in Python.

One core: the process is pinned to one CPU and rensa's Rayon pool to one thread. The tools run
interleaved repeat by repeat (benchmarks/common.py); medians of wall time and of process CPU time
are both printed, with the load average, because this machine is shared.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # before rensa is imported: one worker thread
sys.path.insert(0, str(Path(__file__).parent))
from common import load_average  # noqa: E402

REAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "real" / "text"
NUM_PERM, SEED, NGRAM, BATCH = 112, 1, 5, 256


def real_texts() -> list[str]:
    texts = []
    for name in ("good.jsonl", "garbage.jsonl"):
        with open(REAL / name, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f]
    return texts


def planted_texts(n: int) -> list[str]:
    from thresher.dedup.planted import planted_corpus

    return planted_corpus(n, seed=2, targets=(0.5, 0.9, 1.0))[0]


def tools(texts: list[str]) -> dict[str, callable]:
    import rensa
    from thresher.dedup.minhash import MinHasher
    from thresher.dedup.shingles import normalize_for_shingles

    hasher = MinHasher(num_perm=NUM_PERM, seed=SEED, ngram=NGRAM)

    def shingles(t: str) -> list[str]:  # the reference shingles (dedup/shingles.py), as strings
        w = normalize_for_shingles(t).split()
        return [" ".join(w[i:i + NGRAM]) for i in range(max(len(w) - NGRAM + 1, 1))] if w else []

    given = [shingles(t) for t in texts]
    normalised = [normalize_for_shingles(t) for t in texts]

    def ours():
        for i in range(0, len(texts), BATCH):
            hasher.signatures(texts[i:i + BATCH])

    def ours_normalised():
        for i in range(0, len(normalised), BATCH):
            hasher.signatures(normalised[i:i + BATCH], normalized=True)

    def rensa_matrix(sets):
        rensa.RMinHash.digest_matrix_from_token_sets(sets, NUM_PERM, SEED)

    def rensa_update(sets):
        for sh in sets:
            m = rensa.RMinHash(num_perm=NUM_PERM, seed=SEED)
            m.update(sh)
            m.digest()

    ours()  # compile (or load) the kernels and build the normalisation table outside the timing
    ours_normalised()
    return {
        "thresher": ours,
        "thresher, given normalised texts": ours_normalised,
        "rensa, Python shingling (digest_matrix)": lambda: rensa_matrix([shingles(t) for t in texts]),
        "rensa, Python shingling (update)": lambda: rensa_update([shingles(t) for t in texts]),
        "rensa core, shingles given (digest_matrix)": lambda: rensa_matrix(given),
        "rensa core, shingles given (update)": lambda: rensa_update(given),
    }


def measure(texts: list[str], repeats: int) -> dict[str, tuple[float, float]]:
    """name -> (MB/s by median wall time, MB/s by median process CPU time), interleaved in a
    rotating order so a noisy neighbour hits every tool alike."""
    mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    fns = tools(texts)
    names = list(fns)
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            # as timeit does: the garbage the previous tool left (rensa's shingle strings) is
            # collected before the clock starts, and no collection runs inside a timing
            gc.collect()
            gc.disable()
            w0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
            gc.enable()
    return {n: (mb / statistics.median(wall[n]), mb / statistics.median(cpu[n])) for n in names}


def report(title: str, texts: list[str], repeats: int) -> bool:
    mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
    ascii_share = sum(len(t) for t in texts if t.isascii()) / max(sum(len(t) for t in texts), 1)
    print(f"{title}: {len(texts)} documents, {mb:.2f} MB ({ascii_share:.0%} of characters in ASCII-only texts); "
          f"{load_average()}")
    got = measure(texts, repeats)
    print(f"  {'':44s} {'wall MB/s':>10s} {'CPU MB/s':>10s}   (medians of {repeats}, interleaved)")
    for name, (w, c) in got.items():
        print(f"  {name:44s} {w:10.1f} {c:10.1f}")
    ours = got["thresher"]
    peer = max((v for k, v in got.items() if k.startswith("rensa, Python")), key=lambda v: v[0])
    print(f"  thresher / rensa with Python shingling (its faster API): {ours[0] / peer[0]:.2f}x wall, "
          f"{ours[1] / peer[1]:.2f}x CPU; after: {load_average()}")
    return ours[0] >= 150 and ours[0] >= 5 * peer[0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--planted", type=int, default=0, help="also this many planted-corpus documents")
    args = ap.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core for every tool
    print(f"one core (CPU {sorted(os.sched_getaffinity(0))}), {NUM_PERM} permutations, word {NGRAM}-grams, "
          f"RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}")
    ok = report("real text (tests/data/real/text)", real_texts(), args.repeats)
    if args.planted:
        ok &= report(f"planted corpus ({args.planted} documents, seed 2)", planted_texts(args.planted), args.repeats)
    print("targets (>= 150 MB/s and >= 5x rensa with Python shingling, wall):", "met" if ok else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
