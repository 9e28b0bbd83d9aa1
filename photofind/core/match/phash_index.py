"""Candidate pairs from perceptual hashes: photos whose 64-bit pHashes are within a Hamming
distance, found with a multi-index hash (no all-pairs scan at scale), so copies are found even
without a CNN. Grouping takes these as candidates beside the embedding pair search.

The search costs minutes at 100k photos; `pairs_involving` finds only the pairs a few new
photos add, at a cost in proportion to their number (phash_memo.py keeps the last answer and
adds to it)."""

from __future__ import annotations

import numpy as np

from photofind.core.match.align import resample_matrix
from photofind.core.match.linkage import best_per_node
from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.scan.hashing import phashes_through

PHASH_NEAR = 10  # default pHash radius for candidates: Hamming distance of 64-bit pHashes
# Centred views whose pHash a cropped or straightened copy shares: editors crop about the
# centre by default, and straightening by 3-8 degrees keeps the centred 0.94-0.85. Two
# views cover crops to about 70% (measured: 63% of the benchmark's crops and tilts within
# PHASH_NEAR of one of them, 21% of their plain hashes); each adds one query pass.
ZOOMS = (0.9, 0.8)
# Views of the same sizes anchored at each corner: the crop an editor makes by dragging one
# corner handle (the subject moved off the edge, a rule-of-thirds recomposition) keeps a
# corner, not the centre. Measured on the quality sets: 90% off-centre crops 29/29 within
# PHASH_NEAR of one of them (5/29 of the centred views), 75% ones 14/29 (none).
CORNERS = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0))
# Off-centre views triple the query passes and meet look-alikes more often (a corner of one
# sky is like another's; windows of one scene contain each other): each photo keeps only its
# OFF_CENTRE_PER_PHOTO closest pairs found through them alone, so they add at most that many
# pixel checks a photo. Measured: 1 and 2 give the alternate set the same recall, 2 keeps more
# of the main set's offline (0.984 against 0.980; 4: 0.988), at 10k photos 4,125 pairs (1:
# 2,992, 4: 5,109) on top of 3,616.
OFF_CENTRE_PER_PHOTO = 2
_BRUTE_FORCE_MAX = 6000  # below this, a blocked all-pairs popcount is faster than an index
_BLOCKS = 4  # 16-bit substrings for the multi-index hash
_BUCKET_CAP = 2000  # a substring shared by more photos than this (flat images) is skipped


def phash_candidates(
    phashes, max_distance: int = PHASH_NEAR, *, variants=None, progress: Progress = NULL_PROGRESS
) -> np.ndarray:
    """(m, 2) index pairs i < j whose 64-bit pHashes differ in <= max_distance bits.

    `variants` ((n, k) uint64: each photo's hashes to query with, e.g. hashing.dihedral_phashes
    or `with_zooms`) pairs photos where one's variant is close to the other's pHash. Large
    inputs use multi-index hashing: split the 64 bits into 4 substrings; two hashes within
    distance r agree within r // 4 bits on at least one of them, so only photos sharing a
    nearby substring are compared.
    """
    h = np.asarray(phashes, dtype=np.uint64).ravel()
    v = None if variants is None else np.asarray(variants, dtype=np.uint64).reshape(len(h), -1)
    queries = [h] if v is None else [v[:, k] for k in range(v.shape[1])]
    found = []
    for k, q in enumerate(queries):
        if len(h) <= _BRUTE_FORCE_MAX:
            found.append(_brute_force(q, h, max_distance))
        else:
            found.append(_multi_index(q, h, max_distance, progress, (k, len(queries))))
    pairs = np.concatenate(found) if found else np.empty((0, 2), np.int64)
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0) if len(pairs) else np.empty((0, 2), np.int64)


