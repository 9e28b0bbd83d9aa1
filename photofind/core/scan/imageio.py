"""Decode a photo the way the user sees it, or say exactly why it cannot be used."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from photofind.core.types import ImageFacts, Skipped, SkipReason

try:  # HEIC/HEIF (and AVIF on older Pillow) come from pillow-heif when it is installed.
    import pillow_heif

    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener"):
        pillow_heif.register_avif_opener()
except Exception:  # noqa: BLE001 - optional codec; a missing one becomes "unsupported"
    pillow_heif = None

# We enforce our own, explicit limit instead of Pillow's warning, which would only print.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)
MAX_PIXELS = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)

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
    try:
        with Image.open(io.BytesIO(data)) as im:
            return _decode_open(im, path, work_size, max_pixels, min_side)
    except Image.DecompressionBombError as exc:
        return Skipped(path, SkipReason.DECOMPRESSION_BOMB, str(exc))
    except UnidentifiedImageError:
        if _looks_like_heif(data) and pillow_heif is None:
            return Skipped(path, SkipReason.UNSUPPORTED, "HEIC/AVIF needs pillow-heif")
        return Skipped(path, SkipReason.NOT_AN_IMAGE, "not an image Pillow can identify")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc) or type(exc).__name__
        if "truncated" in message or isinstance(exc, EOFError):
            return Skipped(path, SkipReason.TRUNCATED, message)
        return Skipped(path, SkipReason.CORRUPT, f"corrupt image data: {message}")
    except MemoryError:
        return Skipped(path, SkipReason.DECOMPRESSION_BOMB, "not enough memory to decode")
    except Exception as exc:  # noqa: BLE001 - a codec bug must not stop a scan of 100k files
        return Skipped(path, SkipReason.CORRUPT, f"{type(exc).__name__}: {exc}")


def decode_file(path: str, **kwargs: int) -> Decoded | Skipped:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
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
    facts = ImageFacts(width=width, height=height, format=fmt, taken=_taken(exif), camera=_camera(exif))
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    # draft() keeps both sides >= the size asked for. JPEG: a DCT-domain downscale, about
    # 3-8x faster than a full decode of a 12-MP photo. HEIC (pillow-heif): an embedded
    # preview of the same pixels instead of the full image. Other formats ignore it.
    side = min_side or work_size
    im.draft("RGB", (side, side))
    im.load()
    rgb = _to_rgb(im)
    if min_side:
        factor = min(rgb.size) // min_side
        if factor >= 2:  # a cheap box reduce that still leaves both sides >= min_side
            rgb = rgb.reduce(factor)
    else:
        rgb.thumbnail((work_size, work_size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if orientation != 1:
        rgb = _apply_orientation(rgb, orientation)
    return Decoded(facts=facts, image=rgb)


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


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im.copy() if im.readonly else im
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
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


def _looks_like_heif(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif")
