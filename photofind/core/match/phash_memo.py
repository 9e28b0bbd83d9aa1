"""The last pHash candidate answer, kept in the scan cache by what each photo's query hashes
derive from (its pHash and thumbnail), so a rescan searches only for the pairs its new photos
add: pairs between photos the answer was for cannot change while the buckets the search skips
stay the same (phash_index.capped_buckets), and those of removed photos are dropped.

At 100k photos the full search costs minutes; after 1% new photos the update costs about a
second. The blob keeps each photo's query hashes (80 bytes, 144 with rotations), so unchanged
photos' views are not computed again, and the off-centre pairs before the per-photo bound, so
the bound is applied again over old and new pairs alike and the answer equals a full search's."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from photofind.core.match import phash_index
from photofind.core.match.phash_index import CORNERS, ZOOMS
from photofind.core.progress import NULL_PROGRESS, Progress
from photofind.core.scan.hashing import dihedral_phashes

NAMESPACE = "phash-pairs"  # Cache.put_blob: the last answer, one entry
_DIGEST = 20
# Above this share of new photos the full search runs: the update's two passes (new queries
# against every pHash, every query hash against the new pHashes) approach its cost.
MAX_NEW_SHARE = 0.25
_NONE = np.empty((0, 2), np.int64)


@dataclass(frozen=True)
class _Answer:
    """Pairs as indices into `keys`' photos. centred: through the pHash and the centred
    ZOOMS; off_centre: through the corner views, not in centred, before the per-photo bound."""

    keys: np.ndarray  # (n,) uint64, a digest of each photo's pHash and thumbnail
    views: np.ndarray  # (n, v) uint64: ZOOMS, then CORNERS views, then (rotations) dihedral
    capped: np.ndarray  # phash_index.capped_buckets of the pHashes
    centred: np.ndarray
    off_centre: np.ndarray
    turned: np.ndarray


def remembered_candidates(
    cache: Any, phashes, thumbs: np.ndarray, *, rotations: bool, progress: Progress = NULL_PROGRESS
) -> tuple[np.ndarray, np.ndarray]:
    """(close, turned): phash_index.phash_candidates of the photos' pHashes queried
    `with_zooms`, with `off_centre_candidates` added, and (with `rotations`) queried with their
    eight symmetries, as (m, 2) index pairs i < j, sorted. From `cache`'s last answer when at
    most MAX_NEW_SHARE of the photos are new to it (only their pairs searched; none on a warm
    rescan, where no query hash is computed either), else searched in full; the answer is kept
    there (one entry, so the cache does not grow)."""
    h = np.ascontiguousarray(phashes, dtype=np.uint64).ravel()
    thumbs = np.ascontiguousarray(thumbs)
    keys = _keys(h, thumbs)
    capped = phash_index.capped_buckets(h)
    digest = _digest(rotations)
    last = _load(cache, digest) if cache is not None else None
    answer = None
    if last is not None and np.array_equal(capped, last.capped):
        answer = _updated(last, keys, h, thumbs, rotations, progress)
    if answer is None:
        answer = _searched(keys, h, thumbs, capped, rotations, progress)
    if cache is not None:
        cache.put_blob(NAMESPACE, "candidates", _dump(answer, digest))
    off_views = answer.views[:, len(ZOOMS) : len(ZOOMS) * (1 + len(CORNERS))]
    closest = phash_index.closest_off_centre(h, off_views, answer.off_centre)
    return phash_index.union([answer.centred, closest], len(h)), answer.turned


def _searched(keys, h, thumbs, capped, rotations: bool, progress: Progress) -> _Answer:
    views = _views(thumbs, rotations)
    centred, off_centre, turned = (
        phash_index.phash_candidates(h, variants=q, progress=progress) if q.shape[1] else _NONE
        for q in _queries(h, views, rotations)
    )
    off_centre = phash_index.without(off_centre, centred, len(h))
    return _Answer(keys, views, capped, centred, off_centre, turned)


def _updated(last: _Answer, keys, h, thumbs, rotations: bool, progress: Progress) -> _Answer | None:
    """The last answer for these photos, their new ones' pairs searched; None when too many
    are new."""
    old = _positions(last.keys, keys)
    new = np.flatnonzero(old < 0)
    if len(new) > MAX_NEW_SHARE * len(h):
        return None
    kept = old >= 0
    views = np.empty((len(h), last.views.shape[1]), np.uint64)
    views[kept] = last.views[old[kept]]
    if len(new):
        views[new] = _views(thumbs[new], rotations)
    now = np.full(len(last.keys), -1, np.int64)  # a remembered photo's index now
    now[old[kept]] = np.flatnonzero(kept)
    found = [
        phash_index.pairs_involving(h, q, new, progress=progress) if len(new) and q.shape[1] else _NONE
        for q in _queries(h, views, rotations)
    ]
    centred, off_centre, turned = (
        phash_index.union([_carried(pairs, now), more], len(h))
        for pairs, more in zip((last.centred, last.off_centre, last.turned), found)
    )
    off_centre = phash_index.without(off_centre, centred, len(h))
    return _Answer(keys, views, last.capped, centred, off_centre, turned)


def _queries(h, views: np.ndarray, rotations: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The query hashes of the three searches: centred (the pHash and ZOOMS), off-centre,
    turned (empty without rotations)."""
    z, c = len(ZOOMS), len(ZOOMS) * (1 + len(CORNERS))
    turned = views[:, c:] if rotations else np.empty((len(h), 0), np.uint64)
    return np.column_stack([h, views[:, :z]]), views[:, z:c], turned


