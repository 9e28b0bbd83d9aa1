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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image

from photofind.core.match import align, residual
from photofind.core.match.detail import READ_SIDE, Detail, Lru, detail_of_image, file_quality
from photofind.core.scan.hashing import DIHEDRAL, dihedral, dihedral_phashes, phash_of_thumb
from photofind.core.types import ImageRecord

DETAIL_NEAR = 0.62  # min detail correlation, after alignment, for "same photo"
COARSE_GATE = 0.55  # below this 32x32 correlation at every alignment, skip the fine search
FALLBACK_PHASH, FALLBACK_CORR = 4, 0.985  # when a file cannot be re-read: thumbnails only
ROTATION_GATE = 14  # pHash distance of a rotated/mirrored variant worth a detail check
TEXTURE = 0.5  # align.grid_stability under this: a stochastic texture (photos: 0.5-0.95)
TILT_MAX = 10.0  # straightened copies: the largest tilt looked for, in degrees
TILT_STEP = 1.0  # angle grid of the coarse tilt screen
TILT_COARSE_GATE = 0.85  # 32x32 correlation a straightened copy reaches at its angle
TILTS = tuple(sign * k * TILT_STEP for k in range(1, int(TILT_MAX / TILT_STEP) + 1) for sign in (1, -1))
# Bump when pixel_check or same_pixels may answer a pair differently: cached verdicts go.
VERIFIER_VERSION = 4


_details = Lru(1024)  # ~150 KB each (the image and its pyramid): ~150 MB at most
_digests = Lru(4096)
_MISSING = object()  # cached for a file that cannot be read now, so it is not decoded again


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
        from photofind.core.scan.imageio import Decoded, decode_file  # decoding stack only when needed

        decoded = decode_file(record.path, min_side=READ_SIDE)
        if isinstance(decoded, Decoded):
            hit = detail_of_image(decoded.image, quality=file_quality(record.path))
        else:
            hit = _MISSING
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
    _tilt_stacks.clear()


def thumb_correlation(a: np.ndarray, b: np.ndarray) -> float:
    x = np.asarray(a, dtype=np.float32).ravel()
    y = np.asarray(b, dtype=np.float32).ravel()
    x = x - x.mean()
    y = y - y.mean()
    # einsum: numpy's own loop, no BLAS thread hand-off per call (see align.coarse_scores)
    denom = float(np.sqrt(np.einsum("i,i->", x, x) * np.einsum("i,i->", y, y)))
    return float(np.einsum("i,i->", x, y) / denom) if denom > 0 else 0.0


@dataclass(frozen=True)
class Verdict:
    """The pixel check's answer for a pair (a, b) it found to be one photo, with the
    geometry that relates them: what the keeper's derivation tree is built from.

    `inner` is the photo whose picture lies inside the other's (0 = a, 1 = b), filling
    `region` of it, turned by `angle` degrees; -1 when both show the same field of view.
    `added` is the photo that carries content the other lacks in one place (a watermark,
    text, a logo): 0, 1, or -1 for none."""

    reason: str
    inner: int = -1
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    angle: float = 0.0
    score: float = 1.0
    added: int = -1

    def swapped(self) -> Verdict:
        """The same verdict for the pair (b, a)."""
        flip = {0: 1, 1: 0, -1: -1}
        return replace(self, inner=flip[self.inner], added=flip[self.added])


def verdict_to_text(verdict: Verdict | None) -> str | None:
    """The cached form of a verdict (None stays None: "not the same photo")."""
    return None if verdict is None else json.dumps(dataclasses.asdict(verdict))


def verdict_from_text(text: str | None) -> Verdict | None:
    if text is None:
        return None
    fields = json.loads(text)
    fields["region"] = tuple(fields["region"])  # JSON has no tuples
    return Verdict(**fields)


def pixel_check(
    a: ImageRecord, b: ImageRecord, thumb_a: np.ndarray, thumb_b: np.ndarray, *, rotations: bool = False
) -> str | None:
    """If the pixels confirm that `a` and `b` are the same photo, say how they differ
    ("resized", "re-encoded", "cropped", "rotated 3°", ...); otherwise None. Straightened
    copies (turned by up to TILT_MAX degrees and cropped upright) always count; with
    `rotations`, copies turned by 90/180/270 degrees or mirrored too."""
    verdict = compare(a, b, thumb_a, thumb_b, rotations=rotations)
    return verdict.reason if verdict else None


