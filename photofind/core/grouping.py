"""Turn records and embeddings into groups. Minimal version: exact groups by content hash,
near groups by brute-force cosine with complete linkage (a member must match every member)."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from photofind.core.keep import pick_keeper
from photofind.core.types import Group, ImageRecord, Member, Thresholds, Tier

_BLOCK = 2048


def exact_sets(records: Sequence[ImageRecord]) -> list[list[int]]:
    """Indices of records sharing a content hash, one list per hash, in record order."""
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        by_hash[r.content_hash].append(i)
    return list(by_hash.values())


def cosine_pairs(emb: np.ndarray, threshold: float) -> list[tuple[float, int, int]]:
    """All pairs (i < j) with cosine >= threshold, by blocked matrix products."""
    pairs: list[tuple[float, int, int]] = []
    n = len(emb)
    for start in range(0, n, _BLOCK):
        block = emb[start : start + _BLOCK] @ emb.T
        rows, cols = np.nonzero(block >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if i < c:
                pairs.append((float(block[r, c]), i, c))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    return pairs


def complete_link(emb: np.ndarray, pairs, threshold: float) -> list[list[int]]:
    """Merge clusters strongest pair first, only when every cross pair meets the threshold,
    so A~B and B~C never pull in an A that does not match C."""
    cluster_of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for _sim, i, j in pairs:
        ci, cj = cluster_of.get(i, i), cluster_of.get(j, j)
        if ci == cj:
            continue
        a, b = members.get(ci, [i]), members.get(cj, [j])
        if float((emb[a] @ emb[b].T).min()) < threshold:
            continue
        merged = a + b
        members[ci] = merged
        members.pop(cj, None)
        for k in merged:
            cluster_of[k] = ci
    return [sorted(m) for m in members.values() if len(m) > 1]


def group_records(
    records: Sequence[ImageRecord], embeddings: np.ndarray | None, thresholds: Thresholds
) -> list[Group]:
    """Every file lands in at most one group; byte-identical copies ride with their twin."""
    copies = exact_sets(records)
    reps = [c[0] for c in copies]
    copies_of = {c[0]: c for c in copies}
    clusters: list[list[int]] = []
    if embeddings is not None and len(reps) > 1:
        emb = embeddings[reps]
        valid = np.linalg.norm(emb, axis=1) > 0.5  # rows of zeros: not embedded
        emb = np.where(valid[:, None], emb, 0.0).astype(np.float32)
        pairs = [p for p in cosine_pairs(emb, thresholds.near) if valid[p[1]] and valid[p[2]]]
        for cluster in complete_link(emb, pairs, thresholds.near):
            clusters.append([k for rep in cluster for k in copies_of[reps[rep]]])
    clustered = {k for c in clusters for k in c}
    for c in copies:
        if len(c) > 1 and c[0] not in clustered:
            clusters.append(list(c))
    groups = [_make_group(records, embeddings, c) for c in clusters]
    groups.sort(key=lambda g: (g.tier.rank, -len(g.members), records[g.keep_index].path))
    return [Group(**{**g.__dict__, "id": n}) for n, g in enumerate(groups, start=1)]


def _make_group(records, embeddings, indices: list[int]) -> Group:
    keep = pick_keeper(records, indices)
    same_bytes = {records[i].content_hash for i in indices} == {records[keep].content_hash}
    sims = {}
    for i in indices:
        if records[i].content_hash == records[keep].content_hash:
            sims[i] = 1.0
        else:
            sims[i] = float(np.dot(embeddings[i], embeddings[keep]))
    others = sorted((i for i in indices if i != keep), key=lambda i: (-sims[i], records[i].path))
    members = tuple(Member(i, sims[i]) for i in [keep, *others])
    pair_sims = [sims[i] for i in others]
    tier = Tier.EXACT if same_bytes else Tier.NEAR
    return Group(
        id=0,
        tier=tier,
        members=members,
        min_similarity=min(pair_sims) if pair_sims else 1.0,
        mean_similarity=float(np.mean(pair_sims)) if pair_sims else 1.0,
        why=("same bytes",) if same_bytes else _why(records, keep, others),
    )


def _why(records, keep: int, others: Sequence[int]) -> tuple[str, ...]:
    reasons = []
    k = records[keep].facts
    for i in others:
        f = records[i].facts
        if records[i].content_hash == records[keep].content_hash:
            reasons.append("same bytes")
        elif (f.width, f.height) != (k.width, k.height):
            reasons.append("resized" if abs(f.width / f.height - k.width / k.height) < 0.02 else "cropped")
        elif f.format != k.format:
            reasons.append("converted")
        else:
            reasons.append("re-encoded")
    return tuple(dict.fromkeys(reasons))
