"""MinHash signatures straight from raw text in one fused pass per document (numba).

The numpy path (normalize_for_shingles, shingles.shingle_hashes, then MinHasher.from_hashes) makes
the same signatures in stages, each a pass through memory: normalised strings, word hashes, n-gram
hashes, then a (num_perm, 4096) block of permuted hashes per 4096 shingles. Here each code point is
read once, from the joined str where CPython keeps it (no UTF-8 encoding first): the kernel
normalises it through a table (shingles.fast_normalisation_table; the few texts it cannot decide
alone go through normalize_for_shingles), adds the UTF-8 bytes of what it becomes to its word's
hash with one rotate and XOR (their contribution is precomputed per entry), then folds the text's
shingles into its signature eight at a time in a loop without branches (the code point loop
mispredicts once or twice per word; kept apart, the shingles' multiply chains overlap). numba
because no library hashes word n-grams and min-permutes them in one loop, and a compiled kernel is
the only way to stop paying for temporaries (`cache=True`: the machine code is kept beside this
file after the first compile, so worker processes load it instead of compiling again).

The result is bit-identical to the numpy path (tests/dedup/test_minhash.py compares them):

    word hash   XOR over the word's bytes of rotl(T[byte], position in word mod 64), then splitmix64
    n-gram      sum of word hash j times GRAM_MUL[j] (wrapping), then splitmix64, high 32 bits
    a text of 1..n-1 words is one shingle of its words; an empty text has none (EMPTY everywhere)
    signature   min over shingles of a_k * fmix32(h32) + b_k (mod 2**32), for each permutation k
"""

from __future__ import annotations

import functools
import sys

import numpy as np
from thresher.dedup.shingles import CASE_IGNORABLE, CASED, EXPAND, FAST_LIMIT, MAYBE, SLOW

class _NoBlasProbe:
    """An import finder that makes scipy.linalg read as missing to numba's BLAS probe, once.

    numba's first compile or cache load in a process imports numba.np.arraymath, whose `_check_blas`
    imports scipy.linalg only to choose the inner product that compiled np.convolve and np.correlate
    use. That import costs 0.13-0.3 s per process (scipy._lib builds its array-API modules), a
    fifth of the dedup stage on 15 MB, and no thresher kernel does linear algebra. With the probe
    told no, those two functions use numba's own loop; np.dot and np.linalg in compiled code still
    import scipy.linalg themselves when they compile. Only that call is answered, in the thread that
    makes it; then the finder removes itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "scipy.linalg":
            return None
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "_check_blas" and frame.f_globals.get("__name__") == "numba.np.arraymath":
                self.remove()
                raise ImportError("scipy.linalg left unimported for numba's BLAS probe (thresher/dedup/fused.py)")
            frame = frame.f_back
        return None

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def _skip_numbas_blas_probe() -> None:
    """Install `_NoBlasProbe` unless the probe would be free (scipy.linalg or numba's arraymath
    imported already)."""
    if "scipy.linalg" not in sys.modules and "numba.np.arraymath" not in sys.modules:
        sys.meta_path.insert(0, _NoBlasProbe())


try:  # numba is a core dependency; the numpy path stays as the reference and the fallback
    import numba
except ImportError:  # pragma: no cover - exercised only where numba cannot be installed
    numba = None

if numba is not None:
    # the code point at an index of a str, read where CPython keeps it (1, 2 or 4 bytes a code
    # point): numba's own accessor, private but what its str methods are built on (0.60-0.68
    # here). A str argument is not copied, so no text is encoded to UTF-8 before the kernel. Not
    # under the try: a numba without it must fail loudly, not fall back to the numpy path.
    try:
        from numba.cpython.unicode import _get_code_point
    except ImportError as e:  # pragma: no cover - a numba that moved its private accessor
        raise ImportError(f"thresher's MinHash kernel reads str through numba.cpython.unicode._get_code_point, which "
                          f"numba {numba.__version__} does not have (it was checked with 0.60-0.68): install "
                          "'numba>=0.60,<0.69'") from e

    _skip_numbas_blas_probe()
    njit = numba.njit(cache=True, nogil=True, fastmath=False)
    # helpers numba puts into their callers: a call that passes arrays costs about as much as
    # hashing 20 code points (it increfs and decrefs each array)
    inline = numba.njit(cache=True, nogil=True, fastmath=False, inline="always")
else:  # pragma: no cover - the plain functions are never called (`available` is False)
    def njit(f):
        return f
    inline = njit


@njit
def mix64(x):
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


# numba widens uint32 arithmetic to 64 bits, so the 32-bit steps mask explicitly
M32 = np.uint64(0xFFFFFFFF)


@njit
def fmix32(h):
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M32
    h ^= h >> np.uint64(16)
    return h


@inline
def fold(sig_row, h, a, b):
    """Fold one shingle into a signature row, in place: sig_row (K,) uint32; h: fmix32 of the high
    32 bits of the shingle's hash, the value each permutation (a, b: (K,) uint32) maps."""
    for k in range(sig_row.size):
        # numba types the product as uint64; the cast back keeps its low 32 bits (the mod 2**32),
        # and LLVM narrows the loop to 32-bit lanes (vpmulld, vpminud)
        sig_row[k] = min(sig_row[k], np.uint32(a[k] * h + b[k]))