def compare(
    a: ImageRecord, b: ImageRecord, thumb_a: np.ndarray, thumb_b: np.ndarray, *, rotations: bool = False
) -> Verdict | None:
    """`pixel_check` with the geometry of the match (see Verdict); None: different photos.

    Two frames of a video or a burst (a subject moved, or the camera moved a little and
    near things shifted against far ones) can agree as well as a copy does overall; they
    are told apart by where they disagree (photofind.core.match.residual)."""
    if a.content_hash == b.content_hash:
        return Verdict("same bytes")
    if a.facts.frames > 1 or b.facts.frames > 1:
        return None  # one frame of an animation or a multi-page file is not all of it
    da, db = load_detail(a), load_detail(b)
    if da is None or db is None:
        reason = _thumbs_only(a, b, thumb_a, thumb_b)
        return Verdict(reason) if reason else None
    fit = match_details(da.pyramid, db.pyramid, (da.aspect, db.aspect))
    if fit.score >= DETAIL_NEAR:
        inner, outer = (da, db) if fit.inner == 0 else (db, da)
        change = residual.local_change(outer.pyramid.fine, inner.pyramid.fine, fit.region)
        if change.moved:
            return None
        full = min(fit.region[2] - fit.region[0], fit.region[3] - fit.region[1]) >= 0.97
        return Verdict(
            _describe(a, b, fit, da, db, thumb_a, thumb_b),
            -1 if full and da.bordered == db.bordered else fit.inner,
            fit.region,
            0.0,
            fit.score,
            _added(change.added, fit.inner),
        )
    turned = _tilted(da, db)
    if turned is not None:
        return turned
    if rotations:
        reason = _rotated(da, db, thumb_a, thumb_b)
        return Verdict(reason) if reason else None
    return None


def _added(added: int, inner: int) -> int:
    """residual.local_change says 0 (the inner) or 1 (the outer); as 0 = a, 1 = b."""
    if added < 0:
        return -1
    return inner if added == 0 else 1 - inner


def match_details(a: align.Prepared, b: align.Prepared, aspects: tuple[float, float]) -> align.Fit:
    """Where one detail image sits inside the other, and how well the detail agrees there.
    `aspects`: the two pictures' width / height, which a crop region must keep."""
    whole = align.Fit(0, (0.0, 0.0, 1.0, 1.0), thumb_correlation(a.fine, b.fine))
    if whole.score >= DETAIL_NEAR:  # the common case: resized, re-encoded, lightly edited
        return whole
    fit = align.find_containment(a, b, gate=coarse_gate(a, b), enough=DETAIL_NEAR, aspects=aspects)
    return max(whole, fit, key=lambda f: f.score)


def coarse_gate(a: align.Prepared, b: align.Prepared) -> float:
    """COARSE_GATE, lowered for stochastic textures (gravel, grass, a starfield), whose
    coarse image changes under a one-pixel shift: their true region scores low on the
    coarse grid, and only the fine detail can tell. The fine search this lets through
    costs time on such pairs only."""
    stability = min(align.grid_stability(a.coarse), align.grid_stability(b.coarse))
    return COARSE_GATE * min(1.0, stability / TEXTURE)


def _rotated(da: Detail, db: Detail, thumb_a: np.ndarray, thumb_b: np.ndarray) -> str | None:
    """Try b's seven other symmetries, cheapest gate first: the pHash of each variant. The
    hashes come from the detail images (bars cut off), so a letterboxed copy still gates."""
    ha = phash_of_thumb(da.pyramid.coarse)
    variants = dihedral_phashes(db.pyramid.coarse)
    order = sorted(range(1, 8), key=lambda k: (int(ha) ^ int(variants[k])).bit_count())
    for k in order:
        if (int(ha) ^ int(variants[k])).bit_count() > ROTATION_GATE:
            break
        turned_aspect = 1.0 / db.aspect if k % 2 else db.aspect  # odd variants turn by 90 degrees
        fit = match_details(
            da.pyramid, align.prepare(np.ascontiguousarray(dihedral(db.gray, k))), (da.aspect, turned_aspect)
        )
        if fit.score >= DETAIL_NEAR:
            return "mirrored" if DIHEDRAL[k].startswith("mirror") else "rotated"
    return None


