"""Word n-gram shingles of many texts at once, hashed to 64 bits without a Python loop per word.

The shingles are exactly those of the reference definition below (`reference_shingles`): word
n-grams of `normalize_for_shingles(text).split()`. The vectorised path gets there on the UTF-8
bytes of a whole batch:

    bytes (n_bytes,) -> non-space bytes -> word starts -> word hashes (n_words,) uint64
    -> n-gram hashes (n_shingles,) uint64, with offsets (n_docs + 1,) into them

Written by hand because no library hashes word n-grams of a batch of strings in numpy; a word hash
is tabulation hashing (XOR of a random 64-bit value per byte, rotated by the byte's position in the
word), which needs one table lookup per byte and one `xor.reduceat` per batch.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np
from thresher.dedup.tables import kept_on_disk

# The ASCII bytes `str.split()` treats as whitespace (\t \n \v \f \r, \x1c-\x1f, space).
_WS = np.zeros(256, dtype=bool)
_WS[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_NOT_WS = ~_WS
# Non-ASCII whitespace that NFKC does not turn into a space; mapped to " " before encoding.
_UNICODE_SPACES = "\x85\u1680\u2028\u2029"
_UNICODE_WS = re.compile(f"[{_UNICODE_SPACES}]")


def _rotated_table(seed: int) -> np.ndarray:
    """(64 * 256,) uint64: entry [r * 256 + byte] = rotl(T[byte], r) for a random table T."""
    t = np.random.default_rng(seed).integers(0, 2**64, size=256, dtype=np.uint64, endpoint=False)
    out = np.empty((64, 256), dtype=np.uint64)
    for r in range(64):
        out[r] = (t << np.uint64(r)) | (t >> np.uint64((64 - r) % 64)) if r else t
    out[:, _WS] = 0  # spaces add nothing to a word's hash
    return out.ravel()


_TABLE = _rotated_table(0x7E5E)
# Odd multipliers that combine n word hashes into one n-gram hash (one per position).
_GRAM_MUL = np.random.default_rng(0x9E37).integers(1, 2**63, size=32, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def normalize_for_shingles(text: str) -> str:
    """NFKC, lower case, and every Unicode space as a space: 'Ａ\u2028B' -> 'a b'."""
    text = unicodedata.normalize("NFKC", text).lower()
    return text if text.isascii() else _UNICODE_WS.sub(" ", text)


FAST_LIMIT = 0x20000  # code points the fused kernel normalises itself (BMP and SMP: emoji, old scripts)
SLOW = np.int32(-1)  # a code point whose text goes through normalize_for_shingles instead
EXPAND = 1 << 30  # an entry that stands for several: see fast_normalisation_table
MAYBE = 1 << 29  # an entry that may compose with the starter before it: see composition_keys


def fast_normalisation_table() -> np.ndarray:
    """(FAST_LIMIT + tail,) int32: how the fused kernel (dedup/fused.py) gets `normalize_for_shingles` of a
    text without building it, one code point at a time: entry = ccc << 21 | the code point it
    becomes (| MAYBE, | EXPAND: below), or SLOW where that cannot be decided alone.

    NFKC leaves a text unchanged when each of its code points has NFKC_Quick_Check=Yes and the
    canonical combining classes (ccc) of adjacent non-starters never decrease (UAX #15's quick
    check; the kernel checks the order). Quick_Check=Yes is taken as "NFKC of the code point alone
    is itself, and it is never the second half of a canonical composition"; marking too many SLOW
    only costs speed. The second halves (Quick_Check=Maybe: Indic vowel signs, combining accents)
    are MAYBE: the kernel looks the last starter up in composition_keys and sends the text to
    Python when they may compose or reorder (Hangul vowel and trailing jamo compose by rule: SLOW).
    After NFKC, `str.lower` maps one code point to one, except
    U+0130 (two code points) and capital sigma (its final form depends on the neighbours): SLOW
    (the kernel decides sigma itself from case_properties).
    The four non-ASCII spaces that NFKC keeps become " ". Built from `unicodedata` itself, so it
    follows the running Python's Unicode version; about 0.1 s, once per process.
    """
    return _fast_tables()[0]


@functools.cache
def case_properties() -> np.ndarray:
    """(len(fast_normalisation_table()),) uint8, entry for entry: CASED, CASE_IGNORABLE or 0 for the
    code point NFKC makes there (before lower-casing), as `str.lower` sees it when it picks capital
    sigma's final form (cased, case-ignorable* SIGMA, not followed by case-ignorable* cased)."""
    return _fast_tables()[1]


