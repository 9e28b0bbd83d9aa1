"""Content hashes (exact duplicates) and perceptual hashes (pixel-level similarity)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from PIL import Image

CHUNK = 1 << 20


def content_hash(data: bytes) -> str:
    """Hash of the file's bytes. blake2b is faster than sha256 and collision-safe."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def content_hash_file(path: str) -> str:
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=4)
def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


def gray_thumb(image: Image.Image, size: int = 32) -> np.ndarray:
    """A size x size grayscale float array of the whole image (aspect squashed on purpose,
    so resized copies of any aspect land on the same grid)."""
    small = image.convert("L").resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32)


def phash(image: Image.Image) -> int:
    """64-bit DCT perceptual hash: the signs of the 8x8 lowest frequencies against their
    median, as in the well-known pHash construction."""
    pixels = gray_thumb(image, 32)
    d = _dct_matrix(32)
    coeffs = (d @ pixels @ d.T)[:8, :8].ravel()
    bits = coeffs > np.median(coeffs[1:])
    return int(np.packbits(bits).view(">u8")[0])


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def to_signed64(value: int) -> int:
    """SQLite integers are signed 64-bit."""
    return value - (1 << 64) if value >= (1 << 63) else value


def from_signed64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
