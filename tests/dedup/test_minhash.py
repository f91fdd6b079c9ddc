"""MinHash: the vectorised shingles are the reference shingles, the signatures are datasketch's,
and the estimate tracks the true Jaccard similarity."""

import random

import numpy as np
from datasketch import MinHash
from datasketch.hashfunc import sha1_hash32
from datasketch.lsh import _optimal_param
from thresher.dedup.lsh import band_keys, collision_probability, optimal_bands
from thresher.dedup.minhash import EMPTY, MinHasher, estimate_jaccard
from thresher.dedup.shingles import (
    normalize_for_shingles,
    reference_shingles,
    shingle_hashes,
)


def _docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyzéß") for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    seps = [" ", "  ", "\n", "\t", "\u00a0", "\u2028", " \r\n "]
    return ["".join(rng.choice(vocab) + rng.choice(seps) for _ in range(rng.randint(0, 300))) for _ in range(n)]


def test_shingle_hashes_match_the_reference_sets():
    docs = _docs(200) + ["", "   ", "one", "two words", "Ａ Ｂ Ｃ Ｄ Ｅ Ｆ"]
    h, off = shingle_hashes(docs, 5)
    assert off.shape == (len(docs) + 1,)
    for i, d in enumerate(docs):
        mine = h[off[i]:off[i + 1]]
        ref = reference_shingles(d, 5)
        assert len(set(mine.tolist())) == len(ref), d[:60]
        # same shingle -> same hash, wherever it stands (the doc alone gives the same values)
        alone, _ = shingle_hashes([d], 5)
        assert sorted(alone.tolist()) == sorted(mine.tolist())


def test_normalisation_folds_width_case_and_unicode_spaces():
    assert normalize_for_shingles("Ａbc\u2028DEF") == "abc def"
    a, _ = shingle_hashes(["Hello   World"], 2)
    b, _ = shingle_hashes(["hello world"], 2)
    assert a.tolist() == b.tolist()


def test_signatures_equal_datasketch_bit_for_bit():
    hasher = MinHasher(num_perm=112, seed=1)
    for d in _docs(5, seed=3)[:5]:
        shingles = [" ".join(s).encode() for s in reference_shingles(d)]
        if not shingles:
            continue
        ref = MinHash(num_perm=112, seed=1)
        ref.update_batch(shingles)
        mine = hasher.from_hashes(np.array([sha1_hash32(s) for s in shingles], np.uint32), np.array([0, len(shingles)]))
        assert np.array_equal(mine[0], ref.hashvalues.astype(np.uint32))


def test_empty_documents_get_the_empty_signature_and_never_match():
    sig = MinHasher().signatures(["", "some words here to hash", "   "])
    assert (sig[0] == EMPTY).all() and (sig[2] == EMPTY).all() and not (sig[1] == EMPTY).all()
    assert estimate_jaccard(sig[0], sig[2]) == 0.0


def test_estimate_is_unbiased_with_the_expected_spread():
    hasher = MinHasher(num_perm=112, ngram=1)
    for target in (0.5, 0.8, 0.95):
        errors = []
        for t in range(60):
            n = 300
            inter = round(2 * target * n / (1 + target))  # |A| = |B| = n  ->  J = inter / (2n - inter)
            a = [f"w{t}x{k}" for k in range(n)]
            b = a[:inter] + [f"v{t}x{k}" for k in range(n - inter)]
            sig = hasher.signatures([" ".join(a), " ".join(b)])
            errors.append(estimate_jaccard(sig[0], sig[1]) - inter / (2 * n - inter))
        errors = np.array(errors)
        sd = np.sqrt(target * (1 - target) / 112)
        assert abs(errors.mean()) < 2.5 * sd / np.sqrt(len(errors)) + 0.005
        assert errors.std() < 1.5 * sd


def test_band_keys_and_optimal_parameters():
    sig = MinHasher().signatures(["a b c d e f g h", "a b c d e f g h", "x y z w v u t s"])
    keys = band_keys(sig, 14, 8, namespace=1)
    assert keys.shape == (3, 14) and (keys != 0).all()
    assert (keys[0] == keys[1]).all() and not (keys[0] == keys[2]).any()
    assert not (band_keys(sig, 14, 8, namespace=2) == keys).any()  # kinds never share a bucket
    for threshold, perms in ((0.8, 112), (0.5, 128), (0.9, 256)):
        assert optimal_bands(threshold, perms) == _optimal_param(threshold, perms, 0.5, 0.5)
    assert collision_probability(0.9, 14, 8) > 0.99 > 0.2 > collision_probability(0.4, 14, 8)