CASED, CASE_IGNORABLE = 1, 2


def _case_property(chars: list[str]) -> np.ndarray:
    """(len(chars),) uint8: CASED, CASE_IGNORABLE or 0 for each one-code-point string, asked of
    `str.lower` itself (Python has no API for these two properties): x + SIGMA lowers to the final
    form when x is cased and not case-ignorable; "A" + x + SIGMA also when x is case-ignorable.
    NUL, which is neither, keeps each test apart."""
    def final(prefix: str) -> np.ndarray:
        low = "\0".join(prefix + x + "\u03a3" for x in chars).lower().split("\0")
        return np.array([t[-1] == "\u03c2" for t in low], dtype=bool)

    alone, after_cased = final(""), final("A")
    return np.where(alone, CASED, np.where(after_cased, CASE_IGNORABLE, 0)).astype(np.uint8)


@functools.cache
def _fast_tables() -> tuple[np.ndarray, np.ndarray]:
    """(fast_normalisation_table(), case_properties()), built together (the code points of the tail
    are known only there) and kept on disk (dedup/tables.py): 0.3-0.4 s to build in each process,
    a fixed cost of every dedup run, against a millisecond to load."""
    both = kept_on_disk("shingle-tables", lambda: np.stack([t.astype(np.int32) for t in _build_fast_tables()]),
                        __file__)
    return both[0].copy(), both[1].astype(np.uint8)


def _build_fast_tables() -> tuple[np.ndarray, np.ndarray]:
    """(the table, the case properties), the same length: entry for entry."""
    chars = [chr(c) for c in range(1, FAST_LIMIT)]  # U+0000 is ASCII, and the separator below
    # One call each over all code points, "\0"-separated: NUL is a starter that composes with
    # nothing, so no code point's result depends on its neighbours here (capital sigma aside: SLOW).
    nfkc = unicodedata.normalize("NFKC", "\0".join(chars)).split("\0")
    lower = "\0".join(chars).lower().split("\0")
    maybe = {s for _, s in _canonical_pairs()}  # may compose with the starter before them
    slow = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V, T jamo: composed by rule
    slow |= set(range(0xD800, 0xE000)) | {0x3A3}  # lone surrogates (left to surrogatepass); sigma
    out = np.full(FAST_LIMIT, SLOW, dtype=np.int32)
    out[0] = 0
    for c, ch, nf, low in zip(range(1, FAST_LIMIT), chars, nfkc, lower):
        if nf == ch and len(low) == 1 and c not in slow:
            out[c] = (MAYBE if c in maybe else 0) | unicodedata.combining(ch) << 21 | (
                32 if low in _UNICODE_SPACES else ord(low))
    # A code point that NFKC replaces (fullwidth forms, ligatures, "…", no-break spaces): when
    # each code point of its replacement is fast itself, NFKC(text) is the text's replacements
    # put together as long as those pass the quick check (NFKD of both sides is the same), so the
    # kernel emits the replacement's entries: EXPAND | index into the tail, which holds
    # [count, entry, entry, ...]. A MAYBE code point after a starter of the same replacement
    # (U+00B8 CEDILLA -> " " U+0327, the other spacing accents) composes with nothing: that starter
    # blocks the text before it, NFKC of the code point alone left the two apart, and the kernel
    # sends the text to Python when a MAYBE follows a replacement. Its entry goes in without MAYBE.
    tail, tail_chars = [], []
    for c, ch, nf in zip(range(1, FAST_LIMIT), chars, nfkc):
        # at most one word from one code point: the kernel's buffers hold one word per code point
        # (U+FDFA, U+FDFB are phrases: SLOW)
        if nf != ch and c not in slow and c not in maybe and len(nf.split()) <= 1:
            entries = [int(out[ord(x)]) if ord(x) < FAST_LIMIT else -1 for x in nf]
            after_starter = [any(e >> 21 & 0xFF == 0 for e in entries[:j]) for j in range(len(entries))]
            if min(entries) >= 0 and all(not e & MAYBE or s for e, s in zip(entries, after_starter)):
                out[c] = EXPAND | (FAST_LIMIT + len(tail))
                tail += [len(entries), *(e & ~MAYBE for e in entries)]
                tail_chars += [" ", *nf]  # the count's slot: a property nobody reads
    props = _case_property([" ", *chars, *tail_chars])  # U+0000 is neither, as " " is
    return np.concatenate([out, np.array(tail, dtype=np.int32)]), props


