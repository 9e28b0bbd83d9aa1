"""Pixel-level checks that tell a near-duplicate (same photo) from a similar photo (same scene).

Grouping calls these on candidate pairs; none of them is needed for pairs it rejects first.

- `pixel_check`: same photo after resize, re-encode, light edits, a crop, letterbox bars or
  (opt-in) a 90-degree rotation or mirror? It compares fine detail of the two pictures after
  finding where one sits inside the other (photofind.core.match.align). The 32x32 thumbnails of the
  scan are too coarse for that: frames of a burst, shifted by a few percent, agree on them as
  well as a re-encoded copy does. So the scan's one read pass makes a 128x128 detail image
  of every photo (`detail_of_image`), and the cache keeps it (`detail_to_bytes`, 4-8 KB).
  Grouping hands the check a `PixelFacts` source (`reading_from`), and then no photo file is
  opened; without one (a library caller with no cache) the detail is decoded from the file.
- `same_pixels`: equal decoded pixels behind different bytes (a metadata-only change). A JPEG
  draft decode sees only the DC coefficients, so hashes of it prove nothing; this decodes both
  files in full, and only for pairs whose cheap facts already agree; the `PixelFacts`
  source keeps each digest, so a file is decoded in full at most once.
- `phash_candidates`: pairs of photos whose pHashes are close, found with a multi-index hash
  (no all-pairs scan at scale), so copies are found even without a CNN.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from photofind.core.match import align
from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.scan.hashing import DIHEDRAL, content_box, dihedral, dihedral_phashes, phash_of_thumb
from photofind.core.types import ImageRecord

PHASH_NEAR = 10  # default pHash radius for candidates: Hamming distance of 64-bit pHashes
DETAIL_NEAR = 0.62  # min detail correlation, after alignment, for "same photo"
COARSE_GATE = 0.55  # below this 32x32 correlation at every alignment, skip the fine search
FALLBACK_PHASH, FALLBACK_CORR = 4, 0.985  # when a file cannot be re-read: thumbnails only
ROTATION_GATE = 14  # pHash distance of a rotated/mirrored variant worth a detail check
TILT_GATE = 26  # pHash distance of a pair worth the small-angle search (straightened copies)
TILT_COARSE_GATE = 0.9  # 32x32 correlation a turned crop reaches before the fine check
TILTS = tuple(sign * deg for deg in (2.0, 3.5, 5.0, 6.5, 8.0) for sign in (1, -1))
DETAIL = 128
# Bump when pixel_check or same_pixels may answer a pair differently: cached verdicts go.
VERIFIER_VERSION = 1
# Bump when detail_of_image or detail_to_bytes changes: each photo is then read again once.
DETAIL_FORMAT = 1
_STORED_STEP = 4  # the cached detail keeps 64 gray levels: ~1 level of noise against a std of ~50


@dataclass(frozen=True)
class Detail:
    """A photo as the pixel check sees it: squashed grayscale inside any letterbox bars."""

    gray: np.ndarray  # (DETAIL, DETAIL) float32
    bordered: bool  # bars were cut off
    prepared: align.Prepared | None = None
    aspect: float = 1.0  # width / height of the picture (without the bars) as displayed


class _Lru:
    """Thread-safe bounded mapping; a scan's verification touches each photo a few times."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_details = _Lru(1024)  # ~150 KB each (the image and its pyramid): ~150 MB at most
_digests = _Lru(4096)
_MISSING = Detail(np.zeros((1, 1), np.float32), False)


def detail_of_image(image: Image.Image, *, prepare: bool = True) -> Detail:
    """The one producer of a photo's Detail. `prepare=False` leaves out the alignment
    pyramid (the read pass stores the detail; `detail_from_bytes` prepares it)."""
    box = content_box(image)
    bordered = box != (0, 0, image.width, image.height)
    if bordered:
        image = image.crop(box)
    gray = np.asarray(image.convert("L").resize((DETAIL, DETAIL), Image.Resampling.BOX), np.float32)
    return Detail(
        gray, bordered, align.prepare(gray) if prepare else None, image.width / max(image.height, 1)
    )


