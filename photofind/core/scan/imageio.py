"""Decode a photo the way the user sees it, or say exactly why it cannot be used."""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from photofind.core.scan.fileread import read_regular
from photofind.core.scan.rawfiles import decode_raw, is_raw_name
from photofind.core.types import ImageFacts, Skipped, SkipReason

try:  # HEIC/HEIF (and AVIF on older Pillow) come from pillow-heif when it is installed.
    import pillow_heif

    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener"):
        pillow_heif.register_avif_opener()
except Exception:  # noqa: BLE001 - optional codec; a missing one becomes "unsupported"
    pillow_heif = None  # type: ignore[assignment]

# We enforce our own, explicit limit instead of Pillow's warning, which would only print.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)
MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)

# A picture this big that no decoder can shrink while decoding (PNG, TIFF, BMP...) is held
# whole in memory: such pictures are decoded one at a time, and converted in bands.
HUGE_PIXELS = 40_000_000
_BAND_PIXELS = 4_000_000
_one_huge_decode = threading.Lock()

# Decoded images are kept at this size: enough for a 224-px CNN input, perceptual hashes
# and pixel checks, and small enough that a batch in flight costs little memory.
WORK_SIZE = 448
# Smaller than this on either side is a spacer, an icon or a tracking pixel, not a photo: a
# flat 1x1 image matches every other flat one, so such files are skipped as too-small.
MIN_SIDE = 16

_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_DATETIME = 306
_MAKE = 271
_MODEL = 272
_ORIENTATION = 274


@dataclass(frozen=True)
class Decoded:
    facts: ImageFacts
    image: Image.Image  # RGB, orientation applied; longer side <= work_size (or see min_side)


def decode_bytes(
    data: bytes,
    path: str = "",
    *,
    work_size: int = WORK_SIZE,
    max_pixels: int = MAX_PIXELS,
    min_side: int | None = None,
) -> Decoded | Skipped:
    """Decode `data` (the whole file) as displayed. Never raises for a bad file.

    By default the image is fitted into work_size x work_size. With `min_side`, it is
    instead reduced only as far as keeps both sides >= min_side, by the cheapest means
    (JPEG DCT scaling, an embedded HEIC preview, an integer box reduce): what a model
    that squashes the photo to min_side x min_side needs, at the least decoding cost.
    """
    if not data:
        return Skipped(path, SkipReason.EMPTY, "the file is empty (0 bytes)")
    if is_raw_name(path):
        return _decode_raw(data, path, work_size, max_pixels, min_side)
    try:
        with Image.open(io.BytesIO(data)) as im:
            return _decode_open(im, path, work_size, max_pixels, min_side)
    except Image.DecompressionBombError as exc:
        return Skipped(path, SkipReason.DECOMPRESSION_BOMB, str(exc))
    except UnidentifiedImageError:
        if _looks_like_heif(data) and pillow_heif is None:
            return Skipped(path, SkipReason.UNSUPPORTED, "HEIC/AVIF needs pillow-heif")
        kind = _signature(data)
        if kind:  # an image file whose header is damaged, not some other kind of file
            return Skipped(path, SkipReason.CORRUPT, f"corrupt {kind} header: Pillow cannot read it")
        return Skipped(path, SkipReason.NOT_AN_IMAGE, "not an image Pillow can identify")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc) or type(exc).__name__
        if "truncated" in message.lower() or isinstance(exc, EOFError):
            return Skipped(path, SkipReason.TRUNCATED, message)
        return Skipped(path, SkipReason.CORRUPT, f"corrupt image data: {message}")
    except MemoryError:
        return Skipped(path, SkipReason.DECOMPRESSION_BOMB, "not enough memory to decode")
    except Exception as exc:  # noqa: BLE001 - a codec bug must not stop a scan of 100k files
        return Skipped(path, SkipReason.CORRUPT, f"{type(exc).__name__}: {exc}")


def decode_file(path: str, **kwargs: int) -> Decoded | Skipped:
    try:
        data = read_regular(path)
    except PermissionError:
        return Skipped(path, SkipReason.PERMISSION, "no permission to read the file")
    except OSError as exc:
        return Skipped(path, SkipReason.UNREADABLE, exc.strerror or str(exc))
    return decode_bytes(data, path, **kwargs)