def pairs_involving(
    phashes, variants: np.ndarray, new, max_distance: int = PHASH_NEAR, *, progress: Progress = NULL_PROGRESS
) -> np.ndarray:
    """The pairs of `phash_candidates(phashes, max_distance, variants=variants)` with a photo
    in `new` (indices), at a cost in proportion to len(new), not to the photos': the new
    photos' variants against every pHash, then every variant against the new photos' pHashes
    (the variants indexed, the new pHashes the queries; a new photo is not probed in a block
    where the full search skips its bucket, `capped_buckets`). The same pairs, bucket cap
    included."""
    h = np.asarray(phashes, dtype=np.uint64).ravel()
    v = np.asarray(variants, dtype=np.uint64).reshape(len(h), -1)
    new = np.asarray(new, np.int64)
    k = v.shape[1]
    found = []
    for c in range(k):
        q = v[new, c]
        if len(h) <= _BRUTE_FORCE_MAX:
            rows = _brute_force(q, h, max_distance)
        else:
            rows = _multi_index(q, h, max_distance, progress, (c, k + 1))
        found.append(np.stack([new[rows[:, 0]], rows[:, 1]], axis=1))
    if len(h) <= _BRUTE_FORCE_MAX:
        back = _brute_force(h[new], v.ravel(), max_distance)
    else:
        blocks = np.arange(_BLOCKS, dtype=np.uint64)
        codes = (blocks.astype(np.int64) << 16) | (
            (h[new, None] >> (16 * blocks)) & np.uint64(0xFFFF)
        ).astype(np.int64)
        skip = np.isin(codes, capped_buckets(h))
        back = _multi_index(h[new], v.ravel(), max_distance, progress, (k, k + 1), cap=False, skip=skip)
    found.append(np.stack([back[:, 1] // k, new[back[:, 0]]], axis=1))
    pairs = np.sort(np.concatenate(found), axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return np.unique(pairs, axis=0) if len(pairs) else np.empty((0, 2), np.int64)


def capped_buckets(phashes) -> np.ndarray:
    """Sorted codes (block << 16 | substring) of the buckets `phash_candidates` skips for these
    pHashes (more than _BUCKET_CAP photos share the substring; none when it compares all)."""
    h = np.asarray(phashes, dtype=np.uint64).ravel()
    if len(h) <= _BRUTE_FORCE_MAX:
        return np.empty(0, np.int64)
    out = []
    for block in range(_BLOCKS):
        keys = ((h >> np.uint64(16 * block)) & np.uint64(0xFFFF)).astype(np.int64)
        out.append((block << 16) | np.flatnonzero(np.bincount(keys, minlength=1 << 16) > _BUCKET_CAP))
    return np.concatenate(out)


def zoomed_phashes(thumbs: np.ndarray) -> np.ndarray:
    """(n, len(ZOOMS)) uint64: the pHash of each 32x32 thumbnail's centred ZOOMS, resampled
    to 32x32 (as align.sample_region resamples). From the cached thumbnails: no photo is read."""
    return _views(thumbs, [(zoom, 0.5, 0.5) for zoom in ZOOMS])


def off_centre_phashes(thumbs: np.ndarray) -> np.ndarray:
    """(n, len(ZOOMS) * len(CORNERS)) uint64: the pHash of each thumbnail's ZOOMS anchored at
    each of its CORNERS (zoom-major), resampled to 32x32 like `zoomed_phashes`."""
    return _views(thumbs, [(zoom, x, y) for zoom in ZOOMS for x, y in CORNERS])


def off_centre_candidates(
    phashes, thumbs: np.ndarray, known: np.ndarray, *, progress: Progress = NULL_PROGRESS
) -> np.ndarray:
    """(m, 2) pairs i < j, not in `known`, where an `off_centre_phashes` view of one is within
    PHASH_NEAR of the other's pHash: each photo's OFF_CENTRE_PER_PHOTO closest (of either
    endpoint, as linkage.best_per_node keeps them), so their number is bounded by the photos'."""
    h = np.asarray(phashes, np.uint64).ravel()
    views = off_centre_phashes(thumbs)
    pairs = without(phash_candidates(h, variants=views, progress=progress), known, len(h))
    return closest_off_centre(h, views, pairs)


def closest_off_centre(phashes, views: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """The `pairs` (found through `views`, the `off_centre_phashes`, sorted as phash_candidates
    returns them) that are among each photo's OFF_CENTRE_PER_PHOTO closest. Ties go to the
    first in that order, so the same pairs give the same answer however they were found."""
    if not len(pairs):
        return pairs
    h = np.asarray(phashes, np.uint64).ravel()
    a, b = pairs[:, 0], pairs[:, 1]
    distance = np.minimum(
        np.bitwise_count(views[a] ^ h[b, None]).min(axis=1),
        np.bitwise_count(views[b] ^ h[a, None]).min(axis=1),
    )
    return pairs[best_per_node(a, b, -distance.astype(np.float64), OFF_CENTRE_PER_PHOTO)]


def union(parts: list[np.ndarray], n: int) -> np.ndarray:
    """(m, 2) pairs i < j in any of `parts` (pairs of photos 0..n-1), sorted, each once."""
    codes = np.unique(np.concatenate([_codes(p, n) for p in parts]))
    return np.stack([codes // max(n, 1), codes % max(n, 1)], axis=1)


def without(pairs: np.ndarray, known: np.ndarray, n: int) -> np.ndarray:
    """`pairs` (i < j) not in `known`, in their order."""
    return pairs[~np.isin(_codes(pairs, n), _codes(known, n))]


def _codes(pairs: np.ndarray, n: int) -> np.ndarray:
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    return pairs[:, 0] * max(n, 1) + pairs[:, 1]


def _views(thumbs: np.ndarray, views: list[tuple[float, float, float]]) -> np.ndarray:
    """(n, len(views)) uint64 pHashes of (zoom, x anchor, y anchor) regions of 32x32
    thumbnails, an anchor placing the region as derivatives.crop does (0.5: centred)."""
    thumbs = np.asarray(thumbs).reshape(-1, 32, 32)
    out = []
    for zoom, ax, ay in views:
        x0, y0 = (1 - zoom) * ax, (1 - zoom) * ay
        rows, cols = resample_matrix(32, 32, y0, y0 + zoom), resample_matrix(32, 32, x0, x0 + zoom)
        out.append(phashes_through(thumbs, rows, cols))
    return np.stack(out, axis=1)


def with_zooms(phashes, thumbs: np.ndarray) -> np.ndarray:
    """Query hashes for `phash_candidates`: each photo's pHash, then its `zoomed_phashes`."""
    return np.column_stack([np.asarray(phashes, np.uint64), zoomed_phashes(thumbs)])


def _brute_force(q: np.ndarray, h: np.ndarray, r: int) -> np.ndarray:
    out = []
    for start in range(0, len(q), 1024):
        dist = np.bitwise_count(q[start : start + 1024, None] ^ h[None, :])
        rows, cols = np.nonzero(dist <= r)
        out.append(np.stack([start + rows, cols], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), np.int64)


def _multi_index(
    q: np.ndarray,
    h: np.ndarray,
    r: int,
    progress: Progress = NULL_PROGRESS,
    part: tuple[int, int] = (0, 1),
    *,
    cap: bool = True,
    skip: np.ndarray | None = None,
) -> np.ndarray:
    """`part`: (this query set, of how many), for progress over all of them. `cap`: skip
    buckets of more than _BUCKET_CAP; `skip` ((len(q), _BLOCKS) bool): a query not probed in
    that block."""
    t = r // _BLOCKS
    masks = _masks(16, t)
    out = []
    for block in range(_BLOCKS):
        check_cancel(progress)
        progress.update(Phase.PAIRS, part[0] * _BLOCKS + block, part[1] * _BLOCKS)
        shift = np.uint64(16 * block)
        keys = ((h >> shift) & np.uint64(0xFFFF)).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        # The substrings are 16 bits: a table of bucket sizes and starts replaces a binary search.
        sizes = np.bincount(keys, minlength=1 << 16)
        starts = np.cumsum(sizes) - sizes
        if cap:
            sizes[sizes > _BUCKET_CAP] = 0
        qkeys = ((q >> shift) & np.uint64(0xFFFF)).astype(np.int64)
        for mask in masks:
            probe = qkeys ^ mask
            lo = starts[probe]
            counts = sizes[probe] if skip is None else np.where(skip[:, block], 0, sizes[probe])
            if not counts.any():
                continue
            rows = np.repeat(np.arange(len(q)), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            cols = order[np.repeat(lo, counts) + offsets]
            keep = np.bitwise_count(q[rows] ^ h[cols]) <= r
            out.append(np.stack([rows[keep], cols[keep]], axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), np.int64)


def _masks(bits: int, t: int) -> list[int]:
    """All `bits`-bit masks with at most t ones."""
    from itertools import combinations

    return [sum(1 << i for i in c) for k in range(t + 1) for c in combinations(range(bits), k)]