@functools.cache
def _canonical_pairs() -> list[tuple[int, int]]:
    """(first, second) of every two-code-point canonical decomposition below FAST_LIMIT."""
    pairs = []
    for c in range(FAST_LIMIT):
        dec = unicodedata.decomposition(chr(c))
        if dec and dec[0] != "<" and len(parts := dec.split()) == 2:
            pairs.append((int(parts[0], 16), int(parts[1], 16)))
    return pairs


@functools.cache
def composition_keys() -> np.ndarray:
    """_composition_keys(), kept on disk (dedup/tables.py)."""
    return kept_on_disk("composition-keys", _composition_keys, __file__)


def _composition_keys() -> np.ndarray:
    """Sorted int64 keys the fused kernel looks up when a MAYBE code point C follows the starter L:
    L << 21 | C for each canonical pair that NFKC composes, and L << 21 for each
    L with a canonical decomposition (its marks may reorder with a C that is not a starter)."""
    # a pair NFKC leaves apart (its composite is excluded from composition: the Devanagari nukta
    # letters U+0958-U+095F, Hebrew presentation forms) never composes, whatever stands around it
    keys = {f << 21 | s for f, s in _canonical_pairs()
            if unicodedata.normalize("NFKC", chr(f) + chr(s)) != chr(f) + chr(s)}
    keys |= {c << 21 for c in range(FAST_LIMIT) if (d := unicodedata.decomposition(chr(c))) and d[0] != "<"}
    return np.array(sorted(keys), dtype=np.int64)


