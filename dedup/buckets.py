"""One LSH band (or the exact key) -> the candidate pairs that share a bucket, verified.

All records' keys of one band are sorted; records with equal keys share a bucket. Rather than all
pairs of a bucket (quadratic in a bucket of ten thousand boilerplate pages), each record is paired
with the next `window` records of its bucket in sorted order, which keeps the work and the memory
linear; the union-find of the cluster step joins the chains. A pair is kept only if it passes the
check of its kind (dedup/verify.py): the second half of the 128-bit hash for exact keys; for text
and MIDI the Jaccard similarity of the shingle sets (`threshold`; or the MinHash estimate, or no
check, by `verify`); the Hamming distance of the pHashes and the mean colours of the quarters for
images.

Memory: a band's keys, order and pairs: about 40 bytes per record, whatever the number of bands.
"""

from __future__ import annotations

import numpy as np
from thresher.dedup.index import IndexSet
from thresher.dedup.verify import Checks, Verifier


def candidate_pairs(keys: np.ndarray, usable: np.ndarray, window: int, tiebreak: np.ndarray | None = None,
                    tie: np.ndarray | None = None) -> np.ndarray:
    """(n,) keys -> (n_pairs, 2) int64 rows (i, j) with keys[i] == keys[j] != 0, each row paired
    with the next `window` rows of its bucket in (key, tiebreak, tie) order (tie: the index's hash
    of each record id, so that a bucket's order, and which of its records are compared, is the same
    however the rows were dealt to tasks; then the row).

    >>> candidate_pairs(np.array([5, 0, 5, 7, 5], np.uint64), np.ones(5, bool), 1).tolist()
    [[0, 2], [2, 4]]
    """
    rows = np.flatnonzero(usable & (keys != 0))
    sort_by = [a[rows] for a in (tie, tiebreak) if a is not None]
    order = np.lexsort((*sort_by, keys[rows])) if sort_by else np.argsort(keys[rows], kind="stable")
    rows = rows[order]
    k = keys[rows]
    pairs = []
    for d in range(1, window + 1):
        if d >= rows.size:
            break
        same = k[d:] == k[:-d]
        pairs.append(np.column_stack([rows[:-d][same], rows[d:][same]]))
    return np.concatenate(pairs) if pairs else np.zeros((0, 2), np.int64)


def band_pairs(ix: IndexSet, slot: int, checks: Checks, verifier: Verifier | None = None) -> np.ndarray:
    """Verified pairs of one key slot (0: exact; 1..: LSH bands) over this run and earlier runs
    (pass one `verifier` to all the slots of a task: it remembers the pairs it checked)."""
    verifier = verifier or Verifier(ix, checks)
    group = verifier.info("group")
    pairs = candidate_pairs(ix.keys(slot), ix.usable(), 1 if slot == 0 else checks.window, verifier.info("phash"),
                            verifier.info("tie"))
    # a pair of two earlier records changes nothing: they were deduplicated in their own run
    pairs = pairs[(pairs < ix.n_current).any(axis=1)]
    pairs = pairs[group[pairs[:, 0]] == group[pairs[:, 1]]]
    return pairs[verifier.same(pairs) if slot == 0 else verifier.near(pairs)]
