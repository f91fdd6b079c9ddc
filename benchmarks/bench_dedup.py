"""Speed and memory of dedup against rensa, datasketch and datatrove, on one corpus in one run.

    python benchmarks/bench_dedup.py [--mb 15 150] [--workers 1 2] [--repeats 3] [--memory-docs 1000000]

The corpus (--corpus real, the default): documents of real sentences (the good texts of
tests/data/real/text/, benchmarks/real_set.py, in the languages written with spaces between words),
each a random run of 10-40 sentences, and for 30 % of them a near duplicate made by one edit of its
words (substitutions, an inserted block, a deleted span, reordered chunks; thresher.dedup.planted)
at Jaccard 0.5-1.0, until the corpus reaches --mb megabytes. --corpus planted: the synthetic
Zipf-vocabulary corpus of thresher.dedup.planted (--docs).

1. MinHash signature throughput on one core, from raw text, with the same shingling (word
   5-grams of NFKC-lowercased text) and 112 permutations: ours (the fused numba kernel of
   dedup/fused.py, batches of 256) vs rensa
   (Rust RMinHash; shingles built in Python, as rensa takes a list of strings) vs datasketch
   (MinHash.update_batch; timed on a slice of the corpus).
2. The whole near-duplicate stage, on the same parquet records, per corpus size and worker count,
   the two tools interleaved repeat by repeat (ours, datatrove, datatrove, ours, ...): ours (the
   dedup stage's four passes, default config) vs datatrove's MinhashDedupSignature -> Buckets ->
   Cluster -> Filter as its minhash example runs them (buckets as 14 tasks, cluster 1, the others
   one task per worker), on LocalPipelineExecutor, 14 bands x 8 rows, 5-grams, its default and
   fastest hash (64-bit xxhash, given the text encoded: with xxhash 4.x its own call fails, see
   NOTES.md) and a whitespace word tokenizer (its default needs spacy). Both at their default
   start methods (ours: auto, which forks here; datatrove: forkserver) unless --start-method.
   Each run is a fresh process (bench_stage says why); the ratio is of the median stage seconds,
   imports left out for both; the process seconds with them are printed beside.
   Targets: >= 8x at 1 worker, >= 5x at 2 workers.
3. Peak memory of the clustering (union-find over every band's pairs + survivor choice) for
   --memory-docs records, for 1, 7, 14 and 28 bands: flat in the number of bands.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import interleaved, load_average  # noqa: E402

TMP = os.environ.get("BENCH_TMP")  # where the stage runs write (default: the system's temporary folder)


def corpus(n_docs: int) -> list[str]:
    from thresher.dedup.planted import planted_corpus

    texts, _ = planted_corpus(n_docs, seed=2, targets=(0.5, 0.9, 1.0))
    return texts


def real_corpus(mb: float, seed: int = 2, planted: float = 0.3) -> list[str]:
    """Documents of real sentences with near duplicates planted among them, `mb` megabytes in all
    (see the module's docstring): bases in a random order with their variants after them."""
    import random
    import re

    from real_set import real_set
    from thresher.dedup.planted import OPS, _variant

    rng = random.Random(seed)
    good = [it.text for it in real_set() if it.label == "good" and it.lang not in ("zh", "ja", "th")]
    sentences = sorted({s.strip() for t in good for s in re.split(r"(?<=[.!?;:])\s+|\n+", t) if len(s.split()) >= 4})
    vocab = sorted({w for s in sentences for w in s.split()})
    texts, size = [], 0
    while size < mb * 1e6:
        base = rng.sample(sentences, rng.randint(10, 40))
        text = " ".join(base)
        texts.append(text)
        size += len(text.encode())
        if rng.random() < planted:
            variant = " ".join(_variant(text.split(), rng.choice((0.5, 0.7, 0.8, 0.9, 0.95, 1.0)), rng.choice(OPS),
                                        rng, vocab))
            texts.append(variant)
            size += len(variant.encode())
    return texts


def bench_signatures(texts: list[str], repeats: int) -> dict[str, float]:
    """MB/s of each implementation (median of `repeats`)."""
    import numpy as np
    import rensa
    from datasketch import MinHash
    from thresher.dedup.minhash import MinHasher
    from thresher.dedup.shingles import normalize_for_shingles

    mb = sum(len(t.encode()) for t in texts) / 1e6
    hasher = MinHasher(num_perm=112, seed=1, ngram=5)

    def ours():
        for i in range(0, len(texts), 256):
            hasher.signatures(texts[i:i + 256])

    def shingles(t: str) -> list[str]:
        w = normalize_for_shingles(t).split()
        return [" ".join(w[i:i + 5]) for i in range(max(len(w) - 4, 1))]

    def rensa_run():
        for t in texts:
            m = rensa.RMinHash(num_perm=112, seed=1)
            m.update(shingles(t))
            m.digest()

    ds_texts = texts[: max(1, len(texts) // 10)]
    ds_mb = sum(len(t.encode()) for t in ds_texts) / 1e6

    def datasketch_run():
        for t in ds_texts:
            m = MinHash(num_perm=112, seed=1)
            m.update_batch([s.encode() for s in shingles(t)])
            np.asarray(m.hashvalues)

    all_shingles = [shingles(t) for t in texts]

    def rensa_core():
        """rensa given the shingles: its Rust core alone, the ceiling of any Python-shingling caller."""
        for sh in all_shingles:
            m = rensa.RMinHash(num_perm=112, seed=1)
            m.update(sh)
            m.digest()

    hasher.signatures(texts[:8])  # compile (or load) the fused kernel outside the timing
    sizes = {"thresher": mb, "rensa": mb, "rensa core (shingles given)": mb, "datasketch": ds_mb}
    timed = interleaved({"thresher": lambda r: ours(), "rensa": lambda r: rensa_run(),
                         "rensa core (shingles given)": lambda r: rensa_core(),
                         "datasketch": lambda r: datasketch_run()}, repeats)
    return {name: sizes[name] / t for name, (t, _) in timed.items()}


def write_records(texts: list[str], folder: Path, files: int) -> None:
    from thresher.io import RecordWriter
    from thresher.records import Kind, new_document

    writer = RecordWriter(folder)
    for rank in range(files):
        for i in range(rank, len(texts), files):
            writer.write(new_document(id=f"doc{i}", kind=Kind.TEXT, source="bench", uri=f"doc{i}", text=texts[i]), rank)
        writer.close()


START_METHOD = None  # the worker pools' start method for both tools (--start-method); None: each tool's default


def run_ours(extract: Path, work: Path, workers: int) -> int:
    from thresher.pipelines.config import load_config
    from thresher.pipelines.run import run_stages

    (work / "extract").symlink_to(extract)
    executor = {"workers": workers, "tasks": workers, **({"start_method": START_METHOD} if START_METHOD else {})}
    cfg = load_config({"workdir": str(work), "executor": executor})
    [result] = run_stages(cfg, ["dedup"], echo=lambda s: None)
    return result.side.get("removed", 0)


def _split_tokenizer():
    from datatrove.utils.word_tokenizers import WordTokenizer

    class SplitTokenizer(WordTokenizer):
        """Whitespace words: datatrove's default English tokenizer needs spacy (NOTES.md)."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [text]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(0, len(text))]

    return SplitTokenizer


def run_datatrove(extract: Path, work: Path, workers: int) -> int:
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.hashing import HashConfig

    SplitTokenizer = _split_tokenizer()
    import datatrove.pipeline.dedup.minhash as dt_minhash

    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, hash_config=HashConfig(hash_fc="xxhash"))
    reader = lambda: ParquetReader(str(extract), text_key="text", id_key="id", glob_pattern="*.parquet")  # noqa: E731
    load = dt_minhash.load_word_tokenizer
    dt_minhash.load_word_tokenizer = lambda language: SplitTokenizer()  # the default needs spacy
    try:
        signature = MinhashDedupSignature(str(work / "sigs"), config=config)
    finally:
        dt_minhash.load_word_tokenizer = load
    # datatrove's xxhash64 hands xxhash 4.x a str, which it refuses: the same hash of the encoded
    # text (a lambda, so that dill pickles it by value into forkserver workers)
    signature._hash_func = lambda text: __import__("xxhash").xxh64_intdigest(text.encode())
    logs = work / "logs"
    if START_METHOD:
        LocalPipelineExecutor = functools.partial(LocalPipelineExecutor, start_method=START_METHOD)  # noqa: N806
    stages = [
        LocalPipelineExecutor([reader(), signature], tasks=workers, workers=workers, logging_dir=str(logs / "1")),
        LocalPipelineExecutor([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=config)],
                              tasks=config.num_buckets, workers=workers, logging_dir=str(logs / "2")),
        LocalPipelineExecutor([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=config)],
                              tasks=1, workers=1, logging_dir=str(logs / "3")),
        LocalPipelineExecutor([reader(), MinhashDedupFilter(str(work / "remove"),
                                                            exclusion_writer=ParquetWriter(str(work / "removed"))),
                               ParquetWriter(str(work / "out"))], tasks=workers, workers=workers,
                              logging_dir=str(logs / "4")),
    ]
    for ex in stages:
        ex.run()
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in (work / "removed").glob("*.parquet"))


TOOLS = {"thresher": "run_ours", "datatrove": "run_datatrove"}


def _one_run(tool: str, extract: str, work: str, workers: int) -> None:
    """--one-run: one tool's stage in this fresh process, its modules imported before the clock
    starts; prints the stage's seconds and the records it removed as JSON."""
    if tool == "thresher":
        import thresher.pipelines.dedup  # noqa: F401
        import thresher.pipelines.run  # noqa: F401
    else:
        import datatrove.executor.local  # noqa: F401
        import datatrove.pipeline.dedup.minhash  # noqa: F401
        import datatrove.pipeline.readers  # noqa: F401
        import datatrove.pipeline.writers  # noqa: F401
    t0 = time.perf_counter()
    removed = globals()[TOOLS[tool]](Path(extract), Path(work), workers)
    print(json.dumps({"seconds": time.perf_counter() - t0, "removed": removed}))


def bench_stage(texts: list[str], repeats: int, workers: int) -> dict[str, tuple[float, int, list[float], list[float]]]:
    """name -> (median stage seconds, records removed, every repeat's stage seconds, every repeat's
    process seconds), the tools interleaved repeat by repeat.

    Each run is a fresh process, as `thresher dedup` or a datatrove script is: one tool's imports,
    threads and start-method state (datatrove's tqdm starts a monitor thread; after it our `auto`
    would take forkserver) never reach the other's runs. The stage seconds leave out the
    interpreter's start and the imports; the process seconds count them."""
    with tempfile.TemporaryDirectory(dir=TMP) as tmp:
        extract = Path(tmp) / "extract"
        write_records(texts, extract, files=workers)
        stage: dict[str, list[float]] = {"thresher": [], "datatrove": []}
        process: dict[str, list[float]] = {"thresher": [], "datatrove": []}

        def run(name):
            def go(r: int) -> int:
                work = Path(tmp) / f"{name}{r}"
                work.mkdir()
                cmd = [sys.executable, __file__, "--one-run", name, str(extract), str(work), str(workers),
                       *(["--start-method", START_METHOD] if START_METHOD else [])]
                t0 = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True)
                process[name].append(time.perf_counter() - t0)
                if done.returncode != 0:
                    raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
                got = json.loads(done.stdout.strip().splitlines()[-1])
                stage[name].append(got["seconds"])
                shutil.rmtree(work)  # 150 MB runs leave hundreds of MB of index and outputs behind
                return got["removed"]
            return go

        timed = interleaved({name: run(name) for name in TOOLS}, repeats)
        return {name: (statistics.median(stage[name]), removed, stage[name], process[name])
                for name, (_, removed) in timed.items()}


def bench_cluster_memory(n: int, band_counts=(1, 7, 14, 28)) -> dict[int, tuple[float, float]]:
    """{bands: (peak MB, seconds)} of components + survivors over `bands` pair files."""
    import numpy as np
    from thresher.dedup.cluster import components, survivors

    rng = np.random.default_rng(0)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for b in range(max(band_counts)):  # 5 % of records paired in each band, as near-dup heavy web text
            u = rng.integers(0, n, n // 20)
            pairs = np.column_stack([u, np.minimum(u + rng.integers(1, 50, u.size), n - 1)]).astype(np.int64)
            path = Path(tmp) / f"{b:03d}.npy"
            np.save(path, pairs)
            files.append(path)
        score, length = rng.random(n), rng.random(n)
        for bands in band_counts:
            tracemalloc.start()
            t0 = time.perf_counter()
            labels = components(n, (np.load(f) for f in files[:bands]))
            survivors(labels, np.zeros(n, bool), score, length)
            secs = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out[bands] = (peak / 2**20, secs)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="real", choices=["real", "planted"])
    ap.add_argument("--mb", type=float, nargs="+", default=[15, 150], help="corpus sizes (--corpus real)")
    ap.add_argument("--docs", type=int, default=4000, help="documents (--corpus planted)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--memory-docs", type=int, default=1_000_000)
    ap.add_argument("--skip", nargs="*", default=[], choices=["signatures", "stage", "memory"])
    ap.add_argument("--start-method", default=None, choices=["fork", "forkserver", "spawn"],
                    help="how both tools start their worker pools (default: each tool's own default)")
    ap.add_argument("--one-run", nargs=4, metavar=("TOOL", "EXTRACT", "WORK", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    global START_METHOD
    START_METHOD = args.start_method
    if args.one_run:
        tool, extract, work, workers = args.one_run
        _one_run(tool, extract, work, int(workers))
        return 0
    if args.corpus == "planted":
        corpora = {f"planted {args.docs} docs": corpus(args.docs)}
    else:
        corpora = {f"real sentences {mb:g} MB": real_corpus(mb) for mb in args.mb}
    ok = True
    for label, texts in corpora.items():
        mb = sum(len(t.encode()) for t in texts) / 1e6
        print(f"corpus {label}: {len(texts)} documents, {mb:.1f} MB; {load_average()}", flush=True)
        if "signatures" not in args.skip:
            sig = bench_signatures(texts, args.repeats)
            print(f"signatures, one core, 112 permutations, word 5-grams (interleaved, median of {args.repeats}):")
            for name, rate in sig.items():
                print(f"  {name:28s} {rate:7.1f} MB/s")
            print(f"  ratio thresher/rensa {sig['thresher'] / sig['rensa']:.2f}x, "
                  f"thresher/datasketch {sig['thresher'] / sig['datasketch']:.1f}x", flush=True)
            ok &= sig["thresher"] >= sig["rensa"]
        if "stage" not in args.skip:
            for workers in args.workers:
                st = bench_stage(texts, args.repeats, workers)
                method = args.start_method or "each tool's default"
                print(f"near-dup stage, {mb:.1f} MB, {workers} worker(s) ({method}), 14 x 8, 5-grams "
                      f"(interleaved, median of {args.repeats}); {load_average()}:")
                for name, (secs, removed, every, whole) in st.items():
                    print(f"  {name:11s} {secs:7.2f} s  ({removed} removed; runs {', '.join(f'{t:.2f}' for t in every)}; "
                          f"whole process with imports, median {statistics.median(whole):.2f} s)")
                ratio = st["datatrove"][0] / st["thresher"][0]
                target = 8 if workers == 1 else 5
                print(f"  speed-up over datatrove MinhashDedup: {ratio:.1f}x (target {target}x)", flush=True)
                ok &= ratio >= target
    if "memory" not in args.skip:
        mem = bench_cluster_memory(args.memory_docs)
        print(f"clustering peak memory, {args.memory_docs} records (tracemalloc):")
        for bands, (peak, secs) in mem.items():
            print(f"  {bands:3d} bands: {peak:7.1f} MB peak, {secs:5.2f} s  "
                  f"({peak / (args.memory_docs / 1e6):.0f} MB per million records)")
        peaks = [p for p, _ in mem.values()]
        ok &= peaks[-1] <= 1.25 * peaks[0]  # more bands must not cost more memory
    print(f"after: {load_average()}")
    print("PASS" if ok else "FAIL: a target was missed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
