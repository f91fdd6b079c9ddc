"""Candidate pairs of one band: each record paired with the next `window` of its bucket, in an order
that does not depend on how the rows were dealt to tasks."""

import numpy as np
from thresher.dedup.buckets import candidate_pairs
from thresher.dedup.index import tie_keys


def test_pairs_within_a_bucket_follow_the_ids_not_the_rows():
    """A bucket larger than the window: which records are compared is the same set of id pairs when
    the rows come in another order (another task count), and every bucket member is paired."""
    rng = np.random.default_rng(0)
    ids = [f"doc{i}" for i in range(40)]
    keys = rng.choice(np.array([0, 11, 12, 13], np.uint64), size=40, p=[0.1, 0.6, 0.2, 0.1])
    seen = []
    for perm in (np.arange(40), rng.permutation(40), rng.permutation(40)):
        k, names = keys[perm], [ids[i] for i in perm]
        pairs = candidate_pairs(k, np.ones(40, bool), 3, np.zeros(40, np.uint64), tie_keys(names))
        assert (k[pairs[:, 0]] == k[pairs[:, 1]]).all() and (k[pairs[:, 0]] != 0).all()
        seen.append({frozenset((names[a], names[b])) for a, b in pairs})
        bucket = np.flatnonzero(k == 11)
        assert set(pairs.ravel()) >= set(bucket.tolist()) and len(pairs) < bucket.size * (bucket.size - 1) // 2
    assert seen[0] == seen[1] == seen[2]
    assert candidate_pairs(np.array([5, 0, 5, 7, 5], np.uint64), np.ones(5, bool), 1).tolist() == [[0, 2], [2, 4]]
