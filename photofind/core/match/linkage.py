"""Clusters from scored edges without chaining, and the edge bookkeeping grouping needs.

`complete_linkage` merges clusters strongest edge first, only when an acceptance test over
the two whole clusters passes (every cross pair, or every member against an anchor), so
A~B and B~C never put A with C on their own. `best_per_node` bounds the work per photo;
`edge_codes` folds candidate pairs from several searches into one sorted set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from photofind.core.match.pairsearch import unique_sorted


def complete_linkage(
    a: np.ndarray, b: np.ndarray, accept: Callable[[list[int], list[int]], bool], max_size: int
) -> tuple[list[list[int]], list[bool]]:
    """Clusters from edges (a[k], b[k]) taken in the given order (strongest first). Two
    clusters merge only if `accept(A, B)`: every cross pair matches. Returns clusters of >= 2,
    each sorted, and whether each hit `max_size` (it stopped growing, rather than grow past it)."""
    root: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    capped: set[int] = set()
    for x, y in zip(a.tolist(), b.tolist()):
        rx, ry = root.get(x, x), root.get(y, y)
        if rx == ry:
            continue
        xs, ys = members.get(rx, [x]), members.get(ry, [y])
        if len(xs) + len(ys) > max_size:
            capped.update(r for r, m in ((rx, xs), (ry, ys)) if len(m) > 1)
            continue
        if not accept(xs, ys):
            continue
        keep, gone = (rx, ry) if len(xs) >= len(ys) else (ry, rx)
        members[keep] = xs + ys
        members.pop(gone, None)
        for k in members[keep]:
            root[k] = keep
        if gone in capped:
            capped.add(keep)
    clusters = sorted((sorted(m), r in capped) for r, m in members.items())
    return [c for c, _ in clusters], [f for _, f in clusters]


def edge_codes(a_parts: list[np.ndarray], b_parts: list[np.ndarray], n: int) -> np.ndarray:
    if not a_parts:
        return np.zeros(0, np.int64)
    a, b = np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)
    keep = a != b
    a, b = a[keep], b[keep]
    return unique_sorted(np.minimum(a, b) * n + np.maximum(a, b))


def best_per_node(a: np.ndarray, b: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """Mask of edges that are among the `k` highest-scoring edges of either endpoint."""
    n_edges = len(a)
    if n_edges == 0:
        return np.zeros(0, bool)
    nodes = np.concatenate([a, b])
    edge = np.concatenate([np.arange(n_edges), np.arange(n_edges)])
    order = np.lexsort((edge, -np.concatenate([score, score]), nodes))  # node, best first
    sorted_nodes = nodes[order]
    starts = np.flatnonzero(np.r_[True, sorted_nodes[1:] != sorted_nodes[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    keep = np.zeros(n_edges, bool)
    keep[edge[order][rank < k]] = True
    return keep
