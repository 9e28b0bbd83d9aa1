"""Per-model, per-library tier thresholds, learned from known derivatives of the user's photos.

No constant cosine fits every model: ImageNet weights spread unrelated photos over a wide
range, seeded random weights put everything near 0.99. So the scan samples photos from the
library, makes known derivatives of them in memory (resize, re-encode, crops, brightness),
embeds them, and compares two distributions: cosines of derivative pairs (the same photo)
and cosines of distinct library photos.

- `similar` (the CNN alone decides): the lowest cosine at which the estimated precision,
  per photo, is at least the target: a photo with one true match among n - 1 others gets
  TPR(t) true and FPR(t) * (n - 1) false matches. FPR's far tail is extrapolated from the top
  of the distinct-pair sample (an exponential tail), since a big library needs rates below
  what a sample can count.
- `near` (the pixel check decides, so the cosine only gates which pairs it sees): low enough
  to pass 99% of derivative pairs, but no lower than the cosine at which the pixel check
  would face more than `MAX_CHECKS_PER_PHOTO` candidates per photo.

The result is cached per model and library (Cache.put_blob, key `model id @ library key`,
the library key naming its folders). Recompute rule: it is reused until the library has
grown or shrunk by more than RECALIBRATE_CHANGE (25%) against the size it was made for, or
the model or target precision changes; adding a few photos never recalibrates. Its work is
saved as it goes: each sampled photo's derivative cosines are stored per model and content
hash as they are measured (calsample.py), so a stopped calibration resumes with the next
photo and a recalibration measures only photos new to the sample. When a scan will
calibrate, the read pass measures the sample (`read_pass_sample`), so calibrating itself
then opens no photo file and runs no inference.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from photofind.core.match.calsample import (
    ReadPassSample,
    measure,
    sample_key,
    sample_size,
    sampled,
    saved_cosines,
)
from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.types import ImageRecord, Thresholds

PHASE = Phase.CALIBRATE
NAMESPACE = "calibration"
VERSION = 1
RECALIBRATE_CHANGE = 0.25
TARGET_PRECISION = 0.99
MIN_PHOTOS = 40  # fewer distinct pairs than this says nothing about a tail
NEGATIVE_SAMPLE = 2000  # library photos whose pairwise cosines estimate the distinct tail
NEAR_RECALL = 0.99
MAX_CHECKS_PER_PHOTO = 20.0
TAIL = 200  # top distinct-pair cosines the exponential tail is fitted on


@dataclass(frozen=True)
class Calibration:
    model_id: str
    near: float
    similar: float
    target_precision: float
    estimated_precision: float  # of the similar tier at `similar`, per photo
    near_recall: float  # share of derivative pairs at or above `near` (then the pixel check)
    photos: int  # library size it was made for
    derivative_pairs: int
    distinct_pairs: int
    version: int = VERSION

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(near=self.near, similar=self.similar)

    def as_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Calibration | None:
        try:
            doc = json.loads(data.decode())
            cal = cls(**doc)
        except (ValueError, TypeError):
            return None
        return cal if cal.version == VERSION else None


def tail_rate(neg: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """P(distinct-pair cosine >= t): counted where the sample has enough points, beyond that
    an exponential tail fitted to the top TAIL cosines."""
    s = np.sort(np.asarray(neg, dtype=np.float64))
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    n = len(s)
    counted = (n - np.searchsorted(s, t, side="left")) / n
    k = min(TAIL, max(5, n // 100))
    top = s[-k:]
    start = top[0]
    scale = max(float(np.mean(top - start)), 1e-6)
    # Only used above `start`; clipped below it so exp() never overflows where it is not used.
    modelled = (k / n) * np.exp(-np.maximum(t - start, 0.0) / scale)
    return np.where(t <= start, counted, modelled)


def choose(
    pos: np.ndarray,
    neg: np.ndarray,
    library_size: int,
    *,
    target: float = TARGET_PRECISION,
    model_id: str = "",
) -> Calibration:
    """Thresholds from derivative-pair cosines `pos` and distinct-pair cosines `neg`."""
    pos = np.sort(np.asarray(pos, dtype=np.float64))
    others = max(1, library_size - 1)
    grid = np.unique(np.concatenate([pos, np.linspace(float(np.min(neg)), 1.0, 2001)]))
    tpr = 1.0 - np.searchsorted(pos, grid, side="left") / len(pos)
    fpr = tail_rate(neg, grid)
    false_per_photo = fpr * others
    precision = np.where(tpr + false_per_photo > 0, tpr / np.maximum(tpr + false_per_photo, 1e-300), 1.0)
    ok = np.nonzero((precision >= target) & (tpr > 0))[0]
    if len(ok):
        similar = float(grid[ok[0]])
        est = float(precision[ok[0]])
    else:  # the model cannot reach the target at any cosine: only its best is on offer
        best = int(np.argmax(np.where(tpr > 0, precision, -1)))
        similar, est = float(grid[best]), float(precision[best])
    recall_cut = float(np.quantile(pos, 1.0 - NEAR_RECALL))
    cost_ok = np.nonzero(false_per_photo <= MAX_CHECKS_PER_PHOTO)[0]
    cost_cut = float(grid[cost_ok[0]]) if len(cost_ok) else 1.0
    near = min(similar, max(recall_cut, cost_cut))
    near_recall = float(1.0 - np.searchsorted(pos, near, side="left") / len(pos))
    return Calibration(
        model_id=model_id,
        near=round(near, 6),
        similar=round(similar, 6),
        target_precision=target,
        estimated_precision=est,
        near_recall=near_recall,
        photos=library_size,
        derivative_pairs=len(pos),
        distinct_pairs=len(neg),
    )


def distinct_cosines(
    records: Sequence[ImageRecord], embeddings: np.ndarray, *, sample: int = NEGATIVE_SAMPLE, seed: int = 0
) -> np.ndarray:
    """Cosines of pairs of different library photos: sampled rows, all pairs among them,
    minus pairs that are probably duplicates themselves (same bytes or a close pHash)."""
    valid = np.nonzero(np.linalg.norm(embeddings, axis=1) > 0.5)[0]
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(valid, size=min(sample, len(valid)), replace=False))
    x = embeddings[rows].astype(np.float32)
    sims = x @ x.T
    iu = np.triu_indices(len(rows), 1)
    keep = np.ones(len(iu[0]), dtype=bool)
    hashes = np.array(
        [records[r].phash if records[r].phash is not None else 0 for r in rows], dtype=np.uint64
    )
    has = np.array([records[r].phash is not None for r in rows])
    close = (np.bitwise_count(hashes[iu[0]] ^ hashes[iu[1]]) <= 12) & has[iu[0]] & has[iu[1]]
    chash = np.array([records[r].content_hash for r in rows], dtype=object)
    keep &= ~close & (chash[iu[0]] != chash[iu[1]])
    return sims[iu][keep]


def still_valid(cached: Calibration, photos: int, target: float) -> bool:
    """The recompute rule (see the module docstring)."""
    change = abs(photos - cached.photos) / max(cached.photos, 1)
    return cached.target_precision == target and change <= RECALIBRATE_CHANGE


def read_pass_sample(
    paths: Sequence[str], embedder, *, cache, library: str = "", target: float = TARGET_PRECISION
) -> ReadPassSample | None:
    """What the read pass should measure for the calibration after it, or None when the
    cached calibration will still hold for a library of `paths` or it is too small to learn
    from (the same rule as `calibrate`, on the files found: a few skips do not matter)."""
    n = len(paths)
    cached = _load(cache, _cache_key(embedder.model.id, library))
    if n < MIN_PHOTOS or (cached is not None and still_valid(cached, n, target)):
        return None
    return ReadPassSample(sampled(paths, sample_size(n)), embedder, cache)


def library_key(roots: Sequence[str]) -> str:
    """The key naming a library among the cached calibrations: its folders."""
    return "|".join(sorted(roots))


def _cache_key(model_id: str, library: str) -> str:
    """Where a calibration is cached: the read pass's sample and `calibrate` must agree."""
    return f"{model_id}@{library}"