def straighten_zoom(degrees: float, aspect: float) -> float:
    """Side of the largest upright rectangle of the photo's own shape inside the photo
    turned by `degrees`, as a fraction of the photo's side: the crop editors apply when
    they straighten."""
    t = np.radians(abs(degrees))
    return float(1.0 / (np.cos(t) + max(aspect, 1.0 / aspect) * np.sin(t)))


def tilt(gray: np.ndarray, degrees: float, aspect: float, zoom: float = 1.0) -> np.ndarray:
    """Rotate a squashed square image by `degrees` (counter-clockwise, as PIL's rotate) about
    its centre, as the photo of aspect `aspect` (width / height) it stands for would turn,
    and keep the centred `zoom` of each side (1.0: all of it, corners left blank)."""
    n = gray.shape[0]
    t = -np.radians(degrees)  # image rows grow downwards
    c, s = float(np.cos(t)), float(np.sin(t))
    # Output -> input pixel map in squashed coordinates: squash^-1 . rotate^-1 . squash . zoom.
    a, b, d, e = c * zoom, s / aspect * zoom, -s * aspect * zoom, c * zoom
    half = n / 2.0
    coeffs = (a, b, half - a * half - b * half, d, e, half - d * half - e * half)
    im = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    out = im.transform((n, n), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)
    return np.asarray(out, dtype=np.float32)


_tilt_stacks = Lru(1024)  # a photo's coarse image at every TILTS angle, ~80 KB each


def _unit(z: np.ndarray) -> np.ndarray:
    v = np.asarray(z, np.float32).ravel()
    v = v - v.mean()
    return v / max(float(np.sqrt(v @ v)), 1e-6)


def _tilt_stack(detail: Detail) -> np.ndarray:
    """(len(TILTS), COARSE**2): the photo's 32x32 image turned and zoomed as an editor
    straightens it, at every angle, each row normalised for correlation. Computed once per
    photo, so the screen of a pair is one small matrix product (the value keeps the Detail
    alive, so its id is never reused while cached)."""
    hit = _tilt_stacks.get(id(detail))
    if hit is not None:
        return hit[1]
    # A texture (gravel, grass) is turned at the detail's 128 pixels, then averaged down as
    # the copy's own 32x32 image was: turning its 32x32 image blurs it by interpolation,
    # which costs it most of its correlation (0.75-0.82 instead of 0.96). A photo's coarse
    # image is smooth enough to turn as it is, at a sixteenth of the cost.
    coarse = detail.pyramid.coarse
    source = detail.gray if align.grid_stability(coarse) < TEXTURE else coarse
    n = source.shape[0]
    index, weight = _coarse_tilt_taps(detail.aspect) if n == align.COARSE else _tilt_taps(n, detail.aspect)
    turned = np.einsum("ktp,ktp->tp", np.asarray(source, np.float32).ravel()[index], weight)
    f = n // align.COARSE
    stack = turned.reshape(len(TILTS), align.COARSE, f, align.COARSE, f).mean(axis=(2, 4))
    stack = stack.reshape(len(TILTS), -1)
    stack -= stack.mean(axis=1, keepdims=True)
    stack /= np.maximum(np.sqrt(np.einsum("tp,tp->t", stack, stack)), 1e-6)[:, None]
    _tilt_stacks.put(id(detail), (detail, stack))
    return stack


