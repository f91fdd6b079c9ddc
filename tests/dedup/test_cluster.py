"""Clusters of the verified pairs (dedup/cluster.py components): the hand-written union-find against
scipy's connected components on random graphs, a band at a time, and bad pair arrays refused."""

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from thresher.dedup.cluster import components


def reference(n: int, batches: list[np.ndarray]) -> np.ndarray:
    pairs = np.concatenate(batches) if batches else np.zeros((0, 2), np.int64)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


@pytest.mark.parametrize("seed", range(6))
def test_components_are_scipys_labels_over_all_bands(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    # sparse graphs (many singletons), dense ones (a few giant clusters) and long chains
    k = int(rng.integers(0, 2 * n))
    pairs = rng.integers(0, n, size=(k, 2))
    if seed % 3 == 2:
        pairs = np.column_stack([np.arange(n - 1), np.arange(1, n)])[rng.permutation(n - 1)]  # one chain, shuffled
    batches = np.array_split(pairs, int(rng.integers(1, 15)))
    got = components(n, iter(batches))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, reference(n, batches))


def test_no_records_and_no_pairs():
    assert components(0, []).tolist() == []
    assert components(4, [np.zeros((0, 2), np.int64)]).tolist() == [0, 1, 2, 3]
    assert components(3, [np.array([[2, 2]])]).tolist() == [0, 1, 2]  # a self pair joins nothing


def test_a_pair_outside_the_records_is_refused():
    with pytest.raises(IndexError):
        components(3, [np.array([[0, 3]])])