def detail_to_bytes(detail: Detail) -> bytes:
    """The cached form: a JSON header of every field but the images (so a field added to
    Detail is kept without a new format), then `gray` as a 6-bit PNG (Pillow)."""
    fields = {
        f.name: getattr(detail, f.name)
        for f in dataclasses.fields(detail)
        if f.name not in ("gray", "prepared")
    }
    header = json.dumps({"format": DETAIL_FORMAT, **fields}).encode()
    levels = np.clip(detail.gray // _STORED_STEP, 0, 255 // _STORED_STEP).astype(np.uint8)
    png = io.BytesIO()
    # Level 1: a third of the default's time (the read pass does this for every photo) for
    # about 1 KB more per photo (6.5 KB instead of 5.4 on the benchmark's photos).
    Image.fromarray(levels).save(png, format="PNG", compress_level=1)
    return struct.pack("<I", len(header)) + header + png.getvalue()


def detail_from_bytes(data: bytes) -> Detail | None:
    """The Detail `detail_to_bytes` stored, prepared for alignment; None if it is not in
    this DETAIL_FORMAT (or unreadable)."""
    try:
        (size,) = struct.unpack_from("<I", data)
        fields = json.loads(data[4 : 4 + size].decode())
        if fields.pop("format") != DETAIL_FORMAT:
            return None
        with Image.open(io.BytesIO(data[4 + size :])) as png:
            levels = np.asarray(png, np.float32)
    except (ValueError, KeyError, OSError, struct.error):
        return None
    gray = levels * _STORED_STEP + (_STORED_STEP - 1) / 2
    return Detail(gray=gray, prepared=align.prepare(gray), **fields)


class PixelFacts(Protocol):
    """Where the checks find what the read pass kept (see pixelfacts.CachedPixelFacts)."""

    def detail(self, record: ImageRecord) -> Detail | None: ...

    def bordered(self, record: ImageRecord) -> bool: ...

    def digest(self, record: ImageRecord) -> str | None: ...


_source: ContextVar[PixelFacts | None] = ContextVar("photofind_pixel_facts", default=None)


@contextmanager
def reading_from(facts: PixelFacts) -> Iterator[None]:
    """Within this block (in this thread), the checks take details and digests from `facts`."""
    token = _source.set(facts)
    try:
        yield
    finally:
        _source.reset(token)


def load_detail(record: ImageRecord) -> Detail | None:
    """The record's detail image: from the `reading_from` source, else decoded from the file
    once per content; None if it cannot be had."""
    facts = _source.get()
    if facts is not None:
        return facts.detail(record)
    key = (record.path, record.content_hash)
    hit = _details.get(key)
    if hit is None:
        from photofind.core.scan.imageio import decode_file  # decoding stack only when needed

        decoded = decode_file(record.path, min_side=DETAIL)
        hit = _MISSING if not hasattr(decoded, "image") else detail_of_image(decoded.image)
        _details.put(key, hit)
    return None if hit is _MISSING else hit


def has_bars(record: ImageRecord) -> bool:
    """Letterbox or pillarbox bars around the picture (False if the file cannot be read now)."""
    facts = _source.get()
    if facts is not None:
        return facts.bordered(record)
    detail = load_detail(record)
    return bool(detail and detail.bordered)


def clear_caches() -> None:
    _details.clear()
    _digests.clear()


def thumb_correlation(a: np.ndarray, b: np.ndarray) -> float:
    x = np.asarray(a, dtype=np.float32).ravel()
    y = np.asarray(b, dtype=np.float32).ravel()
    x = x - x.mean()
    y = y - y.mean()
    # einsum: numpy's own loop, no BLAS thread hand-off per call (see align.coarse_scores)
    denom = float(np.sqrt(np.einsum("i,i->", x, x) * np.einsum("i,i->", y, y)))
    return float(np.einsum("i,i->", x, y) / denom) if denom > 0 else 0.0


def pixel_check(
    a: ImageRecord, b: ImageRecord, thumb_a: np.ndarray, thumb_b: np.ndarray, *, rotations: bool = False
) -> str | None:
    """If the pixels confirm that `a` and `b` are the same photo, say how they differ
    ("resized", "re-encoded", "cropped", ...); otherwise None. With `rotations`, copies
    turned by 90/180/270 degrees or mirrored count too ("rotated", "mirrored")."""
    if a.content_hash == b.content_hash:
        return "same bytes"
    da, db = load_detail(a), load_detail(b)
    if da is None or db is None:
        return _thumbs_only(a, b, thumb_a, thumb_b)
    fit = match_details(da.prepared, db.prepared, (da.aspect, db.aspect))
    if fit.score >= DETAIL_NEAR:
        return _describe(a, b, fit, da, db, thumb_a, thumb_b)
    if rotations:
        return _rotated(da, db, thumb_a, thumb_b) or _tilted(a, b, da, db, thumb_a, thumb_b)
    return None


def match_details(a: align.Prepared, b: align.Prepared, aspects: tuple[float, float]) -> align.Fit:
    """Where one detail image sits inside the other, and how well the detail agrees there.
    `aspects`: the two pictures' width / height, which a crop region must keep."""
    whole = align.Fit(0, (0.0, 0.0, 1.0, 1.0), thumb_correlation(a.fine, b.fine))
    if whole.score >= DETAIL_NEAR:  # the common case: resized, re-encoded, lightly edited
        return whole
    fit = align.find_containment(a, b, gate=COARSE_GATE, enough=DETAIL_NEAR, aspects=aspects)
    return max(whole, fit, key=lambda f: f.score)


def _rotated(da: Detail, db: Detail, thumb_a: np.ndarray, thumb_b: np.ndarray) -> str | None:
    """Try b's seven other symmetries, cheapest gate first: the pHash of each variant. The
    hashes come from the detail images (bars cut off), so a letterboxed copy still gates."""
    ha = phash_of_thumb(da.prepared.coarse)
    variants = dihedral_phashes(db.prepared.coarse)
    order = sorted(range(1, 8), key=lambda k: (int(ha) ^ int(variants[k])).bit_count())
    for k in order:
        if (int(ha) ^ int(variants[k])).bit_count() > ROTATION_GATE:
            break
        turned_aspect = 1.0 / db.aspect if k % 2 else db.aspect  # odd variants turn by 90 degrees
        fit = match_details(
            da.prepared, align.prepare(np.ascontiguousarray(dihedral(db.gray, k))), (da.aspect, turned_aspect)
        )
        if fit.score >= DETAIL_NEAR:
            return "mirrored" if DIHEDRAL[k].startswith("mirror") else "rotated"
    return None


def tilt(gray: np.ndarray, degrees: float, aspect: float) -> np.ndarray:
    """Rotate a squashed square image by `degrees` (counter-clockwise, as PIL's rotate) about
    its centre, as the photo of aspect `aspect` (width / height) it stands for would turn."""
    n = gray.shape[0]
    t = -np.radians(degrees)  # image rows grow downwards
    c, s = float(np.cos(t)), float(np.sin(t))
    # Output -> input pixel map in squashed coordinates: squash^-1 . rotate^-1 . squash.
    a, b, d, e = c, s / aspect, -s * aspect, c
    half = n / 2.0
    coeffs = (a, b, half - a * half - b * half, d, e, half - d * half - e * half)
    im = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    out = im.transform((n, n), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.float32)


def _tilted(a: ImageRecord, b: ImageRecord, da: Detail, db: Detail, thumb_a, thumb_b) -> str | None:
    """A photo straightened by a few degrees (and cropped to its upright rectangle, as
    editors do) is a crop of the original turned by that angle. Angles are screened on the
    32x32 level; only the best one, if promising, gets the full containment search."""
    if a.phash is not None and b.phash is not None and (a.phash ^ b.phash).bit_count() > TILT_GATE:
        return None
    best = (-1.0, 0.0, da, db, a)
    for outer, inner, rec in ((da, db, a), (db, da, b)):
        aspect = rec.facts.width / max(rec.facts.height, 1)
        for degrees in TILTS:
            turned = tilt(outer.prepared.coarse, degrees, aspect)
            score = float(align.coarse_scores(turned, inner.prepared.coarse).max())
            if score > best[0]:
                best = (score, degrees, outer, inner, rec)
    score, degrees, outer, inner, rec = best
    if score < TILT_COARSE_GATE:
        return None
    turned = align.prepare(tilt(outer.gray, degrees, rec.facts.width / max(rec.facts.height, 1)))
    fit = align.find_containment(
        turned, inner.prepared, gate=COARSE_GATE, enough=DETAIL_NEAR, aspects=(outer.aspect, inner.aspect)
    )
    if fit.score >= DETAIL_NEAR:
        return "rotated"
    return None


def _thumbs_only(a, b, thumb_a, thumb_b) -> str | None:
    """Conservative answer when a file is gone: only near-identical thumbnails match."""
    if a.phash is None or b.phash is None or (a.phash ^ b.phash).bit_count() > FALLBACK_PHASH:
        return None
    if thumb_correlation(thumb_a, thumb_b) < FALLBACK_CORR:
        return None
    return describe_difference(a, b)


def _describe(a, b, fit: align.Fit, da: Detail, db: Detail, thumb_a, thumb_b) -> str:
    if da.bordered != db.bordered:
        return "letterboxed"
    x0, y0, x1, y1 = fit.region
    if min(x1 - x0, y1 - y0) < 0.97:
        return "cropped"
    if _tone_changed(thumb_a, thumb_b):
        return "edited"
    return describe_difference(a, b)


def _tone_changed(thumb_a: np.ndarray, thumb_b: np.ndarray) -> bool:
    """Brightness, contrast or gamma edits move the mean or the spread of the thumbnail."""
    x = np.asarray(thumb_a, dtype=np.float32)
    y = np.asarray(thumb_b, dtype=np.float32)
    spread = (float(x.std()) + 1.0) / (float(y.std()) + 1.0)
    return abs(float(x.mean()) - float(y.mean())) > 8.0 or not 0.88 < spread < 1.14


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


# -- equal pixels ------------------------------------------------------------------------------


def pixels_candidate(a: ImageRecord, b: ImageRecord, thumb_a: np.ndarray, thumb_b: np.ndarray) -> bool:
    """Cheap necessary conditions for equal pixels: same displayed size, near-equal pHash and
    thumbnails (a draft-decoded JPEG and a PNG of the same pixels differ slightly)."""
    if (a.facts.width, a.facts.height) != (b.facts.width, b.facts.height):
        return False
    if a.phash is not None and b.phash is not None and (a.phash ^ b.phash).bit_count() > 2:
        return False
    diff = np.abs(np.asarray(thumb_a, np.int16) - np.asarray(thumb_b, np.int16))
    return float(diff.mean()) <= 2.0


def pixel_digest(record: ImageRecord) -> str | None:
    """Hash of the fully decoded pixels as displayed (EXIF orientation applied), or None if
    the file cannot be decoded now. ~150 ms for a 12-MP JPEG, so only for candidates."""
    facts = _source.get()
    if facts is not None:
        return facts.digest(record)
    key = (record.path, record.content_hash)
    hit = _digests.get(key)
    if hit is None:
        hit = decode_digest(record.path)
        _digests.put(key, hit)
    return hit or None


def decode_digest(path: str) -> str:
    """pixel_digest's hash, decoding the file in full; "" if it cannot be decoded now."""
    from photofind.core.scan.imageio import _apply_orientation, _to_rgb

    digest = ""
    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(274, 1)
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            im.load()
            rgb = _to_rgb(im)
            if orientation != 1:
                rgb = _apply_orientation(rgb, orientation)
            h = hashlib.blake2b(digest_size=20)
            h.update(f"{rgb.width}x{rgb.height}".encode())
            h.update(rgb.tobytes())
            digest = h.hexdigest()
    except Exception:  # noqa: BLE001 - an unreadable file is simply not proven equal
        digest = ""
    return digest


def same_pixels(a: ImageRecord, b: ImageRecord, thumb_a: np.ndarray, thumb_b: np.ndarray) -> bool:
    """True only when both files decode to exactly the same displayed pixels."""
    if a.content_hash == b.content_hash:
        return True
    if not pixels_candidate(a, b, thumb_a, thumb_b):
        return False
    da = pixel_digest(a)
    return da is not None and da == pixel_digest(b)


# -- pHash candidates ----------------------------------------------------------------------------

_BRUTE_FORCE_MAX = 6000  # below this, a blocked all-pairs popcount is faster than an index
_BLOCKS = 4  # 16-bit substrings for the multi-index hash
_BUCKET_CAP = 2000  # a substring shared by more photos than this (flat images) is skipped


def phash_candidates(
    phashes, max_distance: int = PHASH_NEAR, *, variants=None, progress: Progress = NULL_PROGRESS
) -> np.ndarray:
    """(m, 2) index pairs i < j whose 64-bit pHashes differ in <= max_distance bits.

    `variants` ((n, 8) uint64, from hashing.dihedral_phashes) also pairs photos whose rotated
    or mirrored pHash is close. Large inputs use multi-index hashing: split the 64 bits into
    4 substrings; two hashes within distance r agree within r // 4 bits on at least one of
    them, so only photos sharing a nearby substring are compared.
    """
    h = np.asarray(phashes, dtype=np.uint64).ravel()
    queries = [h] if variants is None else [np.asarray(variants, dtype=np.uint64)[:, k] for k in range(8)]
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