def test_the_fused_kernel_equals_the_numpy_stages_bit_for_bit():
    from thresher.dedup import fused

    assert fused.available(), "numba is a dependency: the fused kernel must be in use"
    docs = _docs(300, seed=5) + ["", "   ", "one", "two words", "a b c d", "a b c d e", "Ａ Ｂ Ｃ Ｄ Ｅ Ｆ",
                                 "x" * 200 + " y", "日本語のテキスト と 空白", "\x1c\x1fseparated\x1eby\x1dcontrol"]
    docs = [normalize_for_shingles(d) for d in docs]
    for ngram, num_perm, seed in ((5, 112, 1), (1, 64, 7), (3, 128, 2), (13, 16, 3)):
        hasher = MinHasher(num_perm=num_perm, seed=seed, ngram=ngram)
        ref = hasher.signatures_numpy(docs, normalized=True)
        assert np.array_equal(hasher.signatures(docs, normalized=True), ref), (ngram, num_perm, seed)


def test_a_new_process_loads_the_compiled_kernel_from_the_cache():
    """Worker processes must not compile the kernel again (seconds each): numba caches top-level
    functions only, so the kernel stays at module level."""
    import subprocess
    import sys

    code = ("from thresher.dedup import fused; from thresher.dedup.minhash import MinHasher; "
            "MinHasher().signatures(['a b c d e f'], shingles=True); "
            "MinHasher().signatures(['a b c d e f'], shingles=True, normalized=True); "
            "s = [fused._kernel.stats, fused._kernel_normalising.stats]; "
            "print(sum(sum(x.cache_hits.values()) for x in s), sum(sum(x.cache_misses.values()) for x in s))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    assert runs[1] == ["2", "0"], runs  # both kernels: as given and normalising


def test_raw_texts_normalised_in_the_kernel_equal_the_python_normalisation():
    """MinHasher.signatures(raw) normalises most texts inside the fused kernel (a code point table
    and UAX #15's quick check); the rest go through normalize_for_shingles. Both must give the bits
    of the numpy stages over normalize_for_shingles(text), sets included."""
    rng = random.Random(11)
    pool = [chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x600), *range(0x900, 0x980), *range(0xE00, 0xE60),
                             *range(0x1100, 0x1200), *range(0x3000, 0x3100), *range(0xAC00, 0xAC40),
                             *range(0xFF00, 0xFF60), 0x1F600, 0x1F44D, 0x130, 0x3A3, 0x2028, 0x85, 0x1680, 0xD800,
                             0x20000, 0x301, 0x300, 0x327, 0x316, 0x345]]
    docs = ["".join(rng.choice(pool) if rng.random() < 0.7 else " " for _ in range(rng.randint(0, 120)))
            for _ in range(600)]
    docs += _docs(200, seed=9) + ["Plain ASCII Text, Upper AND lower.", "e\u0301 e\u0316\u0301 e\u0301\u0316",
                                  "ΟΔΟΣ ΣΑΣ", "İstanbul", "ﬁne ｆｕｌｌ ⅷ", "한국어 텍스트", "\u1100\u1161 x",
                                  # MAYBE code points: compose, reorder with the starter's own marks, or stay
                                  "a\u0301 b", "\u00e1\u0323 x", "\u1ea1\u0302", "\u0b92\u0bd7 \u0b95\u0bbe",
                                  "\u0bbe first", "\ufb01\u0301", "\u0928\u093c \u0915\u093c", "x\u0653\u0654",
                                  "\ufdfa\ufdfa \ufdfb"]
    # dense in what can compose or reorder: precomposed and bare starters, marks of several
    # classes (some MAYBE), Indic vowel signs that compose with the letter before them
    marks = "a e o u \u00e1 \u00e9 \u1ea1 \u01fa \u0b92 \u0b95 \u0d12 \u0928 \u0627 \u0301 \u0302 \u0323 \u0316 \u0327 \u0345 \u0bd7 \u0bbe \u0d3e \u093c \u0654 \u0653 \ufb01".split()
    docs += [" ".join("".join(rng.choice(marks) for _ in range(rng.randint(1, 4))) for _ in range(6)) for _ in range(1500)]
    for ngram, num_perm, seed in ((5, 112, 1), (1, 64, 7), (3, 128, 2)):
        hasher = MinHasher(num_perm=num_perm, seed=seed, ngram=ngram)
        ref = hasher.signatures_numpy(docs, shingles=True)
        got = hasher.signatures(docs, shingles=True)
        for r, g in zip(ref, got):
            assert np.array_equal(r, g), (ngram, num_perm, seed)


