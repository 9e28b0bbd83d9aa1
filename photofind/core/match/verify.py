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
import io
import json
import struct
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from PIL import Image

from photofind.core.match import align, residual
from photofind.core.scan.hashing import DIHEDRAL, content_box, dihedral, dihedral_phashes, phash_of_thumb
from photofind.core.types import ImageRecord

DETAIL_NEAR = 0.62  # min detail correlation, after alignment, for "same photo"
COARSE_GATE = 0.55  # below this 32x32 correlation at every alignment, skip the fine search
FALLBACK_PHASH, FALLBACK_CORR = 4, 0.985  # when a file cannot be re-read: thumbnails only
ROTATION_GATE = 14  # pHash distance of a rotated/mirrored variant worth a detail check
TILT_MAX = 10.0  # straightened copies: the largest tilt looked for, in degrees
TILT_STEP = 1.0  # angle grid of the coarse tilt screen
TILT_COARSE_GATE = 0.85  # 32x32 correlation a straightened copy reaches at its angle
TILTS = tuple(sign * k * TILT_STEP for k in range(1, int(TILT_MAX / TILT_STEP) + 1) for sign in (1, -1))
DETAIL = 128
# Decoded as the scan's read pass decodes (both sides >= the model input), so the noise and
# sharpness measured here equal those measured at read time, and a blur of a pixel or two
# still shows (at 128 it would be averaged away).
READ_SIDE = 224
# Bump when pixel_check or same_pixels may answer a pair differently: cached verdicts go.
VERIFIER_VERSION = 1
# Bump when detail_of_image or detail_to_bytes changes: each photo is then read again once.
DETAIL_FORMAT = 1
_STORED_STEP = 4  # the cached detail keeps 64 gray levels: ~1 level of noise against a std of ~50


@dataclass(frozen=True)
class Detail:
    """A photo as the pixel check and the keeper see it: squashed grayscale inside any
    letterbox bars, and a few numbers that tell an original from an edited copy.

    `noise` and `sharpness` are measured at the decoded scale, so they are compared only
    between photos decoded at the same size (`decoded_width`)."""

    gray: np.ndarray  # (DETAIL, DETAIL) float32
    bordered: bool  # bars were cut off
    prepared: align.Prepared | None  # None as the read pass stores it; loading prepares it
    aspect: float = 1.0  # width / height of the picture (without the bars) as displayed
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # picture inside the bars, 0..1
    colour: float = 0.0  # colourfulness (Hasler and Suesstrunk 2003); about 0 for grayscale
    clipped: float = 0.0  # share of pixels at the ends of the tone range
    noise: float = 0.0  # noise sigma in the flattest parts (Immerkaer 1996), decoded scale
    sharpness: float = 0.0  # edge strength of the most detailed parts, decoded scale
    decoded_width: int = 0  # width of the picture as decoded for these measures
    quality: int | None = None  # JPEG quality estimated from the quantisation tables

    @property
    def pyramid(self) -> align.Prepared:
        """The alignment pyramid. Every Detail the checks get (load_detail) has one; only
        the read pass's stored form leaves it out."""
        assert self.prepared is not None, "a Detail from load_detail is always prepared"
        return self.prepared


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
_MISSING = object()  # cached for a file that cannot be read now, so it is not decoded again


def detail_of_image(image: Image.Image, *, quality: int | None = None, prepare: bool = True) -> Detail:
    """The one producer of a photo's Detail, from the decoded photo (RGB, as displayed).
    `quality`: the file's JPEG quality (`jpeg_quality`), which the decoded pixels no longer
    carry. `prepare=False` leaves out the alignment pyramid (the read pass stores the
    detail; `detail_from_bytes` prepares it)."""
    box = content_box(image)
    width, height = image.size
    bordered = box != (0, 0, width, height)
    if bordered:
        image = image.crop(box)
    gray = np.asarray(image.convert("L").resize((DETAIL, DETAIL), Image.Resampling.BOX), np.float32)
    tones = tone_facts(image)
    return Detail(
        gray,
        bordered,
        align.prepare(gray) if prepare else None,
        image.width / max(image.height, 1),
        box=(box[0] / width, box[1] / height, box[2] / width, box[3] / height),
        decoded_width=image.width,
        quality=quality,
        **tones,
    )


