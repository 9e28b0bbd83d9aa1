"""Calibration's measurements: which photos are sampled, the model inputs of their known
derivatives, and each sampled photo's derivative cosines, saved in the cache.

Photos are sampled by a key of their path (the lowest keys win), not drawn at random among
the records, so the sample is known before any file is read: the read pass makes a sampled
photo's derivatives from the picture it has just decoded, and they are embedded in the same
batches as the photos (`ReadPassSample`), while the decoders keep the other cores busy. No
second read of the file, no serial phase after the read pass. A photo the read pass did not
measure (its file was cached before calibration was due) is read again by `measure`, the
same way, so both give the same cosines.

Keyed by path, the sample of a library that grows keeps its photos unless new ones have lower
keys, and a subfolder's sample holds every photo of its parent's sample that lies in it; the
cosines are saved per model and content hash, so a recalibration measures only what is new.
"""

from __future__ import annotations

import hashlib
import heapq
import os
from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image

from photofind.core.match import derivatives
from photofind.core.model.embed import INPUT_SIZE
from photofind.core.scan.fileread import read_regular
from photofind.core.scan.imageio import WORK_SIZE, Decoded, decode_bytes

WORK_NAMESPACE = "calibration-work"  # per model and content hash: its derivative cosines
SAMPLE = 24  # photos whose derivatives are embedded (8 each): ~190 extra inferences once
# A small library samples fewer (one photo in SAMPLE_EVERY, at least MIN_SAMPLE): the fixed
# ~190 inferences were 1.5 times a 128-photo library's own, most of its first scan's time.
SAMPLE_EVERY = 16
MIN_SAMPLE = 8


def sample_size(photos: int) -> int:
    """How many photos of a library of `photos` calibration makes derivatives of."""
    return min(SAMPLE, max(MIN_SAMPLE, photos // SAMPLE_EVERY))


def sample_key(path: str) -> int:
    """A photo's place in the sampling order: uniform, and fixed for its path."""
    return int.from_bytes(hashlib.blake2b(os.fsencode(path), digest_size=8).digest(), "big")


def sampled(paths: Iterable[str], size: int) -> list[str]:
    """The `size` paths with the lowest keys, lowest first."""
    return heapq.nsmallest(size, paths, key=sample_key)


def source_image(decoded: Decoded, data: bytes, path: str) -> Image.Image | None:
    """The picture derivatives are made of: the photo fitted into WORK_SIZE. The read pass's
    decode (reduced only as far as the model input allows) is used when it holds that many
    pixels, as a 12-MP JPEG's does, or the whole photo; otherwise the bytes are decoded again
    at WORK_SIZE, so that a resized derivative is not made from a picture already halved."""
    image = decoded.image
    whole = max(decoded.facts.width, decoded.facts.height) <= max(image.size)
    if max(image.size) >= WORK_SIZE or whole:
        fitted = image.copy()
        fitted.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return fitted
    again = decode_bytes(data, path)
    return again.image if isinstance(again, Decoded) else None


def derivative_inputs(
    source: Image.Image, prepare: Callable[[Image.Image], np.ndarray], content_hash: str
) -> np.ndarray:
    """The model inputs of the photo's known edits (derivatives.CALIBRATION), encoded and
    decoded as files would be; seeded by the content, so the same bytes give the same inputs."""
    seed = int(content_hash[:8], 16)
    return np.stack(
        [
            prepare(derivatives.decode(derivatives.make(name, source, seed)[0]))
            for name in derivatives.CALIBRATION
        ]
    )


def work_key(model_id: str, content_hash: str) -> str:
    return f"{model_id}|{content_hash}|{','.join(derivatives.CALIBRATION)}"


def saved_cosines(cache, model_id: str, content_hash: str) -> np.ndarray | None:
    saved = cache.get_blob(WORK_NAMESPACE, work_key(model_id, content_hash)) if cache is not None else None
    return np.frombuffer(saved, np.float64) if saved is not None else None


def save_cosines(
    cache, model_id: str, content_hash: str, vector: np.ndarray, derived: np.ndarray
) -> np.ndarray:
    """Cosines of a photo's embedding `vector` with its derivatives' rows `derived`, saved."""
    cosines = np.asarray(derived, np.float64) @ np.asarray(vector, np.float64)
    if cache is not None:
        cache.put_blob(WORK_NAMESPACE, work_key(model_id, content_hash), cosines.tobytes())
    return cosines


def measure(path: str, content_hash: str, vector: np.ndarray, embedder, cache) -> np.ndarray | None:
    """One photo's derivative cosines outside the read pass: its file read and decoded as the
    read pass does, its derivatives embedded. None when the file cannot be decoded now."""
    try:
        data = read_regular(path)
    except OSError:
        return None
    decoded = decode_bytes(data, path, min_side=INPUT_SIZE)
    source = source_image(decoded, data, path) if isinstance(decoded, Decoded) else None
    if source is None:
        return None
    derived = embedder.embed(derivative_inputs(source, embedder.prepare, content_hash))
    return save_cosines(cache, embedder.model.id, content_hash, vector, derived)


class ReadPassSample:
    """The sample the read pass measures (ingest's `derivatives`): the sampled photos' edits,
    made in the decoder threads from the picture they decoded, embedded beside the photos."""

    def __init__(self, paths: Iterable[str], embedder, cache) -> None:
        self._paths = frozenset(paths)
        self._prepare = embedder.prepare
        self._model_id = embedder.model.id
        self._cache = cache

    def inputs(self, path: str, content_hash: str, data: bytes, decoded: Decoded) -> np.ndarray | None:
        """Called from a decoder thread: the derivatives' model inputs, or None when `path`
        is not sampled."""
        if path not in self._paths:
            return None
        source = source_image(decoded, data, path)
        return derivative_inputs(source, self._prepare, content_hash) if source is not None else None

    def embedded(self, content_hash: str, vector: np.ndarray, derived: np.ndarray) -> None:
        """Called on the inference thread with the photo's embedding and its derivatives'."""
        save_cosines(self._cache, self._model_id, content_hash, vector, derived)