@inline
def fold8(sig_row, h, a, b):
    """`fold` of eight shingles in one pass over the row, h: (8,) uint32: an eighth of the row's
    loads and stores (the pass is bound by the vector units: a multiply, an add and a min per
    shingle and permutation)."""
    h0, h1, h2, h3, h4, h5, h6, h7 = h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]
    for k in range(sig_row.size):
        ak, bk = a[k], b[k]
        m0 = min(np.uint32(ak * h0 + bk), np.uint32(ak * h1 + bk))
        m1 = min(np.uint32(ak * h2 + bk), np.uint32(ak * h3 + bk))
        m2 = min(np.uint32(ak * h4 + bk), np.uint32(ak * h5 + bk))
        m3 = min(np.uint32(ak * h6 + bk), np.uint32(ak * h7 + bk))
        sig_row[k] = min(sig_row[k], min(min(m0, m1), min(m2, m3)))


@njit
def fold_words(words, nw, n, gram_mul, row, a, b, out, k, grams, hs):
    """Fold the shingles of a text of nw words into its signature row, given the words' hashes
    before mixing (words[:nw], uint64; overwritten): the n-grams, or one shingle of all its words
    when there are fewer than n. Apart from the code point loop so that these loops have no branch
    to mispredict; each step is a loop over all the text's words or shingles (grams, hs: (>= nw,)
    uint64 and uint32 buffers), which LLVM vectorises, then eight shingles per pass over the row.
    Writes each shingle's 32-bit hash at out[k], k + 1, ... when out is not empty; returns k after
    them."""
    m = min(n, nw)  # words per shingle: a short text is one shingle of its words
    ns = max(nw - n + 1, 1) if nw > 0 else 0
    for t in range(nw):
        words[t] = mix64(words[t])
    g = gram_mul[0]
    for s in range(ns):  # the shingle hashes: a sum over the shingle's words, position by position
        grams[s] = words[s] * g
    for j in range(1, m):
        g = gram_mul[j]
        for s in range(ns):
            grams[s] += words[s + j] * g
    for s in range(ns):
        grams[s] = mix64(grams[s])
        hs[s] = np.uint32(fmix32(grams[s] >> np.uint64(32)))
    s = 0
    while s + 8 <= ns:
        fold8(row, hs[s:s + 8], a, b)
        s += 8
    for s in range(s, ns):
        fold(row, hs[s], a, b)
    if out.size > 0:
        for s in range(ns):
            out[k + s] = np.uint32(grams[s] >> np.uint64(32))
        k += ns
    return k


@njit
def rotl(x, r):
    """x (uint64) rotated left by r bits, 0 <= r < 64 (LLVM makes it one rol)."""
    r = np.uint64(r)
    return (x << r) | (x >> ((np.uint64(64) - r) & np.uint64(63)))


@njit
def utf8_contribution(c, t0):
    """(XOR over the UTF-8 bytes of code point c of rotl(t0[byte], its index), the byte count);
    surrogates as surrogatepass writes them. t0: (256,) uint64, the hash table's row 0."""
    if c < 0x80:
        return t0[c], 1
    if c < 0x800:
        return t0[0xC0 | c >> 6] ^ rotl(t0[0x80 | c & 0x3F], 1), 2
    if c < 0x10000:
        return t0[0xE0 | c >> 12] ^ rotl(t0[0x80 | (c >> 6) & 0x3F], 1) ^ rotl(t0[0x80 | c & 0x3F], 2), 3
    return (t0[0xF0 | c >> 18] ^ rotl(t0[0x80 | (c >> 12) & 0x3F], 1) ^ rotl(t0[0x80 | (c >> 6) & 0x3F], 2)
            ^ rotl(t0[0x80 | c & 0x3F], 3)), 4