def _views(thumbs: np.ndarray, rotations: bool) -> np.ndarray:
    parts = [phash_index.zoomed_phashes(thumbs), phash_index.off_centre_phashes(thumbs)]
    if rotations:
        parts.append(np.array([dihedral_phashes(t) for t in thumbs], np.uint64).reshape(-1, 8))
    return np.concatenate(parts, axis=1)


def _carried(pairs: np.ndarray, now: np.ndarray) -> np.ndarray:
    """Remembered pairs in today's indices, those of removed photos dropped."""
    moved = now[pairs]
    moved = moved[(moved >= 0).all(axis=1)]
    return np.sort(moved, axis=1)


def _keys(h: np.ndarray, thumbs: np.ndarray) -> np.ndarray:
    """A 64-bit digest of each photo's pHash and thumbnail: what all its query hashes derive from."""
    rows = thumbs.reshape(len(h), -1)
    return np.frombuffer(
        b"".join(hashlib.blake2b(x.tobytes() + t.tobytes(), digest_size=8).digest() for x, t in zip(h, rows)),
        np.uint64,
    )


def _positions(remembered: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each photo's index among the remembered ones, -1 for a new one; the k-th photo with a
    key takes the k-th remembered one with it (identical photos are distinct photos)."""
    order = np.argsort(remembered, kind="stable")
    ranked = remembered[order]
    at = np.searchsorted(ranked, keys) + _rank_among_equals(keys)
    found = at < len(ranked)
    found[found] = ranked[at[found]] == keys[found]
    return np.where(found, order[np.minimum(at, len(ranked) - 1)], -1)


def _rank_among_equals(keys: np.ndarray) -> np.ndarray:
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if len(keys) else np.empty(0, np.int64)
    rank = np.empty(len(keys), np.int64)
    rank[order] = np.arange(len(keys)) - np.repeat(starts, np.diff(np.r_[starts, len(keys)]))
    return rank


def _digest(rotations: bool) -> bytes:
    """What the stored answer's meaning depends on besides the photos."""
    params = f"v2r{phash_index.PHASH_NEAR}b{phash_index._BUCKET_CAP}z{ZOOMS}c{CORNERS}t{rotations}"
    return hashlib.blake2b(params.encode(), digest_size=_DIGEST).digest()


def _dump(answer: _Answer, digest: bytes) -> bytes:
    """Header (digest, then the lengths), the hashes as they are (random bits do not
    compress), the pairs compressed."""
    pairs = (answer.centred, answer.off_centre, answer.turned)
    lengths = [len(answer.keys), answer.views.shape[1], len(answer.capped), *(len(p) for p in pairs)]
    packed = zlib.compress(np.concatenate(pairs).astype(np.int32).tobytes(), 1)
    return b"".join(
        [
            digest,
            np.array(lengths, "<i8").tobytes(),
            answer.keys.astype("<u8").tobytes(),
            answer.views.astype("<u8").tobytes(),
            answer.capped.astype("<i8").tobytes(),
            packed,
        ]
    )


def _load(cache: Any, digest: bytes) -> _Answer | None:
    saved = cache.get_blob(NAMESPACE, "candidates")
    if saved is None or saved[:_DIGEST] != digest:
        return None
    n, v, c, *m = np.frombuffer(saved, "<i8", 6, _DIGEST).tolist()
    at = _DIGEST + 48
    keys = np.frombuffer(saved, "<u8", n, at).astype(np.uint64)
    views = np.frombuffer(saved, "<u8", n * v, at + 8 * n).astype(np.uint64).reshape(n, v)
    capped = np.frombuffer(saved, "<i8", c, at + 8 * n * (1 + v)).astype(np.int64)
    pairs = np.frombuffer(zlib.decompress(saved[at + 8 * (n * (1 + v) + c) :]), np.int32).astype(np.int64)
    centred, off_centre, turned = np.split(pairs.reshape(-1, 2), np.cumsum(m)[:2])
    return _Answer(keys, views, capped, centred, off_centre, turned)
