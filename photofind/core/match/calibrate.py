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
saved as it goes: each sampled photo's derivative cosines are stored as they are measured,
so a stopped or killed calibration resumes with the next photo. A (re)calibration is the one
step after the read pass that opens photo files: its sampled photos (SAMPLE, fewer in a small
library: `sample_size`), to make derivatives of.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from photofind.core.match import derivatives
from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.types import ImageRecord, Thresholds

PHASE = Phase.CALIBRATE
NAMESPACE = "calibration"
WORK_NAMESPACE = "calibration-work"  # per sampled photo: its derivative cosines
VERSION = 1
RECALIBRATE_CHANGE = 0.25
TARGET_PRECISION = 0.99
MIN_PHOTOS = 40  # fewer distinct pairs than this says nothing about a tail
SAMPLE = 24  # photos whose derivatives are embedded (8 each): ~190 extra inferences once
# A small library samples fewer (one photo in SAMPLE_EVERY, at least MIN_SAMPLE): the fixed
# ~190 inferences were 1.5 times a 128-photo library's own, most of its first scan's time.
SAMPLE_EVERY = 16
MIN_SAMPLE = 8
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


def derivative_cosines(
    images: Sequence[Image.Image],
    embedder,
    originals: np.ndarray,
    *,
    names: Sequence[str] = derivatives.CALIBRATION,
    seed: int = 0,
    progress: Progress = NULL_PROGRESS,
) -> np.ndarray:
    """Cosine between each sampled photo's embedding and each of its derivatives'."""
    out = []
    for k, (image, vec) in enumerate(zip(images, originals)):
        batch = [
            embedder.prepare(derivatives.decode(derivatives.make(name, image, seed + k)[0])) for name in names
        ]
        emb = embedder.embed(np.stack(batch))
        out.append(emb @ vec)
        check_cancel(progress)
        progress.update(PHASE, k + 1, len(images))
    return np.concatenate(out) if out else np.empty(0)


def still_valid(cached: Calibration, photos: int, target: float) -> bool:
    """The recompute rule (see the module docstring)."""
    change = abs(photos - cached.photos) / max(cached.photos, 1)
    return cached.target_precision == target and change <= RECALIBRATE_CHANGE


def sample_size(photos: int) -> int:
    """How many photos of a library of `photos` calibration makes derivatives of."""
    return min(SAMPLE, max(MIN_SAMPLE, photos // SAMPLE_EVERY))


def library_key(roots: Sequence[str]) -> str:
    """The key naming a library among the cached calibrations: its folders."""
    return "|".join(sorted(roots))


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
    valid, else measured. None when the library is too small to learn from and nothing is
    cached."""
    model_id = embedder.model.id
    key = f"{model_id}@{library}"
    cached = _load(cache, key)
    n = len(records)
    if cached is not None and still_valid(cached, n, target):
        return cached
    if n < MIN_PHOTOS or embeddings is None:
        return cached
    valid = [i for i in range(n) if np.linalg.norm(embeddings[i]) > 0.5]
    rng = np.random.default_rng(seed)
    size = min(sample or sample_size(n), len(valid))
    picks = sorted(rng.choice(valid, size=size, replace=False).tolist())
    found = []
    for k, i in enumerate(picks):
        check_cancel(progress)
        cosines = _photo_cosines(records[i], embeddings[i], embedder, cache, seed + k)
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


def _photo_cosines(record: ImageRecord, vector: np.ndarray, embedder, cache, seed: int) -> np.ndarray | None:
    """One sampled photo's derivative cosines: saved work if any, else measured and saved.
    None when the photo cannot be decoded now."""
    key = f"{embedder.model.id}|{record.content_hash}|{seed}|{','.join(derivatives.CALIBRATION)}"
    saved = cache.get_blob(WORK_NAMESPACE, key) if cache is not None else None
    if saved is not None:
        return np.frombuffer(saved, np.float64)
    from photofind.core.scan.imageio import decode_file

    decoded = decode_file(record.path)
    if not hasattr(decoded, "image"):
        return None
    cosines = derivative_cosines([decoded.image], embedder, vector[None, :], seed=seed).astype(np.float64)
    if cache is not None:
        cache.put_blob(WORK_NAMESPACE, key, cosines.tobytes())
    return cosines


def _load(cache, key: str) -> Calibration | None:
    if cache is None:
        return None
    data = cache.get_blob(NAMESPACE, key)
    return Calibration.from_bytes(data) if data else None