@njit
def _kernel(text, starts, n, t0, is_ws, gram_mul, a, b, sig, out, ends):
    """The texts as they are (already normalised). text: str, all texts joined, text i at
    text[starts[i]:starts[i+1]] (code points); t0: (256,) uint64, the hash table's row 0 (0 for
    spaces); is_ws: (256,) bool; gram_mul: (>= n,) uint64; a, b: (K,) uint32; sig: (n_docs, K)
    uint32 filled with EMPTY, written in place. out: (0,) or (>= len(text) + 1,) uint32: when not
    empty, the text's shingle set is written there too (its 32-bit shingle hashes sorted, without
    repeats), text i's at out[ends[i-1]:ends[i]] (ends: (n_docs,) int64)."""
    longest = np.max(starts[1:] - starts[:-1]) if starts.size > 1 else 0
    words = np.zeros(longest + 1, dtype=np.uint64)  # a text's word hashes: at most one per code point
    grams, hs = np.zeros(longest + 1, dtype=np.uint64), np.zeros(longest + 1, dtype=np.uint32)  # its shingles'
    keep = out.size > 0
    scratch = np.zeros(longest + 1 if keep else 0, dtype=np.uint32)  # for sorting its set
    counts = np.zeros((4, 256), dtype=np.int64)
    k = 0  # shingles written to out so far
    for d in range(starts.size - 1):
        first = k
        count = 0  # words of this text so far
        h = np.uint64(0)
        pos = 0  # the next byte's position in its word; 0 between words (h is 0 there too)
        i, stop = starts[d], starts[d + 1]
        while i < stop:
            c = np.int64(_get_code_point(text, i))
            i += 1
            if c >= 0x80:  # never a space: only ASCII spaces part words
                x, nb = utf8_contribution(c, t0)
                h ^= rotl(x, pos & 63)
                pos += nb
                continue
            while True:  # a run of ASCII, a loop of its own, without branches on spaces
                h ^= rotl(t0[c], pos & 63)  # (as in _kernel_normalising)
                ws = is_ws[c]
                words[count] = h
                count += ws & (pos > 0)
                h = np.uint64(0) if ws else h
                pos = 0 if ws else pos + 1
                if i == stop:
                    break
                c = np.int64(_get_code_point(text, i))
                if c >= 0x80:
                    break
                i += 1
        if pos > 0:
            words[count] = h
            count += 1
        k = fold_words(words, count, n, gram_mul, sig[d], a, b, out, k, grams, hs)
        if keep:
            k = sorted_set(out, first, k, scratch, counts)
            ends[d] = k


@njit
def contains(keys, key):
    """Whether the sorted array keys holds key (binary search)."""
    at = np.searchsorted(keys, key)
    return at < keys.size and keys[at] == key


@njit
def radix_sort(x, tmp, counts):
    """Sort x (uint32) in place: least significant byte first, four passes through tmp (same size)
    and back, counts (4, 256) int64 the bytes' histograms. Written by hand: numba's quicksort took
    two thirds of a pass that keeps the shingle sets (about 40 ns a hash, this about 5)."""
    if x.size < 24:  # about where numba's sort catches up (16: 27 ns a hash each; 64: 23 against 10)
        x.sort()
        return
    counts[:] = 0
    for v in x:
        counts[0, v & 0xFF] += 1
        counts[1, (v >> 8) & 0xFF] += 1
        counts[2, (v >> 16) & 0xFF] += 1
        counts[3, v >> 24] += 1
    src, dst = x, tmp
    for p in range(4):
        at = 0  # each byte value's first place in dst
        for v in range(256):
            c = counts[p, v]
            counts[p, v] = at
            at += c
        shift = np.uint32(8 * p)
        for v in src:
            digit = (v >> shift) & 0xFF
            dst[counts[p, digit]] = v
            counts[p, digit] += 1
        src, dst = dst, src  # four passes: the result ends in x