def _decode_open(
    im: Image.Image, path: str, work_size: int, max_pixels: int, min_side: int | None = None
) -> Decoded | Skipped:
    width, height = im.size
    if width * height > max_pixels:
        return Skipped(
            path,
            SkipReason.DECOMPRESSION_BOMB,
            f"{width}x{height} is over the {max_pixels // 1_000_000} MP safety limit",
        )
    if min(width, height) < MIN_SIDE:
        return Skipped(
            path, SkipReason.TOO_SMALL, f"{width}x{height} is under {MIN_SIDE} pixels on a side: not a photo"
        )
    fmt = (im.format or "unknown").upper()
    exif = im.getexif()
    orientation = exif.get(_ORIENTATION, 1)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    frames = getattr(im, "n_frames", 1)  # only multi-frame formats have it
    facts = ImageFacts(width, height, fmt, _taken(exif), _camera(exif), frames)
    if frames > 1:
        im.seek(0)
    # draft() keeps both sides >= the size asked for. JPEG: a DCT-domain downscale, about
    # 3-8x faster than a full decode of a 12-MP photo. HEIC (pillow-heif): an embedded
    # preview of the same pixels instead of the full image. Other formats ignore it.
    side = min_side or work_size
    im.draft("RGB", (side, side))
    if im.width * im.height >= HUGE_PIXELS:
        with _one_huge_decode:  # each holds its whole picture in memory while it decodes
            rgb = _load_reduced(im, side, min_side is not None)
    else:
        rgb = _load_reduced(im, side, min_side is not None)
    if not min_side:
        rgb.thumbnail((work_size, work_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if orientation != 1:
        rgb = _apply_orientation(rgb, orientation)
    return Decoded(facts=facts, image=rgb)


def _decode_raw(
    data: bytes, path: str, work_size: int, max_pixels: int, min_side: int | None
) -> Decoded | Skipped:
    """A camera RAW through rawpy (photofind.core.scan.rawfiles), fitted like any photo."""
    raw = decode_raw(data, path, side=min_side or work_size, max_pixels=max_pixels)
    if isinstance(raw, Skipped):
        return raw
    exif = raw.exif if raw.exif is not None else Image.Exif()
    facts = ImageFacts(raw.width, raw.height, raw.format, taken=_taken(exif), camera=_camera(exif))
    rgb = raw.image
    if not min_side:
        rgb.thumbnail((work_size, work_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return Decoded(facts=facts, image=_apply_orientation(rgb, raw.orientation))


def _load_reduced(im: Image.Image, side: int, exact_reduce: bool) -> Image.Image:
    """Decode `im` and return it in RGB, box-reduced by the largest integer factor that
    keeps both sides >= `side` (with `exact_reduce`; otherwise only huge pictures are
    reduced, to twice `side`, and the caller's thumbnail() finishes the job)."""
    im.load()
    factor = min(im.size) // side
    if not exact_reduce:
        factor = factor // 2 if im.width * im.height >= HUGE_PIXELS else 1
    if factor < 2:
        return _to_rgb(im)
    if im.mode == "RGB":
        return im.reduce(factor)
    return _reduce_in_bands(im, factor)


def _reduce_in_bands(im: Image.Image, factor: int) -> Image.Image:
    """`_to_rgb(im).reduce(factor)`, the same pixels, converted a band of rows at a time:
    converting a whole 150-MP PNG at once costs gigabytes (RGBA composited over white,
    16-bit through float64) on top of the decoded picture itself."""
    white = _white_level(im)
    width, height = im.size
    rows = factor * max(1, _BAND_PIXELS // (width * factor))
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        band = im.crop((0, top, width, min(top + rows, height)))
        out.paste(_to_rgb(band, white).reduce(factor), (0, top // factor))
    return out


def _white_level(im: Image.Image) -> float:
    """What 16- and 32-bit pixel values count as white: the whole picture's, so every band
    of it is scaled alike."""
    if im.mode.startswith("I;16"):
        return 65535.0
    if im.mode in ("I", "F"):
        high = im.getextrema()[1]  # (min, max) for a one-band picture
        return 65535.0 if isinstance(high, (int, float)) and high > 255 else 255.0
    return 255.0


def _apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }.get(orientation)
    return im.transpose(method) if method is not None else im


def _to_rgb(im: Image.Image, white: float | None = None) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im.copy() if im.readonly else im
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = white or _white_level(im)
        arr = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas are shown over white by most viewers; match that.
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")  # CMYK, L, 1, YCbCr...


def _taken(exif: Image.Exif) -> str | None:
    raw = None
    try:
        raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
    except Exception:  # noqa: BLE001 - malformed EXIF is common and harmless
        raw = None
    raw = raw or exif.get(_DATETIME)
    if not isinstance(raw, str) or len(raw) < 19:
        return None
    text = raw.strip("\x00 ")[:19]
    if text.startswith("0000"):
        return None
    date, _, clock = text.partition(" ")
    return f"{date.replace(':', '-')}T{clock}" if clock else None


def _camera(exif: Image.Exif) -> str | None:
    make = str(exif.get(_MAKE) or "").strip("\x00 ")
    model = str(exif.get(_MODEL) or "").strip("\x00 ")
    if model.lower().startswith(make.lower()):
        make = ""
    camera = f"{make} {model}".strip()
    return camera or None


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _signature(data: bytes) -> str | None:
    """The image format a file's magic bytes claim, if any."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _SIGNATURES if data.startswith(magic)), None)


def _looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif")