def reference_shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """The shingle set the fast path hashes: word n-grams; a text of fewer than n words is one
    shingle of all its words; an empty text has none. 'a b c' (n=2) -> {('a','b'), ('b','c')}."""
    words = normalize_for_shingles(text).split()
    if not words:
        return set()
    return {tuple(words[i:i + n]) for i in range(max(len(words) - n + 1, 1))}


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place on a uint64 array (and returned): spreads every input bit."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def word_hashes(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Hash every whitespace-separated word of `data` (UTF-8).

    Returns (hashes (n_words,) uint64, word start byte offsets (n_words,) int64). Equal words get
    equal hashes wherever they stand.
    """
    b = np.frombuffer(data, dtype=np.uint8)
    if b.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    word = _NOT_WS[b]  # (n_bytes,) bool
    starts = np.empty(b.size, dtype=bool)  # a word starts at a non-space byte after a space
    starts[0] = word[0]
    np.greater(word[1:], word[:-1], out=starts[1:])
    wstart = np.flatnonzero(starts)  # (n_words,)
    if wstart.size == 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    # table index = (byte position mod 64) * 256 + byte; spaces index a zero row, so a word's
    # segment may run on over the spaces after it. Each word's XOR is rotated back by its start
    # below, so only the position inside the word counts.
    idx = _positions(b.size)
    idx |= b
    h = np.bitwise_xor.reduceat(_TABLE.take(idx), wstart)
    r = (wstart & 63).astype(np.uint64)
    h = (h >> r) | (h << ((np.uint64(64) - r) & np.uint64(63)))
    return mix64(h), wstart


def _positions(n: int) -> np.ndarray:
    """(n,) int32: (i mod 64) * 256, a fresh copy (the caller ORs bytes into it)."""
    global _POS
    if _POS.size < n:
        _POS = (np.arange(max(n, 2 * _POS.size), dtype=np.int32) & 63) << 8
    return _POS[:n].copy()


_POS = np.zeros(0, np.int32)


def shingle_hashes(texts: list[str], n: int = 5, normalized: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word n-gram shingles of each text (see `reference_shingles`).

    Returns (hashes (n_shingles,) uint64, offsets (len(texts) + 1,) int64): text i owns
    hashes[offsets[i]:offsets[i+1]]; an empty text owns none. Repeated shingles inside a text are
    repeated here; MinHash does not care.
    """
    if not normalized:
        texts = [normalize_for_shingles(t) for t in texts]
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    n_docs = len(encoded)
    doc_start = np.zeros(n_docs + 1, dtype=np.int64)  # byte offset of each text in the batch
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n_docs) + 1, out=doc_start[1:])
    w, wpos = word_hashes(b"\n".join(encoded))
    first_word = np.searchsorted(wpos, doc_start)  # (n_docs + 1,) first word of each text
    nwords = np.diff(first_word)
    nlong = np.maximum(nwords - n + 1, 0)  # full n-grams per text
    short = np.flatnonzero((nwords > 0) & (nwords < n))  # texts of 1..n-1 words: one shingle each
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(nlong + np.isin(np.arange(n_docs), short), out=offsets[1:])
    # n-gram g of the batch covers words g..g+n-1: a sum of n shifted slices, no gather. Those
    # that run over the end of their text (its last n-1 starts) are dropped.
    n_grams = max(w.size - n + 1, 0)
    h = np.zeros(n_grams, dtype=np.uint64)
    for j in range(n):
        h += w[j:j + n_grams] * _GRAM_MUL[j]
    bad = np.zeros(n_grams, dtype=bool)
    ends = first_word[1:]
    for j in range(1, n):
        at = ends - j
        bad[at[(at >= 0) & (at < n_grams)]] = True
    h = h[~bad]
    if short.size:  # a short text's one shingle: its words, then "no word" (hash 0) up to n
        hs = np.zeros(short.size, dtype=np.uint64)
        for j in range(n - 1):
            has = nwords[short] > j
            hs[has] += w[first_word[short[has]] + j] * _GRAM_MUL[j]
        h = np.insert(h, np.cumsum(nlong)[short] - nlong[short], hs)
    return mix64(h), offsets


def shingle_sets(h32: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document's shingle hashes -> its set: sorted, without repeats. Same layout in and out:
    document i owns values[offsets[i]:offsets[i+1]].

    >>> h, o = shingle_sets(np.array([5, 3, 5, 9, 9], np.uint32), np.array([0, 3, 3, 5]))
    >>> h.tolist(), o.tolist()
    ([3, 5, 9], [0, 2, 2, 3])
    """
    n = len(offsets) - 1
    doc = np.repeat(np.arange(n, dtype=np.uint64), np.diff(offsets))
    key = np.sort((doc << np.uint64(32)) | np.asarray(h32, dtype=np.uint64))  # (doc, hash) order
    first = np.ones(key.size, dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key = key[first]
    out = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount((key >> np.uint64(32)).astype(np.int64), minlength=n), out=out[1:])
    return (key & np.uint64(0xFFFFFFFF)).astype(np.uint32), out