@njit
def sorted_set(out, first, k, scratch, counts):
    """Sort out[first:k] and drop repeats in place; returns the new end. scratch: (>= k - first,)
    uint32; counts: (4, 256) int64, both overwritten."""
    radix_sort(out[first:k], scratch[:k - first], counts)
    m = first
    for t in range(first, k):
        if t == first or out[t] != out[m - 1]:
            out[m] = out[t]
            m += 1
    return m


@njit
def final_sigma(text, first, at, stop, norm, props):
    """Whether the capital sigma at text[at] lowers to the final form in normalize_for_shingles
    (str.lower's rule, over NFKC's code points: the first not case-ignorable one before it is cased,
    the first after it is not, or there is none): 1 or 0, or -1 when a neighbour it has to look at
    is not in the table (the text goes to Python). Text from first to stop; props: case_properties()
    with norm's indices."""
    verdict = 0
    for step in (-1, 1):
        j = at + step
        p = CASE_IGNORABLE  # then the first neighbour's property that is not (none: the text's end)
        while first <= j < stop and p == CASE_IGNORABLE:
            c = np.int64(_get_code_point(text, j))
            j += step
            e = norm[c] if c < FAST_LIMIT else -1
            t, m = c, 1  # its entries: m from norm[t] on
            if e >= EXPAND:
                t = e & 0x1FFFFF
                m = norm[t]
                t += 1
            elif e < 0 and e != SIGMA:
                return -1
            for q in range(m):
                p = props[t + (q if step > 0 else m - 1 - q)]
                if p != CASE_IGNORABLE:
                    break
        if step < 0:
            if p != CASED:
                return 0
        else:
            verdict = 0 if p == CASED else 1
    return verdict


