"""Content hashes (exact duplicates) and perceptual hashes (pixel-level similarity)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from PIL import Image

from photofind.core.scan.fileread import open_regular

CHUNK = 1 << 20


def content_hash(data: bytes) -> str:
    """Hash of the file's bytes. blake2b is faster than sha256 and collision-safe."""
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def content_hash_file(path: str) -> str:
    h = hashlib.blake2b(digest_size=20)
    with open_regular(path) as fh:
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


def phash(image: Image.Image, *, box: tuple[int, int, int, int] | None = None) -> int:
    """64-bit DCT perceptual hash of the picture inside any letterbox bars: the signs of the
    8x8 lowest frequencies against their median, as in the well-known pHash construction.
    Bars are cut first so a letterboxed or pillarboxed copy hashes like its original.
    `box`: the image's `content_box`, when the caller has it already."""
    box = content_box(image) if box is None else box
    if box != (0, 0, image.width, image.height):
        image = image.crop(box)
    return phash_of_thumb(gray_thumb(image, 32))


def phash_of_thumb(thumb: np.ndarray) -> int:
    """pHash of a 32x32 grayscale thumbnail."""
    d = _dct_matrix(32)
    coeffs = (d @ np.asarray(thumb, dtype=np.float32) @ d.T)[:8, :8].ravel()
    bits = coeffs > np.median(coeffs[1:])
    return int(np.packbits(bits).view(">u8")[0])


def phashes_through(thumbs: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(n,) uint64: the pHash of `rows @ thumb @ cols.T` for each 32x32 thumbnail in `thumbs`
    ((n, 32, 32)), a linear view of it such as a region resampled to 32x32. The DCT's eight
    lowest rows fold into the two view matrices, so a view costs two small products per
    photo, in chunks that keep memory flat."""
    low = _dct_matrix(32)[:8]
    left, right = low @ rows, (low @ cols).T
    out = np.empty(len(thumbs), np.uint64)
    for start in range(0, len(thumbs), 4096):
        chunk = np.asarray(thumbs[start : start + 4096], np.float32)
        coeffs = (left @ chunk @ right).reshape(len(chunk), 64)
        bits = coeffs > np.median(coeffs[:, 1:], axis=1)[:, None]
        out[start : start + len(chunk)] = np.packbits(bits, axis=1).view(">u8")[:, 0]
    return out


# The eight symmetries of a square: identity, three rotations, and four mirror images.
# Applied to the squashed thumbnail they equal the thumbnail of the rotated/mirrored photo.
DIHEDRAL = (
    "identity",
    "rot90",
    "rot180",
    "rot270",
    "mirror",
    "mirror_rot90",
    "mirror_rot180",
    "mirror_rot270",
)


def dihedral(thumb: np.ndarray, k: int) -> np.ndarray:
    """Variant k (index into DIHEDRAL) of a square array."""
    t = np.fliplr(thumb) if k >= 4 else thumb
    return np.rot90(t, k % 4)


def dihedral_phashes(thumb: np.ndarray) -> np.ndarray:
    """(8,) uint64 pHashes of the thumbnail's eight symmetries (DIHEDRAL order). Cheap: a
    32x32 DCT each, so rotated and mirrored copies can be matched without new decoding."""
    return np.array([phash_of_thumb(dihedral(thumb, k)) for k in range(8)], dtype=np.uint64)


def content_box(
    image: Image.Image, *, tolerance: float = 6.0, min_bar: float = 0.02, min_content: float = 0.3
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the picture without uniform bars along its edges.
    A bar is a run of edge rows or columns of one flat dark or light colour; runs under
    `min_bar` of the side, or without a twin on the opposite edge, are picture."""
    small = image.convert("L")
    scale = max(small.size) / 256
    if scale > 1:
        small = small.resize(
            (max(1, round(image.width / scale)), max(1, round(image.height / scale))), Image.Resampling.BOX
        )
    g = np.asarray(small, dtype=np.float32)
    h, w = g.shape

    def run(lines: np.ndarray) -> int:
        ref = lines[0].mean()
        if 40 <= ref <= 215:  # bars are black or white; a flat blue sky is picture
            return 0
        flat = (lines.std(axis=1) < tolerance) & (np.abs(lines.mean(axis=1) - ref) < tolerance)
        return int(np.argmin(flat)) if not flat.all() else len(lines)

    top, bottom = run(g), run(g[::-1])
    left, right = run(g.T), run(g.T[::-1])
    # Letterbox and pillarbox bars come in centred pairs; one flat edge, or two of unequal
    # depth (a blown-out sky above a bright floor), is part of the picture.
    if min(top, bottom) < min_bar * h or not _centred(top, bottom):
        top = bottom = 0
    if min(left, right) < min_bar * w or not _centred(left, right):
        left = right = 0
    if h - top - bottom < min_content * h or w - left - right < min_content * w:
        return (0, 0, image.width, image.height)
    sx, sy = image.width / w, image.height / h
    return (round(left * sx), round(top * sy), round((w - right) * sx), round((h - bottom) * sy))


def _centred(a: int, b: int) -> bool:
    """Two bar depths (in pixels of the 256-px working image) equal up to rounding."""
    return abs(a - b) <= max(2, 0.1 * max(a, b))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def to_signed64(value: int) -> int:
    """SQLite integers are signed 64-bit."""
    return value - (1 << 64) if value >= (1 << 63) else value


def from_signed64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
