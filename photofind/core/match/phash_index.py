"""Candidate pairs from perceptual hashes: photos whose 64-bit pHashes are within a Hamming
distance, found with a multi-index hash (no all-pairs scan at scale), so copies are found even
without a CNN. Grouping takes these as candidates beside the embedding pair search.

The search costs seconds at 100k photos, and an unchanged library asks the same question at
every rescan: `remembered_candidates` keeps the last answer in the scan cache, keyed by a
digest of the hashes it was computed from."""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

import numpy as np

from photofind.core.match.align import resample_matrix
from photofind.core.match.linkage import best_per_node
from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.scan.hashing import dihedral_phashes, phashes_through

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
NAMESPACE = "phash-pairs"  # Cache.put_blob: the last answer, one entry
_DIGEST = 20


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


def remembered_candidates(
    cache: Any, phashes, thumbs: np.ndarray, *, rotations: bool, progress: Progress = NULL_PROGRESS
) -> tuple[np.ndarray, np.ndarray]:
    """(close, turned): phash_candidates of the photos' pHashes queried `with_zooms`, with
    `off_centre_candidates` added, and (with `rotations`) queried with their eight symmetries,
    as (m, 2) index pairs. Answered from `cache` when its last answer was for the same hashes
    and thumbnails in the same order (a warm rescan; the query hashes derive from those), else
    computed and kept there (one answer, so the cache does not grow). On a hit no query hash
    is computed."""
    h = np.ascontiguousarray(phashes, dtype=np.uint64).ravel()
    digest = hashlib.blake2b(h.tobytes(), digest_size=_DIGEST)
    digest.update(np.ascontiguousarray(thumbs).tobytes())
    digest.update(
        f"r{PHASH_NEAR}b{_BUCKET_CAP}z{ZOOMS}c{CORNERS}k{OFF_CENTRE_PER_PHOTO}t{rotations}".encode()
    )
    saved = cache.get_blob(NAMESPACE, "candidates") if cache is not None else None
    if saved is not None and saved[:_DIGEST] == digest.digest():
        both = np.frombuffer(zlib.decompress(saved[_DIGEST + 8 :]), np.int32).astype(np.int64)
        split = 2 * int.from_bytes(saved[_DIGEST : _DIGEST + 8], "little")
        return both[:split].reshape(-1, 2), both[split:].reshape(-1, 2)
    close = phash_candidates(h, variants=with_zooms(h, thumbs), progress=progress)
    close = np.concatenate([close, off_centre_candidates(h, thumbs, close, progress=progress)])
    close = close[np.lexsort((close[:, 1], close[:, 0]))]
    turned = np.empty((0, 2), np.int64)
    if rotations:
        turned = phash_candidates(
            h, variants=np.stack([dihedral_phashes(t) for t in thumbs]), progress=progress
        )
    if cache is not None:
        packed = zlib.compress(np.concatenate([close, turned]).astype(np.int32).tobytes(), 1)
        cache.put_blob(NAMESPACE, "candidates", digest.digest() + len(close).to_bytes(8, "little") + packed)
    return close, turned


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
    pairs = phash_candidates(h, variants=views, progress=progress)
    n = max(len(h), 1)
    pairs = pairs[~np.isin(pairs[:, 0] * n + pairs[:, 1], known[:, 0] * n + known[:, 1])]
    if not len(pairs):
        return pairs
    a, b = pairs[:, 0], pairs[:, 1]
    distance = np.minimum(
        np.bitwise_count(views[a] ^ h[b, None]).min(axis=1),
        np.bitwise_count(views[b] ^ h[a, None]).min(axis=1),
    )
    return pairs[best_per_node(a, b, -distance.astype(np.float64), OFF_CENTRE_PER_PHOTO)]


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
    q: np.ndarray, h: np.ndarray, r: int, progress: Progress = NULL_PROGRESS, part: tuple[int, int] = (0, 1)
) -> np.ndarray:
    """`part`: (this query set, of how many), for progress over all of them."""
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
        sizes[sizes > _BUCKET_CAP] = 0
        qkeys = ((q >> shift) & np.uint64(0xFFFF)).astype(np.int64)
        for mask in masks:
            probe = qkeys ^ mask
            lo = starts[probe]
            counts = sizes[probe]
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