def tone_facts(image: Image.Image) -> dict[str, float]:
    """Colourfulness, clipped share, noise and sharpness of a decoded picture (see Detail)."""
    rgb = np.asarray(image.convert("RGB"), np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    colour = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    clipped = float(np.mean((luma <= 2.0) | (luma >= 253.0)))
    return {"colour": colour, "clipped": clipped, **_texture(luma)}


def _texture(luma: np.ndarray) -> dict[str, float]:
    """Noise: Immerkaer's Laplacian-difference estimate in the flattest tenth of 8x8 blocks
    (texture inflates it elsewhere). Sharpness: the typical gradient of the busier half of
    the blocks (an overlay's hard edges cover too few blocks to move it) over the tone
    spread, so a contrast or brightness change does not pass for sharper edges."""
    h, w = luma.shape
    if min(h, w) < 24:
        return {"noise": 0.0, "sharpness": 0.0}
    z = luma
    lap = (
        z[:-2, :-2] - 2 * z[:-2, 1:-1] + z[:-2, 2:]
        - 2 * z[1:-1, :-2] + 4 * z[1:-1, 1:-1] - 2 * z[1:-1, 2:]
        + z[2:, :-2] - 2 * z[2:, 1:-1] + z[2:, 2:]
    )  # fmt: skip
    grad = np.hypot(z[1:-1, 2:] - z[1:-1, :-2], z[2:, 1:-1] - z[:-2, 1:-1])
    bh, bw = (h - 2) // 8, (w - 2) // 8
    noise_blocks = np.abs(lap[: bh * 8, : bw * 8]).reshape(bh, 8, bw, 8).mean(axis=(1, 3)).ravel()
    grad_blocks = grad[: bh * 8, : bw * 8].reshape(bh, 8, bw, 8).mean(axis=(1, 3)).ravel()
    tenth = max(1, len(noise_blocks) // 10)
    noise = float(np.sqrt(np.pi / 2) / 6 * np.partition(noise_blocks, tenth)[:tenth].mean())
    busy = grad_blocks >= np.percentile(grad_blocks, 50)
    # Fine detail against coarser edges, where the picture is busy: blur takes the first
    # before the second, and neither depends on contrast.
    sharpness = float(noise_blocks[busy].mean() / max(float(grad_blocks[busy].mean()), 1e-6))
    return {"noise": noise, "sharpness": sharpness}


_IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    np.float64,
)  # fmt: skip


def jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality (1-100) whose luminance table is closest to the file's, or None if the
    image is not a JPEG. Reading the header is enough: call it on an opened, undecoded file."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables:
        return None
    table = np.asarray(tables[0], np.float64)
    best, best_err = 100, np.inf
    for q in range(1, 101):
        scale = 5000 / q if q < 50 else 200 - 2 * q
        ref = np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)
        # Tables are stored in zigzag order by Pillow; the sum of logs ignores the order.
        err = abs(float(np.log(table).sum() - np.log(ref).sum()))
        if err < best_err:
            best, best_err = q, err
    return best


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
    fields["box"] = tuple(fields["box"])  # JSON has no tuples
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

        decoded = decode_file(record.path, min_side=READ_SIDE)
        if hasattr(decoded, "image"):
            hit = detail_of_image(decoded.image, quality=file_quality(record.path))
        else:
            hit = _MISSING
        _details.put(key, hit)
    return None if hit is _MISSING else hit


def file_quality(source: str | io.BytesIO) -> int | None:
    """`jpeg_quality` of a file (a path, or its bytes), reading its header only."""
    try:
        with Image.open(source) as im:
            return jpeg_quality(im)
    except Exception:  # noqa: BLE001 - the quality is a hint; the decode above reports errors
        return None


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
    fit = align.find_containment(a, b, gate=COARSE_GATE, enough=DETAIL_NEAR, aspects=aspects)
    return max(whole, fit, key=lambda f: f.score)


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


_tilt_stacks = _Lru(1024)  # a photo's coarse image at every TILTS angle, ~80 KB each


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
    coarse = detail.prepared.coarse if detail.prepared is not None else align.prepare(detail.gray).coarse
    stack = np.stack(
        [_unit(tilt(coarse, deg, detail.aspect, straighten_zoom(deg, detail.aspect))) for deg in TILTS]
    )
    _tilt_stacks.put(id(detail), (detail, stack))
    return stack


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
    fits = []
    for angle in (degrees - TILT_STEP / 2, degrees, degrees + TILT_STEP / 2):
        zoom = straighten_zoom(angle, outer.aspect)
        turned = align.prepare(tilt(outer.gray, angle, outer.aspect, zoom))
        fits.append((thumb_correlation(turned.fine, inner.pyramid.fine), angle, turned))
    fine, angle, turned = max(fits, key=lambda f: f[0])
    region = (0.0, 0.0, 1.0, 1.0)
    if fine < DETAIL_NEAR:  # cropped further than the editor's crop: look inside the turned view
        wide = align.prepare(tilt(outer.gray, angle, outer.aspect, straighten_zoom(angle, outer.aspect)))
        fit = align.find_containment(
            wide, inner.pyramid, gate=COARSE_GATE, enough=DETAIL_NEAR, aspects=(outer.aspect, inner.aspect)
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
