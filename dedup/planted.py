"""A text corpus with planted near-duplicates at known Jaccard similarity, for quality benchmarks.

Base documents are words drawn from a Zipf-distributed synthetic vocabulary, so two unrelated
documents share almost no word 5-gram. Some bases get a variant made by one operation (word
substitutions, an inserted block, a deleted span, or reordered chunks) sized to reach a target
similarity; the exact Jaccard of every planted pair is then measured on the reference shingles
(`shingles.reference_shingles`), so the truth does not depend on the target being hit.

    texts, pairs = planted_corpus(2000, seed=0)
    pairs[0] -> Pair(a=0, b=2000, jaccard=0.9132, op="substitute")
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from thresher.dedup.shingles import reference_shingles

OPS = ("substitute", "insert", "delete", "reorder")


@dataclass
class Pair:
    a: int
    b: int
    jaccard: float
    op: str


def exact_jaccard(x: str, y: str, n: int = 5) -> float:
    sx, sy = reference_shingles(x, n), reference_shingles(y, n)
    return len(sx & sy) / len(sx | sy) if sx or sy else 1.0


def _vocabulary(rng: random.Random, size: int) -> tuple[list[str], list[float]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(size)})
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(words))]
    return words, weights


def _variant(words: list[str], target: float, op: str, rng: random.Random, vocab: list[str]) -> list[str]:
    """A copy of `words` changed by `op` so that its 5-gram Jaccard is about `target`."""
    n = len(words)
    s = max(n - 4, 1)
    w = list(words)
    if op == "substitute":  # each scattered substitution removes 5 shingles and adds 5
        k = max(0, round(s * (1 - target) / (5 * (1 + target))))
        for i in rng.sample(range(n), min(k, n)):
            w[i] = rng.choice(vocab) + "x"
    elif op == "insert":  # a block of m new words: J = s / (s + m + 4)
        m = max(0, round(s / target - s - 4)) if target < 1 else 0
        at = rng.randrange(n + 1)
        w[at:at] = [rng.choice(vocab) + "y" for _ in range(m)]
    elif op == "delete":  # a span of m words gone: J = (s - m - 4) / s
        m = min(n - 1, max(0, round(s * (1 - target)) - 4)) if target < 1 else 0
        at = rng.randrange(n - m + 1)
        del w[at:at + m]
    else:  # reorder c chunks: each cut loses 4 shingles on either side
        c = max(2, round(s * (1 - target) / (4 * (1 + target))) + 1)
        cuts = sorted(rng.sample(range(1, n), min(c - 1, n - 1)))
        chunks = [w[i:j] for i, j in zip([0, *cuts], [*cuts, n])]
        rng.shuffle(chunks)
        w = [x for ch in chunks for x in ch]
    return w


def planted_corpus(n_docs: int, *, seed: int = 0, words: tuple[int, int] = (200, 1200), planted: float = 0.3,
                   targets: tuple[float, ...] = (0.3, 0.5, 0.6, 0.7, 0.9, 0.95, 1.0),
                   vocab_size: int = 50_000) -> tuple[list[str], list[Pair]]:
    """`n_docs` base texts, then one variant each for a `planted` fraction of them (appended after
    the bases), at similarity targets drawn from `targets` with operations drawn from OPS."""
    rng = random.Random(seed)
    vocab, weights = _vocabulary(rng, vocab_size)
    bases = [rng.choices(vocab, weights, k=rng.randint(*words)) for _ in range(n_docs)]
    texts = [" ".join(b) for b in bases]
    pairs = []
    for i in rng.sample(range(n_docs), round(planted * n_docs)):
        target, op = rng.choice(targets), rng.choice(OPS)
        variant = " ".join(_variant(bases[i], target, op, rng, vocab))
        pairs.append(Pair(i, len(texts), round(exact_jaccard(texts[i], variant), 6), op))
        texts.append(variant)
    return texts, pairs