@njit
def _kernel_normalising(text, starts, n, cont, is_ws, gram_mul, a, b, sig, out, ends, norm, compose, props, slow):
    """`_kernel` for raw texts: each code point is normalised through norm (_tables():
    fast_normalisation_table() with U+0130 and capital sigma decided here) and the UTF-8 bytes of what it
    becomes hashed (cont: their contribution, by norm's index), so signatures(normalize_for_shingles(text))
    comes out without that string being built. A text that meets a SLOW code point, a combining
    mark out of canonical order (UAX #15's quick check), a MAYBE code point that may compose or
    reorder with the starter before it (compose: shingles.composition_keys()), or a sigma whose
    neighbours the table cannot tell (props: case_properties() for norm) is left with the EMPTY
    signature and no shingles, and slow[i] is set (slow: (n_docs,) bool): the caller normalises it
    in Python and hashes it again. The other arguments as `_kernel`'s."""
    longest = np.max(starts[1:] - starts[:-1]) if starts.size > 1 else 0
    words = np.zeros(longest + 1, dtype=np.uint64)  # a text's word hashes: at most one per code point
    grams, hs = np.zeros(longest + 1, dtype=np.uint64), np.zeros(longest + 1, dtype=np.uint32)  # its shingles'
    keep = out.size > 0
    scratch = np.zeros(longest + 1 if keep else 0, dtype=np.uint32)  # for sorting its set
    counts = np.zeros((4, 256), dtype=np.int64)
    k = 0  # shingles written to out so far
    for d in range(starts.size - 1):
        first = k
        count = 0  # words of this text so far
        h = np.uint64(0)
        pos = 0  # the next byte's position in its word; 0 between words (h is 0 there too)
        last_ccc = 0
        starter = 0  # the last starter as it came (NFKC leaves it so); -1: one of a replacement
        i, stop = starts[d], starts[d + 1]
        bad = False  # this text goes to Python
        while i < stop:
            c = np.int64(_get_code_point(text, i))
            if c < 0x80:  # ASCII, the common case: a starter; entry = the lower-case code point
                while True:  # the run of ASCII, a loop of its own
                    # spaces' contributions are 0: XOR without asking. No branch on spaces (one
                    # mispredicted per word cost a third of the loop): the word is stored at every
                    # byte and kept (count moves on) only where it ends
                    h ^= rotl(cont[c], pos & 63)
                    ws = is_ws[c]
                    words[count] = h
                    count += ws & (pos > 0)
                    h = np.uint64(0) if ws else h
                    pos = 0 if ws else pos + 1
                    i += 1
                    if i == stop:
                        break
                    c2 = np.int64(_get_code_point(text, i))
                    if c2 >= 0x80:
                        break
                    c = c2
                starter, last_ccc = c, 0
                continue
            i += 1
            e = norm[c] if c < FAST_LIMIT else SLOW
            if 0 <= e < MAYBE:  # one code point without flags: the common case outside ASCII
                ccc = e >> 21
                if ccc != 0 and last_ccc > ccc:
                    bad = True
                    break
                if ccc == 0:
                    starter = c
                last_ccc = ccc
                # the UTF-8 bytes of what c becomes, in one rotate and XOR. Written out here and
                # below: a helper, even inlined by numba, increfs the arrays it is given each time
                h ^= rotl(cont[c], pos & 63)
                cp = e & 0x1FFFFF
                if cp >= 0x80:  # never a space (every Unicode space is " " here, or SLOW)
                    pos += 2 + (cp >= 0x800) + (cp >= 0x10000)
                else:
                    pos += 1
                    if is_ws[cp]:
                        if pos > 1:
                            words[count] = h
                            count += 1
                        h, pos = np.uint64(0), 0
                continue
            t, m = c, 1  # the entries: m of them from norm[t] on
            expanded = e >= EXPAND  # NFKC's replacement of c: its starters are not c
            if expanded:
                t = e & 0x1FFFFF
                m = norm[t]
                t += 1
            elif e == SIGMA:
                final = final_sigma(text, starts[d], i - 1, stop, norm, props)
                if final < 0:
                    bad = True
                    break
                t = 0x3C2 if final else 0x3C3  # their own entries: starters NFKC keeps
            elif e < 0:
                bad = True
                break
            elif e & MAYBE:  # composes with the last starter, or reorders with its marks?
                key = np.int64(starter) << 21
                if starter < 0 or contains(compose, key | c) or ((e >> 21) & 0xFF != 0 and contains(compose, key)):
                    bad = True
                    break
            for q in range(m):
                e = norm[t + q]
                ccc = (e >> 21) & 0xFF
                if ccc != 0 and last_ccc > ccc:
                    bad = True
                    break
                if ccc == 0:
                    starter = -1 if expanded else c
                last_ccc = ccc
                h ^= rotl(cont[t + q], pos & 63)  # as above
                cp = e & 0x1FFFFF
                if cp >= 0x80:
                    pos += 2 + (cp >= 0x800) + (cp >= 0x10000)
                else:  # spaces (no-break, ideographic, ...) among them
                    pos += 1
                    if is_ws[cp]:
                        if pos > 1:
                            words[count] = h
                            count += 1
                        h, pos = np.uint64(0), 0
            if bad:
                break
        if bad:  # nothing folded yet (that comes after the text): the caller hashes it again
            slow[d] = True
            if keep:
                ends[d] = k
            continue
        if pos > 0:
            words[count] = h
            count += 1
        k = fold_words(words, count, n, gram_mul, sig[d], a, b, out, k, grams, hs)
        if keep:  # this text's hashes are out[first:k]: its set
            k = sorted_set(out, first, k, scratch, counts)
            ends[d] = k


def available() -> bool:
    return numba is not None


