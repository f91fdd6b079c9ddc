"""Union-find over the verified pairs of every band, then one survivor per cluster.

The pairs are read one band at a time and joined into a union-find forest (a parent per record),
so the memory is one int64 per record plus one band's pairs, flat in the number of bands.

Survivor rule, in order: a record of an earlier run (already published, so it stays), then the
highest `score` (the configured rule: longest, quality, or source priority), then the longest
content, then the lowest `tie` (a hash of the record id: the same survivor whatever the task count
dealt the rows), then the first row.

Near-duplicate similarity is not transitive: a chain of pairs each above the threshold joins
records far below it (A-B 0.85, B-C 0.85, A-C 0.7). So each record a cluster would remove is
checked against its survivor by the same check its pairs passed (dedup/verify.py), and only one
that passes is removed (`settle`): every removed record is a near duplicate of a kept one. Those
that fail are clustered again among themselves, with the pairs between them, for a new survivor,
up to `ROUNDS` times; what is still unsettled after that is kept (the safe side).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import numpy as np
from thresher.dedup.fused import njit
from thresher.dedup.index import (
    EXACT,
    FAILED_ROW,
    KEPT,
    KEPT_IN_CLUSTER,
    NEAR,
    IndexSet,
    _atomic_save,
    rank_name,
)
from thresher.dedup.verify import Checks, Verifier

ROUNDS = 8  # re-clusterings of records that fail against their survivor (a drift chain needs one per link)


def components(n: int, pair_batches: Iterable[np.ndarray]) -> np.ndarray:
    """(n,) int64 cluster label per row, given batches of (k, 2) row pairs; labels count up from 0
    in the order of each cluster's lowest row.

    >>> components(5, [np.array([[0, 1]]), np.array([[1, 3]])]).tolist()
    [0, 0, 1, 0, 2]
    """
    parent = np.arange(n, dtype=np.int64)
    for pairs in pair_batches:
        if len(pairs):
            if pairs.min() < 0 or pairs.max() >= n:  # the kernel does not check its indices
                raise IndexError(f"a pair names row {int(pairs.min()) if pairs.min() < 0 else int(pairs.max())} of {n}")
            _union(parent, np.ascontiguousarray(pairs[:, 0], np.int64), np.ascontiguousarray(pairs[:, 1], np.int64))
    _flatten(parent)
    is_root = parent == np.arange(n)
    return (np.cumsum(is_root) - 1)[parent]


# Union-find by hand (numba): scipy's connected_components did this from a sparse matrix per band,
# and importing scipy.sparse costs the process 0.15-0.3 s (scipy._lib builds its array-API modules),
# more than the clustering of 150 MB takes. Union by the lower root keeps every parent at or below
# its row, so one pass in row order flattens the forest.
@njit
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@njit
def _union(parent, u, v):
    for k in range(u.size):
        a, b = _find(parent, u[k]), _find(parent, v[k])
        if a < b:
            parent[b] = a
        elif b < a:
            parent[a] = b


@njit
def _flatten(parent):
    for i in range(parent.size):
        parent[i] = parent[parent[i]]


def survivors(labels: np.ndarray, earlier: np.ndarray, score: np.ndarray, length: np.ndarray,
              tie: np.ndarray | None = None) -> np.ndarray:
    """(n,) the row that survives in each row's cluster (itself when it is alone)."""
    rows = np.arange(labels.size)
    tie = np.zeros(labels.size, np.uint64) if tie is None else tie
    order = np.lexsort((rows, tie, -length, -score, ~earlier, labels))
    first = np.ones(order.size, dtype=bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    best = np.empty(labels.max() + 1 if labels.size else 0, dtype=np.int64)
    best[labels[order[first]]] = order[first]
    return best[labels]


def settle(n: int, pair_batches: Callable[[], Iterable[np.ndarray]], earlier: np.ndarray, score: np.ndarray,
           length: np.ndarray, passes: Callable[[np.ndarray], np.ndarray], rounds: int = ROUNDS,
           tie: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """(n,) survivor row of each row, such that passes([[row, survivor]]) holds for every row whose
    survivor is another row, and the number of rows kept because they failed against the survivor
    of their first cluster and found no other.

    Round by round: clusters of the unsettled rows (pairs with both ends unsettled), a survivor each
    (`survivors`); a member that passes against its survivor is settled as its duplicate, the
    survivor as itself; the members that fail stay for the next round. An earlier run's row is
    never a duplicate (it is published): it stays until it survives its own cluster.

    >>> pairs = lambda: [np.array([[0, 1], [1, 2]])]  # a chain 0 - 1 - 2; 0 is the best
    >>> settle(3, pairs, np.zeros(3, bool), -np.arange(3.0), np.ones(3), lambda p: np.abs(p[:, 0] - p[:, 1]) < 2)
    (array([0, 0, 2]), 1)
    """
    rows = np.arange(n)
    surv, pending, failed = rows.copy(), np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
    for r in range(rounds):
        labels = components(n, (p[pending[p].all(axis=1)] for p in pair_batches()))
        s = survivors(labels, earlier, score, length, tie)
        member = np.flatnonzero(pending & (s != rows))
        ok = passes(np.column_stack([member, s[member]])) & ~earlier[member] if member.size else np.zeros(0, bool)
        surv[member[ok]] = s[member[ok]]
        pending[member[ok]] = False
        pending[pending & (s == rows)] = False  # survivors keep themselves
        if r == 0:
            failed[member[~ok & ~earlier[member]]] = True
        if not pending.any():
            break
    return surv, int((failed & (surv == rows)).sum())


def assign(ix: IndexSet, pair_files: list[Path], out: Path, checks: Checks) -> dict[str, int]:
    """Cluster, pick survivors, and write `out/<rank>.npz` (action, survivor row, survivor id) for
    each rank of this run. Returns counts for the stage's stats."""
    n = len(ix)
    earlier = np.arange(n) >= ix.n_current
    score = np.nan_to_num(ix.info("score").astype(np.float64), nan=-np.inf)
    verifier = Verifier(ix, checks)

    def passes(pairs: np.ndarray) -> np.ndarray:
        if checks.verify == "none":  # datatrove's way: a cluster is a connected component
            return np.ones(len(pairs), dtype=bool)
        ok = verifier.same(pairs)
        ok[~ok] = verifier.near(pairs[~ok])
        return ok

    surv, chained = settle(n, lambda: (np.load(f) for f in pair_files), earlier, score, ix.info("length"), passes,
                           tie=ix.info("tie"))
    labels = surv  # a cluster is a survivor and its duplicates
    size = np.bincount(labels, minlength=n)[labels]
    cur = np.arange(ix.n_current)
    status = ix.parts[0].info("status")
    key0, check = ix.keys(0), ix.info("check")
    s = surv[cur]
    action = np.full(cur.size, KEPT, dtype=np.uint8)
    action[(size[cur] > 1) & (s == cur)] = KEPT_IN_CLUSTER
    removed = s != cur
    same = (key0[cur] == key0[s]) & (check[cur] == check[s])
    action[removed & same] = EXACT
    action[removed & ~same] = NEAR
    action[status != 0] = FAILED_ROW
    in_cluster = (action == KEPT_IN_CLUSTER) | removed
    surv_id = np.full(cur.size, "", dtype=object)
    if in_cluster.any():
        surv_id[in_cluster] = ix.ids(s[in_cluster])
    current = ix.parts[0]
    for i, rank in enumerate(current.ranks):
        a, b = current.offsets[i], current.offsets[i + 1]
        _atomic_save(out / f"{rank_name(rank)}.npz", lambda f: np.savez(
            f, action=action[a:b], survivor=np.where(in_cluster[a:b], s[a:b], -1),
            survivor_id=surv_id[a:b].astype(str)))
    return {"clusters": int(np.unique(labels[cur][in_cluster[cur]]).size) if in_cluster.any() else 0,
            "exact_duplicate": int((action == EXACT).sum()), "near_duplicate": int((action == NEAR).sum()),
            "failed": int((action == FAILED_ROW).sum()), "kept_off_chain": chained}