def calibrate(
    records: Sequence[ImageRecord],
    embeddings: np.ndarray,
    embedder,
    *,
    cache=None,
    library: str = "",
    target: float = TARGET_PRECISION,
    sample: int | None = None,
    seed: int = 0,
    progress: Progress = NULL_PROGRESS,
) -> Calibration | None:
    """The calibration for this model and `library` (a key naming it): cached when still
    valid, else measured (from the cosines the read pass saved, photos it did not measure
    read again). None when the library is too small to learn from and nothing is cached."""
    model_id = embedder.model.id
    key = _cache_key(model_id, library)
    cached = _load(cache, key)
    n = len(records)
    if cached is not None and still_valid(cached, n, target):
        return cached
    if n < MIN_PHOTOS or embeddings is None:
        return cached
    picks = _picks(records, embeddings, sample or sample_size(n))
    found = []
    for k, i in enumerate(picks):
        check_cancel(progress)
        record = records[i]
        cosines = saved_cosines(cache, model_id, record.content_hash)
        if cosines is None:
            cosines = measure(record.path, record.content_hash, embeddings[i], embedder, cache)
        if cosines is not None:
            found.append(cosines)
        progress.update(PHASE, k + 1, len(picks))
    if len(found) < 4:
        return cached
    neg = distinct_cosines(records, embeddings, seed=seed)
    if len(neg) < 100:
        return cached
    cal = choose(np.concatenate(found), neg, n, target=target, model_id=model_id)
    if cache is not None:
        cache.put_blob(NAMESPACE, key, cal.to_bytes())
    return cal


def _picks(records: Sequence[ImageRecord], embeddings: np.ndarray, size: int) -> list[int]:
    """The sampled records (calsample.sampled's order): lowest path keys among the photos
    with an embedding, one per content."""
    valid = [i for i in range(len(records)) if np.linalg.norm(embeddings[i]) > 0.5]
    picks: list[int] = []
    seen: set[str] = set()
    for i in sorted(valid, key=lambda i: sample_key(records[i].path)):
        if records[i].content_hash not in seen:
            seen.add(records[i].content_hash)
            picks.append(i)
            if len(picks) == size:
                break
    return picks


def _load(cache, key: str) -> Calibration | None:
    if cache is None:
        return None
    data = cache.get_blob(NAMESPACE, key)
    return Calibration.from_bytes(data) if data else None