def signatures(texts: list[str], n: int, a: np.ndarray, b: np.ndarray, empty: np.uint32,
               shingles: bool = False, normalized: bool = True
               ) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(len(texts), K) uint32 MinHash signatures of the texts (see the module doc); unless
    `normalized`, of normalize_for_shingles(text), most of them normalised inside the kernel.
    With `shingles`: (sig, sets (n,) uint32, offsets (len(texts) + 1,) int64), each text's shingle
    set from the same pass: the 32-bit hashes the signature was made of, sorted, without repeats."""
    from thresher.dedup.shingles import fast_normalisation_table, normalize_for_shingles

    norm = _NO_NORM if normalized else fast_normalisation_table()
    sig, sets, offsets, slow = _run(texts, n, a, b, empty, shingles, norm)
    if not normalized and slow.any():  # the few texts the table cannot normalise alone
        idx = np.flatnonzero(slow)
        sig2, sets2, offsets2, _ = _run([normalize_for_shingles(texts[i]) for i in idx], n, a, b, empty,
                                        shingles, _NO_NORM)
        sig[idx] = sig2
        if shingles:  # splice their sets in: the first pass left them empty
            lengths = np.diff(offsets)
            lengths[idx] = np.diff(offsets2)
            offsets = np.zeros(len(texts) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            at_slow = np.repeat(slow, lengths)
            merged = np.empty(offsets[-1], dtype=np.uint32)
            merged[~at_slow], merged[at_slow] = sets, sets2
            sets = merged
    return (sig, sets, offsets) if shingles else sig


_NO_NORM = np.zeros(0, dtype=np.int32)
SIGMA = np.int32(-2)  # capital sigma's entry in the kernel's table: final or not, by its neighbours


@functools.cache
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The normalising kernel's (norm, cont, props): fast_normalisation_table() with what only
    lower-casing made SLOW decided here: capital sigma's entry SIGMA (the kernel looks at its
    neighbours, final_sigma), U+0130 (NFKC keeps it, a starter; it lowers to "i" U+0307) a
    replacement of those two, the mark's class kept so that the marks after it pass the quick
    check as they would after U+0307; cont (len(norm),) uint64: for each entry that is a code
    point, the contribution of its UTF-8 bytes to a word's hash at rotation 0 (one rotate and XOR
    per code point in the kernel; 0 for spaces); props: shingles.case_properties() for norm."""
    from thresher.dedup.shingles import _TABLE, case_properties, fast_normalisation_table

    norm, props = fast_normalisation_table(), case_properties()
    dotted = [int(norm[ord("i")]), 230 << 21 | 0x307]  # "İ".lower() == "i\u0307"
    norm = np.concatenate([norm, [len(dotted), *dotted]]).astype(np.int32)
    props = np.concatenate([props, [0, props[0x130], props[0x130]]]).astype(np.uint8)  # as İ's
    norm[0x130] = EXPAND | (norm.size - len(dotted) - 1)
    norm[0x3A3] = SIGMA
    cp = (norm & 0x1FFFFF).astype(np.int64)
    cp[(norm < 0) | (norm >= EXPAND)] = 0  # not a code point: 0 contributes 0
    t = _TABLE.reshape(64, 256)  # t[r, byte] = rotl(T[byte], r)
    cont = np.where(cp < 0x80, t[0, cp & 0x7F], 0)
    two, three, four = (cp >= 0x80) & (cp < 0x800), (cp >= 0x800) & (cp < 0x10000), cp >= 0x10000
    cont[two] = t[0, 0xC0 | cp[two] >> 6] ^ t[1, 0x80 | cp[two] & 0x3F]
    c = cp[three]
    cont[three] = t[0, 0xE0 | c >> 12] ^ t[1, 0x80 | (c >> 6) & 0x3F] ^ t[2, 0x80 | c & 0x3F]
    c = cp[four]
    cont[four] = (t[0, 0xF0 | c >> 18] ^ t[1, 0x80 | (c >> 12) & 0x3F] ^ t[2, 0x80 | (c >> 6) & 0x3F]
                  ^ t[3, 0x80 | c & 0x3F])
    return norm, cont.astype(np.uint64), props


def _run(texts, n, a, b, empty, shingles, norm):
    from thresher.dedup.shingles import _GRAM_MUL, _TABLE, _WS, composition_keys

    text = "".join(texts)  # numba reads it where it lies; offsets in code points
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)), out=starts[1:])
    sig = np.full((len(texts), a.size), empty, dtype=np.uint32)
    # every shingle ends at its own word, and a word has at least one code point: the code points
    # bound the count (+ 1: out is not empty when shingles are asked for)
    out = np.empty(len(text) + 1 if shingles else 0, dtype=np.uint32)
    ends = np.zeros(len(texts) if shingles else 0, dtype=np.int64)
    slow = np.zeros(len(texts), dtype=bool)
    a, b = a.ravel().astype(np.uint32), b.ravel().astype(np.uint32)
    if norm.size:
        norm, cont, props = _tables()
        _kernel_normalising(text, starts, n, cont, _WS, _GRAM_MUL, a, b, sig, out, ends, norm,
                            composition_keys(), props, slow)
    else:
        _kernel(text, starts, n, _TABLE[:256], _WS, _GRAM_MUL, a, b, sig, out, ends)
    offsets = np.concatenate([[0], ends]).astype(np.int64) if shingles else None
    sets = out[:offsets[-1]].copy() if shingles else None
    return sig, sets, offsets, slow
