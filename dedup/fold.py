"""The text dedup compares exactly: NFKC with every run of whitespace as one space, for a batch of
texts at once without calling NFKC on the texts it would leave as they are.

    fold_text(' Ｆoo\\n\\tbar ')  -> 'Foo bar'        the definition, one text
    fold_texts(texts)            -> (UTF-8 of each folded text, its length in code points)

Python's NFKC (`unicodedata.normalize`) checks each text first and returns it when its quick check
says Yes, but any code point whose check is Maybe (Indic vowel signs, combining accents: most text
outside Latin scripts) sends the whole text through decomposition and composition: 3.2 s of the
dedup stage's 12 s on 150 MB of multilingual text. `_scan` (numba) decides per text, from the
MinHash kernel's normalisation table (shingles.fast_normalisation_table), whether NFKC
leaves it as it is (its Maybe code points cannot compose with the starter before them) and whether
its whitespace is folded already; only the texts it cannot clear go through Python. Hand-written
because no library answers "is this text NFKC already" without building the normalised string;
the answer is conservative (a text it is unsure of goes to Python), never wrong: a test compares
`fold_texts` with `fold_text` on every code point and on real text.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np
from thresher.dedup.fused import contains, njit
from thresher.dedup.shingles import _WS, EXPAND, FAST_LIMIT, MAYBE, SLOW, composition_keys, fast_normalisation_table

_NOT_SPACE_WS = re.compile(r"[^\S ]")  # whitespace other than " " (re's \s is str.isspace's set)

# _scan's verdict bits: whitespace to fold, NFKC's replacements to put in (each code point that NFKC
# replaces by its replacement, nothing else changes), NFKC to run; none: the text is folded already
FOLDED, SPACES, REPLACE, NFKC = 0, 1, 2, 4
MAX_REPLACED = 4  # kinds of replaced code points _scan notes per text


@functools.cache
def _table() -> np.ndarray:
    """The MinHash kernel's table (shingles.fast_normalisation_table: ccc << 21 | code point, | MAYBE,
    EXPAND | index of [count, entries...] in the tail, or SLOW), with the two entries that are SLOW
    only for its lower-casing (U+0130, capital sigma: NFKC keeps them, starters) made plain again.
    The lowered code points in it do not matter here: only whether one is a space, which lowering
    never changes."""
    table = fast_normalisation_table().copy()
    for c in (0x130, 0x3A3):
        if table[c] == SLOW and unicodedata.normalize("NFKC", chr(c)) == chr(c):
            table[c] = c
    return table


@functools.cache
def _replaced() -> dict[str, str]:
    """The code points the table marks EXPAND (NFKC replaces them) -> their replacements."""
    table = _table()
    return {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in np.flatnonzero(table[:FAST_LIMIT] >= EXPAND).tolist()}


def fold_text(text: str) -> str:
    """NFKC with every run of whitespace as one space: ' Ｆoo\\n\\tbar ' -> 'Foo bar'."""
    nf = unicodedata.normalize("NFKC", text)
    # most texts are folded already (single spaces, no other whitespace, none at the ends): then
    # split + join would rebuild the same string, at twice the cost of these checks
    if "  " in nf or nf[:1] == " " or nf[-1:] == " " or _NOT_SPACE_WS.search(nf):
        return " ".join(nf.split())
    return nf


@njit
def _scan(data, starts, norm, compose, is_ws, verdict, replaced):
    """verdict[d] for text d (data[starts[d]:starts[d+1]], UTF-8): NFKC when the table cannot decide
    a code point alone (SLOW, or past FAST_LIMIT), when combining marks are out of canonical order,
    or when a Maybe code point may compose or reorder with the last starter (the MinHash kernel's
    tests, fused._kernel_normalising, on the code points NFKC makes); else REPLACE when NFKC
    replaces some code points (each by its own replacement: the table's EXPAND entries), | SPACES
    when it has whitespace other than single spaces between words; else FOLDED. The code
    points NFKC replaces go to replaced[d] (k, MAX_REPLACED) int32, 0 after the last; a text with
    more kinds of them than that is NFKC."""
    for d in range(starts.size - 1):
        v = FOLDED
        found = 0  # code points in replaced[d]
        last_ccc = 0
        starter = 0  # the last starter (NFKC leaves every code point here as it is)
        space = True  # the last code point was whitespace (or none yet): a space now is not folded
        i, stop = starts[d], starts[d + 1]
        while i < stop:
            c = np.int64(data[i])
            i += 1
            if c < 0x80:  # ASCII: a starter NFKC keeps
                starter, last_ccc = c, 0
                if is_ws[c]:
                    if space or c != 32:
                        v |= SPACES
                    space = True
                else:
                    space = False
                continue
            if c < 0xE0:
                c = (c & 0x1F) << 6 | (data[i] & 0x3F)
                i += 1
            elif c < 0xF0:
                c = (c & 0x0F) << 12 | (np.int64(data[i]) & 0x3F) << 6 | (data[i + 1] & 0x3F)
                i += 2
            else:
                c = ((c & 0x07) << 18 | (np.int64(data[i]) & 0x3F) << 12
                     | (np.int64(data[i + 1]) & 0x3F) << 6 | (data[i + 2] & 0x3F))
                i += 3
            e = norm[c] if c < FAST_LIMIT else -1
            t, m = -1, 1  # one entry, or m entries from norm[t] on (NFKC's replacement of c)
            if e >= EXPAND:
                t = e & 0x1FFFFF
                m = norm[t]
                t += 1
                v |= REPLACE
                seen = False
                for j in range(found):
                    seen |= replaced[d, j] == c
                if not seen:
                    if found == replaced.shape[1]:
                        v |= NFKC
                        break
                    replaced[d, found] = c
                    found += 1
            for q in range(m):
                if t >= 0:
                    e = norm[t + q]
                ccc = (e >> 21) & 0xFF
                if e < 0 or (ccc != 0 and last_ccc > ccc):
                    v |= NFKC
                    break
                if e & MAYBE:
                    key = np.int64(starter) << 21
                    if starter < 0 or contains(compose, key | c) or (ccc != 0 and contains(compose, key)):
                        v |= NFKC
                        break
                if ccc == 0:
                    starter = c if t < 0 else -1
                last_ccc = ccc
                # " ": the four spaces NFKC keeps (U+0085, U+1680, U+2028, U+2029), or a replacement
                if (e & 0x1FFFFF) == 32:
                    v, space = v | SPACES, True
                else:
                    space = False
            if v & NFKC:
                break
        if space and stop > starts[d]:  # a space at the end
            v |= SPACES
        verdict[d] = v


def _verdicts(encoded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """_scan's (verdict (n,) uint8, replaced (n, MAX_REPLACED) int32) for UTF-8 texts."""
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=starts[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    verdict = np.zeros(len(encoded), dtype=np.uint8)
    replaced = np.zeros((len(encoded), MAX_REPLACED), dtype=np.int32)
    _scan(data, starts, _table(), composition_keys(), _WS, verdict, replaced)
    return verdict, replaced


def verdicts(texts: list[str]) -> list[int]:
    """The scan's verdict bits for each text (SPACES | REPLACE | NFKC; FOLDED: 0)."""
    return _verdicts([t.encode("utf-8", "surrogatepass") for t in texts])[0].tolist()


def fold_texts(texts: list[str]) -> tuple[list[bytes], list[int]]:
    """(fold_text(t).encode("utf-8", "surrogatepass"), len(fold_text(t))) for each text, Python's
    NFKC called only on the texts `_scan` cannot clear."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    verdict, replaced = _verdicts(encoded)
    lengths = list(map(len, texts))
    todo = np.flatnonzero(verdict)
    for i, v, found in zip(todo.tolist(), verdict[todo].tolist(), replaced[todo].tolist()):
        text = texts[i]
        if v & NFKC:
            text = fold_text(text)
        else:
            if v & REPLACE:  # str.replace of each: 10x faster than NFKC, 20x than str.translate
                replacement = _replaced()
                for c in found:
                    if c:
                        text = text.replace(chr(c), replacement[chr(c)])
            if v & SPACES:
                text = " ".join(text.split())
        encoded[i], lengths[i] = text.encode("utf-8", "surrogatepass"), len(text)
    return encoded, lengths
