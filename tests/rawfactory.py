"""Tiny DNG files written by tifffile: a linear-RGB DNG (PhotometricInterpretation LinearRaw)
whose colour matrix makes the camera space linear sRGB, so LibRaw renders it back to the
picture it was made from. Generated in code; no binary test files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

# XYZ (D65) -> linear sRGB: the DNG ColorMatrix1 that makes "camera RGB" plain linear sRGB.
_XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


def _srational(matrix) -> tuple[int, ...]:
    return tuple(v for row in matrix for x in row for v in (round(x * 10000), 10000))


def save_dng(image: Image.Image, path: Path, *, make: str = "Photofind", model: str = "Test DNG") -> Path:
    """`image` (RGB) as a DNG that rawpy/LibRaw decodes to the same pixels (within rounding)."""
    rgb = np.asarray(image.convert("RGB"), np.float64) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    data = np.round(linear * 65535).astype(np.uint16)
    tags = [
        (271, "s", 0, make, True),
        (272, "s", 0, model, True),
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, f"{make} {model}", True),  # UniqueCameraModel
        (50721, "2i", 9, _srational(_XYZ_TO_SRGB), True),  # ColorMatrix1
        (50778, "H", 1, 21, True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True),  # AsShotNeutral: no white balance to undo
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, data, photometric=34892, planarconfig="contig", extratags=tags, metadata=None)
    return path
