"""Camera RAW files (NEF, CR3, ARW, DNG...), read through rawpy (LibRaw).

The embedded preview comes first: it is the camera's own rendering, so it matches the JPEG the
camera or an export wrote, and reading it costs a fraction of a decode. Without a preview big
enough, the sensor data is decoded at half size (a 2x2 binning LibRaw does for free), white
balanced as shot and brought to sRGB without auto-brightening, so the result is the exposure
that was recorded. rawpy is imported only when a RAW is read (`photofind --help` stays fast).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

from PIL import Image

from photofind.core.scan.formats import RAW_EXTENSIONS
from photofind.core.types import Skipped, SkipReason

_SRGB_GAMMA = (2.4, 12.92)
# LibRaw's `flip` -> the EXIF orientation that turns the stored preview upright.
_FLIP_TO_ORIENTATION = {3: 3, 5: 8, 6: 6}


@dataclass(frozen=True)
class RawImage:
    width: int  # of the full image as displayed (orientation applied)
    height: int
    format: str  # the extension: "NEF", "DNG"...
    exif: Image.Exif | None  # the TIFF-style header, where Pillow can read one
    image: Image.Image  # RGB, longer side >= the side asked for where the file allows
    orientation: int  # EXIF orientation still to apply to `image`


def is_raw_name(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in RAW_EXTENSIONS


def decode_raw(data: bytes, path: str, *, side: int, max_pixels: int) -> RawImage | Skipped:
    """The RAW in `data` as displayed, or why it cannot be used. Never raises for a bad file."""
    try:
        import rawpy
    except ImportError:
        return Skipped(path, SkipReason.UNSUPPORTED, "RAW files need rawpy (pip install rawpy)")
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            return _decode(raw, rawpy, data, path, side, max_pixels)
    except rawpy.LibRawFileUnsupportedError:
        return Skipped(path, SkipReason.UNSUPPORTED, "a RAW format LibRaw cannot read")
    except (rawpy.LibRawIOError, rawpy.LibRawDataError) as exc:
        return Skipped(path, SkipReason.TRUNCATED, f"RAW data is incomplete: {exc}")
    except rawpy.LibRawError as exc:
        return Skipped(path, SkipReason.CORRUPT, f"corrupt RAW data: {exc}")
    except MemoryError:
        return Skipped(path, SkipReason.DECOMPRESSION_BOMB, "not enough memory to decode")


def _decode(raw: Any, rawpy: Any, data: bytes, path: str, side: int, max_pixels: int) -> RawImage | Skipped:
    sizes = raw.sizes
    width, height = sizes.width, sizes.height
    if width * height > max_pixels:
        return Skipped(
            path,
            SkipReason.DECOMPRESSION_BOMB,
            f"{width}x{height} is over the {max_pixels // 1_000_000} MP safety limit",
        )
    if sizes.flip in (5, 6):
        width, height = height, width
    fmt = os.path.splitext(path)[1].lstrip(".").upper() or "RAW"
    exif = _header_exif(data)
    preview = _preview(raw, rawpy, side)
    if preview is not None:
        return RawImage(width, height, fmt, exif, preview, _FLIP_TO_ORIENTATION.get(sizes.flip, 1))
    half = min(sizes.width, sizes.height) // 2 >= side
    pixels = raw.postprocess(
        half_size=half, use_camera_wb=True, no_auto_bright=True, gamma=_SRGB_GAMMA, output_bps=8
    )
    return RawImage(width, height, fmt, exif, Image.fromarray(pixels, "RGB"), 1)  # postprocess() flips


def _preview(raw: Any, rawpy: Any, side: int) -> Image.Image | None:
    """The embedded JPEG or bitmap preview, if its longer side reaches `side`."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    image: Image.Image
    if thumb.format == rawpy.ThumbFormat.JPEG:
        try:
            with Image.open(io.BytesIO(thumb.data)) as jpeg:
                jpeg.draft("RGB", (side, side))
                image = jpeg.convert("RGB")
        except (OSError, SyntaxError, ValueError):
            return None  # a broken preview: decode the sensor data instead
    else:
        image = Image.fromarray(thumb.data, "RGB")
    return image if max(image.size) >= side else None


def _header_exif(data: bytes) -> Image.Exif | None:
    """The RAW's TIFF-style header (DNG, NEF, CR2, ARW, ORF, RW2...) read as EXIF; other
    containers (CR3, RAF) give none."""
    if data[:4] not in (b"II*\x00", b"MM\x00*", b"IIRO", b"IIU\x00"):
        return None
    exif = Image.Exif()
    try:
        exif.load(b"II*\x00" + data[4:] if data[:2] == b"II" else data)
    except Exception:  # noqa: BLE001 - a header Pillow does not understand is common and harmless
        return None
    return exif