@lru_cache(maxsize=16)  # ~650 KB each
def _coarse_tilt_taps(aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """_tilt_taps of a photo's coarse image, kept per aspect: a library has few, and they
    cost more than the gather. A texture's (at 128 pixels, 10 MB) are made each time."""
    return _tilt_taps(align.COARSE, aspect)


def _tilt_taps(n: int, aspect: float) -> tuple[np.ndarray, np.ndarray]:
    """`tilt` at every TILTS angle (with its straighten_zoom) at once, as a gather: for each
    angle and output pixel of an n x n image, the flat indices of its four source pixels and
    their bilinear weights, (4, len(TILTS), n*n) each. The same numbers as PIL's AFFINE
    transform: output pixel centres mapped through the coefficients, interpolation between
    source pixel centres with the edge pixels repeated, samples outside the image 0."""
    t = -np.radians(np.array(TILTS))[:, None, None]  # image rows grow downwards
    zoom = np.array([straighten_zoom(deg, aspect) for deg in TILTS])[:, None, None]
    c, s = np.cos(t), np.sin(t)
    a, b, d, e = c * zoom, s / aspect * zoom, -s * aspect * zoom, c * zoom
    half = n / 2.0
    centre = np.arange(n) + 0.5
    x, y = centre[None, None, :], centre[None, :, None]
    xin = a * x + b * y + (half - a * half - b * half)
    yin = d * x + e * y + (half - d * half - e * half)
    inside = (xin >= 0) & (xin < n) & (yin >= 0) & (yin < n)
    x0, y0 = np.floor(xin - 0.5), np.floor(yin - 0.5)
    dx, dy = xin - 0.5 - x0, yin - 0.5 - y0
    cols = [np.clip(x0 + k, 0, n - 1).astype(np.int32) for k in (0, 1)]
    rows = [np.clip(y0 + k, 0, n - 1).astype(np.int32) * n for k in (0, 1)]
    index = np.stack([rows[0] + cols[0], rows[0] + cols[1], rows[1] + cols[0], rows[1] + cols[1]])
    weight = np.stack([(1 - dx) * (1 - dy), dx * (1 - dy), (1 - dx) * dy, dx * dy]) * inside
    return index.reshape(4, len(TILTS), -1), weight.astype(np.float32).reshape(4, len(TILTS), -1)


def _tilted(da: Detail, db: Detail) -> Verdict | None:
    """A photo straightened by a few degrees and cropped to its upright rectangle, as
    editors do, is the centre of the original turned by that angle and zoomed. Every angle
    up to TILT_MAX is screened on the 32x32 level, in both directions (one matrix product
    against each photo's precomputed turned views, `_tilt_stack`); only the
    best, if promising, is checked on fine detail: first the editor's own crop, then (for a
    copy cropped further) a search of the region inside the turned picture."""
    best = (-1.0, 0.0, 0)
    for inner_idx, (outer, inner) in enumerate(((db, da), (da, db))):
        scores = _tilt_stack(outer) @ _unit(inner.pyramid.coarse)
        k = int(np.argmax(scores))
        if scores[k] > best[0]:
            best = (float(scores[k]), TILTS[k], inner_idx)
    score, degrees, inner_idx = best
    if score < TILT_COARSE_GATE:
        return None
    outer, inner = (db, da) if inner_idx == 0 else (da, db)

    def turned_fit(angle: float) -> tuple[float, float, align.Prepared]:
        turned = align.prepare(tilt(outer.gray, angle, outer.aspect, straighten_zoom(angle, outer.aspect)))
        return thumb_correlation(turned.fine, inner.pyramid.fine), angle, turned

    # Half a grid step either way, then a quarter about the best: fine lines (text, a
    # wide picture's far edges) lose their correlation within a quarter of a degree.
    best_fit = max(
        (turned_fit(a) for a in (degrees - TILT_STEP / 2, degrees, degrees + TILT_STEP / 2)),
        key=lambda f: f[0],
    )
    best_fit = max(
        best_fit, *(turned_fit(best_fit[1] + s * TILT_STEP / 4) for s in (-1, 1)), key=lambda f: f[0]
    )
    fine, angle, turned = best_fit
    region = (0.0, 0.0, 1.0, 1.0)
    if fine < DETAIL_NEAR:  # cropped further than the editor's crop: look inside the turned view
        wide = turned
        fit = align.find_containment(
            wide,
            inner.pyramid,
            gate=coarse_gate(wide, inner.pyramid),
            enough=DETAIL_NEAR,
            aspects=(outer.aspect, inner.aspect),
        )
        if fit.inner != 1 or fit.score < DETAIL_NEAR:
            return None
        fine, region, turned = fit.score, fit.region, wide
    change = residual.local_change(turned.fine, inner.pyramid.fine, region)
    if change.moved:
        return None
    return Verdict(
        f"rotated {abs(angle):.0f}°", inner_idx, region, angle, fine, _added(change.added, inner_idx)
    )


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