def test_the_normalisation_table_maps_each_code_point_as_python_does():
    from thresher.dedup.shingles import EXPAND, FAST_LIMIT, fast_normalisation_table

    table = fast_normalisation_table()
    fast = np.flatnonzero(table[:FAST_LIMIT] >= 0)
    assert fast.size > 100_000  # most of the BMP and SMP: the fast path is the common one
    expanded = 0
    for c in fast.tolist():
        e = int(table[c])
        if e >= EXPAND:  # a replacement of several code points: [count, entry, ...] in the tail
            t = e & 0x1FFFFF
            entries = table[t + 1:t + 1 + table[t]].tolist()
            assert min(entries) >= 0 and max(entries) < EXPAND, hex(c)
            expanded += 1
        else:
            entries = [e]
        assert normalize_for_shingles(chr(c)) == "".join(chr(x & 0x1FFFFF) for x in entries), hex(c)
        assert len(normalize_for_shingles(chr(c)).split()) <= 1  # the kernel's buffers: a word per code point
    assert expanded > 1000  # fullwidth forms, ligatures, "…", no-break spaces, ...


def _kernel_matches_python(docs: list[str]) -> np.ndarray:
    """Assert the fused kernel's signatures and shingle sets of raw docs equal the numpy stages'
    over normalize_for_shingles; return which docs the kernel sent to Python (slow)."""
    from thresher.dedup import fused
    from thresher.dedup.shingles import fast_normalisation_table

    hasher = MinHasher(num_perm=16, seed=3, ngram=2)
    ref = hasher.signatures_numpy(docs, shingles=True)
    got = hasher.signatures(docs, shingles=True)
    for r, g in zip(ref, got):
        assert np.array_equal(r, g)
    return fused._run(docs, 2, hasher.a, hasher.b, EMPTY, False, fast_normalisation_table())[3]


def test_capital_sigma_is_final_or_not_as_str_lower_decides():
    """The kernel picks capital sigma's lower case from its neighbours (case_properties, asked of
    str.lower): every code point of the table stands before it, after it, and between it and a
    cased letter, each side; all must lower as Python does, and the kernel must decide most."""
    from thresher.dedup.shingles import FAST_LIMIT

    xs = [chr(c) for c in range(1, FAST_LIMIT) if not 0xD800 <= c < 0xE000]
    docs = []
    for x in xs:
        docs += [x + "Σ", "a" + x + "Σ", "Σ" + x, "aΣ" + x + "b", "ΣΣ" + x + "Σ a" + x + "Σ"]
    slow = _kernel_matches_python(docs)
    assert slow.mean() < 0.05, slow.mean()  # SLOW neighbours only


def test_replacements_with_a_mark_after_their_space_stay_exact():
    """U+00B8 CEDILLA -> ' ' U+0327 and the other spacing accents: the mark composes with nothing
    there, whatever stands around it (marks of every class, starters that compose with it)."""
    import unicodedata

    from thresher.dedup.shingles import EXPAND, FAST_LIMIT, MAYBE, _canonical_pairs, fast_normalisation_table

    table = fast_normalisation_table()
    maybe = {s for _, s in _canonical_pairs()}
    with_mark = [c for c in np.flatnonzero(table[:FAST_LIMIT] >= EXPAND).tolist()
                 if any(ord(x) in maybe for x in unicodedata.normalize("NFKC", chr(c)))]
    assert 0xB8 in with_mark and 0xA8 in with_mark and len(with_mark) >= 10
    tail = table[FAST_LIMIT:]
    assert not (tail[tail >= 0] & MAYBE).any()  # the kernel never looks for a starter inside one
    around = ["a", "e", "c", " ", "\u0301", "\u0327", "\u0323", "\u0345", "\u0316", "\u093c", "\u0bbe", "\u00b8"]
    docs = [x + chr(c) + y for c in with_mark for x in around for y in around]
    docs += [chr(c) * 3 + " " + chr(c) + "x" for c in with_mark]
    slow = _kernel_matches_python(docs)
    assert slow.mean() < 0.6  # those with a MAYBE mark after the replacement go to Python


