"""Pixel-level checks that tell a near-duplicate (same photo) from a similar photo (same scene).

Grouping calls these on candidate pairs. Inputs are the cached 32x32 grayscale thumbnails
(ScanResult.thumbs) and 64-bit pHashes (ImageRecord.phash).
"""

from __future__ import annotations

import numpy as np

from photofind.core.types import ImageRecord

PHASH_NEAR = 10  # max Hamming distance of 64-bit pHashes for "same photo"
CORR_NEAR = 0.90  # min correlation of aligned thumbnails for "same photo"


def thumb_correlation(a: np.ndarray, b: np.ndarray) -> float:
    x = a.astype(np.float32).ravel()
    y = b.astype(np.float32).ravel()
    x -= x.mean()
    y -= y.mean()
    denom = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / denom) if denom > 0 else 0.0


def pixel_check(a: ImageRecord, b: ImageRecord, thumb_a: np.ndarray, thumb_b: np.ndarray) -> str | None:
    """If the pixels confirm that `a` and `b` are the same photo, say how they differ
    ("resized", "re-encoded", ...); otherwise None."""
    close_hash = a.phash is not None and b.phash is not None and (a.phash ^ b.phash).bit_count() <= PHASH_NEAR
    if not close_hash and thumb_correlation(thumb_a, thumb_b) < CORR_NEAR:
        return None
    return describe_difference(a, b)


def describe_difference(a: ImageRecord, b: ImageRecord) -> str:
    fa, fb = a.facts, b.facts
    if a.content_hash == b.content_hash:
        return "same bytes"
    if (fa.width, fa.height) != (fb.width, fb.height):
        same_aspect = abs(fa.width / fa.height - fb.width / fb.height) < 0.02
        return "resized" if same_aspect else "cropped"
    if fa.format != fb.format:
        return "converted"
    return "re-encoded"


def phash_candidates(phashes: np.ndarray, max_distance: int = PHASH_NEAR) -> np.ndarray:
    """(m, 2) index pairs i < j whose 64-bit pHashes differ in <= max_distance bits.
    Brute force in blocks; an indexed version (multi-index hashing) replaces it at scale."""
    h = np.asarray(phashes, dtype=np.uint64)
    pairs = []
    for start in range(0, len(h), 1024):
        x = h[start : start + 1024, None] ^ h[None, :]
        dist = np.unpackbits(x.view(np.uint8), axis=-1).reshape(x.shape[0], x.shape[1], 64).sum(-1)
        rows, cols = np.nonzero(dist <= max_distance)
        keep = start + rows < cols
        pairs.append(np.stack([start + rows[keep], cols[keep]], axis=1))
    return np.concatenate(pairs) if pairs else np.empty((0, 2), dtype=np.int64)