def test_pairs_nfkc_leaves_apart_need_no_python():
    """Canonical pairs whose composite is excluded from composition (Devanagari nukta letters,
    Hebrew presentation forms) are not composition keys: NFKC keeps them apart anywhere."""
    import unicodedata

    from thresher.dedup.shingles import _canonical_pairs, composition_keys, fast_normalisation_table

    keys = set(composition_keys().tolist())
    apart = [(f, s) for f, s in _canonical_pairs() if unicodedata.normalize("NFKC", chr(f) + chr(s)) == chr(f) + chr(s)]
    assert (0x921, 0x93C) in apart and len(apart) > 20
    assert not any(f << 21 | s in keys for f, s in apart)
    assert all(f << 21 | s in keys for f, s in _canonical_pairs() if (f, s) not in apart)
    marks = ["\u0301", "\u0323", "\u093c", "\u094d", "\u05b4", "\u05bc"]
    docs = [chr(f) + chr(s) + " x" for f, s in apart]
    docs += [chr(f) + chr(s) + m for f, s in apart for m in marks]
    docs += [chr(f) + m + chr(s) for f, s in apart for m in marks]
    slow = _kernel_matches_python(docs)
    fast = [fast_normalisation_table()[[f, s]].min() >= 0 for f, s in apart]
    assert sum(fast) > 10 and not slow[:len(apart)][fast].any()  # the pair alone: decided in the kernel


def test_dotted_capital_i_is_lowered_in_the_kernel():
    """U+0130 lowers to "i" U+0307 (two code points): the kernel emits both, and the marks after it
    are checked as after U+0307 (NFKC may reorder them, or compose them with the I inside)."""
    around = ["", "a", " ", "\u0301", "\u0307", "\u0316", "\u0323", "\u0345", "\u0130", "Σ", "\u00b8", "i"]
    docs = [x + "\u0130" + y + z for x in around for y in around for z in ["", " b", "\u0300"]]
    slow = _kernel_matches_python(docs)
    assert not slow[[d in ("\u0130", "a\u0130 b", " \u0130a") for d in docs]].any()


def test_real_text_is_hashed_in_the_kernel_bit_for_bit():
    """The real-text set (31 languages, page garbage): the same signatures and sets as the numpy
    stages, and the table decides every text there (each one sent to Python costs a second pass)."""
    import json
    from pathlib import Path

    real = Path(__file__).parents[1] / "data" / "real" / "text"
    docs = [json.loads(line)["text"] for name in ("good.jsonl", "garbage.jsonl")
            for line in (real / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(docs) > 500
    slow = _kernel_matches_python(docs)
    assert slow.sum() <= len(docs) // 100, [docs[i][:40] for i in np.flatnonzero(slow)]


NUMBA_LINALG = """
import numpy as np, numba, sys
from thresher.dedup.fused import mix64
mix64(np.uint64(1))  # numba's first cache load in this process: the BLAS probe is answered no
assert "scipy.linalg" not in sys.modules
conv = numba.njit(lambda a, b: np.convolve(a, b))
dot = numba.njit(lambda a, b: np.dot(a, b))
a, b = np.arange(5.0), np.array([1.0, -2.0, 0.5])
assert np.allclose(conv(a, b), np.convolve(a, b)), conv(a, b)
m = np.arange(6.0).reshape(2, 3)
assert np.allclose(dot(m, m.T), m @ m.T)  # np.dot imports scipy.linalg's BLAS itself when it compiles
print("scipy.linalg" in sys.modules, [type(f).__name__ for f in sys.meta_path].count("_NoBlasProbe"))
"""


def test_numbas_blas_probe_is_skipped_and_its_linear_algebra_still_works():
    """dedup/fused.py tells numba's import-time BLAS probe that scipy.linalg is missing (0.13-0.3 s
    saved per process): compiled np.convolve then takes numba's own loop, and np.dot still finds BLAS
    when it compiles. In a fresh process; the finder is gone after it answered."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", NUMBA_LINALG], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["True", "0"]
