"""Known derivatives of a photo (the edits people make to copies), generated in memory.

One catalogue serves two users: the calibration, which learns per-library thresholds from
derivatives of the user's own photos, and the quality benchmark, which writes them to disk
as an evaluation set. Each transform takes the original (RGB, as displayed) plus a seeded
generator and returns the encoded file bytes, because the encoding is part of the change.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

Encoded = tuple[bytes, str]  # (file bytes, extension without the dot)
Transform = Callable[[Image.Image, np.random.Generator], Encoded]

ORIGINAL_QUALITY = 92


def encode(im: Image.Image, fmt: str = "JPEG", **kwargs) -> Encoded:
    buf = io.BytesIO()
    if fmt == "JPEG":
        kwargs.setdefault("quality", ORIGINAL_QUALITY)
        im = im.convert("RGB") if im.mode not in ("RGB", "L") else im
    im.save(buf, fmt, **kwargs)
    return buf.getvalue(), {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[fmt]


def decode(data: bytes) -> Image.Image:
    """Bytes -> RGB image as displayed (EXIF orientation applied)."""
    with Image.open(io.BytesIO(data)) as im:
        return ImageOps.exif_transpose(im).convert("RGB")


def resize(im: Image.Image, scale: float) -> Image.Image:
    w, h = im.size
    return im.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.LANCZOS)


def crop(im: Image.Image, fraction: float, anchor: tuple[float, float] = (0.5, 0.5)) -> Image.Image:
    """Keep `fraction` of each side; `anchor` (0..1, 0..1) places the window (0.5 = centred)."""
    w, h = im.size
    cw, ch = round(w * fraction), round(h * fraction)
    x0, y0 = round((w - cw) * anchor[0]), round((h - ch) * anchor[1])
    return im.crop((x0, y0, x0 + cw, y0 + ch))


def straighten(im: Image.Image, degrees: float) -> Image.Image:
    """Rotate by a few degrees and keep the largest upright rectangle, as photo editors do."""
    w, h = im.size
    rotated = im.rotate(degrees, Image.Resampling.BICUBIC, expand=False)
    a = math.radians(abs(degrees))
    # Largest axis-aligned rectangle of the same aspect inside the rotated frame.
    scale = 1.0 / (math.cos(a) + max(w / h, h / w) * math.sin(a))
    return crop(rotated, scale)


def with_metadata_change(jpeg: bytes) -> bytes:
    """Same JPEG entropy data with a comment segment added: what a tagging tool does."""
    comment = b"photofind evaluation: metadata edited"
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return jpeg[:2] + segment + jpeg[2:]


def exif_rotated(im: Image.Image, fmt: str = "JPEG") -> Encoded:
    """Pixels stored rotated with EXIF orientation 6, as phones save: displayed as `im`."""
    exif = Image.Exif()
    exif[274] = 6
    return encode(im.transpose(Image.Transpose.ROTATE_90), fmt, exif=exif.tobytes())


def watermark(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    out = im.copy()
    draw = ImageDraw.Draw(out)
    size = max(10, out.height // 14)
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        font = ImageFont.load_default()
    text = "© photofind 2024"
    x = out.width - int(size * len(text) * 0.62) - size
    y = out.height - 2 * size
    draw.text((x + 1, y + 1), text, fill=(0, 0, 0), font=font)
    draw.text((x, y), text, fill=(255, 255, 255), font=font)
    return out


def letterbox(im: Image.Image, aspect: float = 16 / 9) -> Image.Image:
    """Pad with black bars to another aspect ratio (video stills, social media exports)."""
    w, h = im.size
    if w / h < aspect:
        canvas = Image.new("RGB", (round(h * aspect), h))
    else:
        canvas = Image.new("RGB", (w, round(w / aspect)))
    canvas.paste(im, ((canvas.width - w) // 2, (canvas.height - h) // 2))
    return canvas


def add_noise(im: Image.Image, rng: np.random.Generator, sigma: float = 8.0) -> Image.Image:
    arr: np.ndarray = np.asarray(im, dtype=np.float32)
    arr = arr + rng.normal(0, sigma, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def gamma(im: Image.Image, g: float) -> Image.Image:
    lut = [round(255 * (i / 255) ** g) for i in range(256)]
    return im.point(lut * 3)


def _jpg(im: Image.Image, q: int = ORIGINAL_QUALITY) -> Encoded:
    return encode(im, "JPEG", quality=q)


@dataclass(frozen=True)
class Spec:
    name: str
    make: Transform
    kind: str  # "same" (identical pixels), "edit", "tilted" (a few degrees), "rotated" or "mirrored"
    why: str  # what a group should say for this change


TRANSFORMS: tuple[Spec, ...] = (
    Spec("copy", lambda im, r: _jpg(im), "same", "same bytes"),
    Spec("metadata", lambda im, r: (with_metadata_change(_jpg(im)[0]), "jpg"), "same", "metadata"),
    # Lossless containers of the original's decoded pixels: equal pixels, different bytes.
    Spec("exif_orientation", lambda im, r: exif_rotated(decode(_jpg(im)[0]), "PNG"), "same", "metadata"),
    Spec("png_of_jpeg", lambda im, r: encode(decode(_jpg(im)[0]), "PNG"), "same", "converted"),
    Spec("resize50", lambda im, r: _jpg(resize(im, 0.5)), "edit", "resized"),
    Spec("resize25", lambda im, r: _jpg(resize(im, 0.25)), "edit", "resized"),
    Spec("thumbnail", lambda im, r: _jpg(resize(im, 160 / max(im.size)), 80), "edit", "resized"),
    Spec("jpeg30", lambda im, r: _jpg(im, 30), "edit", "re-encoded"),
    Spec("jpeg60", lambda im, r: _jpg(im, 60), "edit", "re-encoded"),
    Spec("png", lambda im, r: encode(im, "PNG"), "edit", "re-encoded"),
    Spec("webp", lambda im, r: encode(im, "WEBP", quality=80), "edit", "re-encoded"),
    Spec("exif_orientation_jpeg", lambda im, r: exif_rotated(im), "edit", "re-encoded"),
    Spec("crop90_centre", lambda im, r: _jpg(crop(im, 0.9)), "edit", "cropped"),
    Spec("crop75_centre", lambda im, r: _jpg(crop(im, 0.75)), "edit", "cropped"),
    Spec("crop90_offcentre", lambda im, r: _jpg(crop(im, 0.9, (0.1, 0.9))), "edit", "cropped"),
    Spec("crop75_offcentre", lambda im, r: _jpg(crop(im, 0.75, (0.85, 0.2))), "edit", "cropped"),
    Spec("brightness", lambda im, r: _jpg(ImageEnhance.Brightness(im).enhance(1.25)), "edit", "edited"),
    Spec("contrast", lambda im, r: _jpg(ImageEnhance.Contrast(im).enhance(1.3)), "edit", "edited"),
    Spec("gamma", lambda im, r: _jpg(gamma(im, 0.7)), "edit", "edited"),
    Spec("grayscale", lambda im, r: _jpg(im.convert("L")), "edit", "edited"),
    # A small rotation (3-8 degrees, then cropped upright, as editors straighten): always matched.
    Spec(
        "straighten",
        lambda im, r: _jpg(straighten(im, float(r.choice([-1, 1]) * r.uniform(3, 8)))),
        "tilted",
        "rotated",
    ),
    Spec("watermark", lambda im, r: _jpg(watermark(im, r)), "edit", "edited"),
    Spec("letterbox", lambda im, r: _jpg(letterbox(im)), "edit", "edited"),
    Spec("blur", lambda im, r: _jpg(im.filter(ImageFilter.GaussianBlur(2.0))), "edit", "edited"),
    Spec("noise", lambda im, r: _jpg(add_noise(im, r)), "edit", "edited"),
    Spec("resize50_jpeg60", lambda im, r: _jpg(resize(im, 0.5), 60), "edit", "resized"),
    Spec(
        "crop90_brightness",
        lambda im, r: _jpg(ImageEnhance.Brightness(crop(im, 0.9)).enhance(1.2)),
        "edit",
        "cropped",
    ),
    Spec("grayscale_resize50", lambda im, r: _jpg(resize(im.convert("L"), 0.5)), "edit", "resized"),
    Spec("watermark_webp", lambda im, r: encode(watermark(im, r), "WEBP", quality=70), "edit", "edited"),
    Spec(
        "crop90_jpeg30_resize50",
        lambda im, r: _jpg(resize(crop(im, 0.9, (0.8, 0.3)), 0.5), 30),
        "edit",
        "cropped",
    ),
    Spec("rotate90", lambda im, r: _jpg(im.transpose(Image.Transpose.ROTATE_90)), "rotated", "rotated"),
    Spec("rotate180", lambda im, r: _jpg(im.transpose(Image.Transpose.ROTATE_180)), "rotated", "rotated"),
    Spec(
        "rotate270_resize50",
        lambda im, r: _jpg(resize(im.transpose(Image.Transpose.ROTATE_270), 0.5)),
        "rotated",
        "rotated",
    ),
    Spec("mirror", lambda im, r: _jpg(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)), "mirrored", "mirrored"),
    Spec(
        "mirror_jpeg60",
        lambda im, r: _jpg(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 60),
        "mirrored",
        "mirrored",
    ),
)

BY_NAME = {s.name: s for s in TRANSFORMS}

# The in-memory set calibration uses: common, cheap, and none needs a rotation-aware model.
CALIBRATION = (
    "resize50",
    "jpeg30",
    "crop90_centre",
    "crop90_offcentre",
    "brightness",
    "resize50_jpeg60",
    "watermark",
    "crop75_centre",
)


def make(name: str, im: Image.Image, seed: int = 0) -> Encoded:
    """Encode the derivative `name` of `im` (deterministic for a seed)."""
    return BY_NAME[name].make(im.convert("RGB"), np.random.default_rng(seed))


def burst_frames(
    big: Image.Image, count: int, rng: np.random.Generator, out_long_side: int = 1024
) -> list[Image.Image]:
    """Different photos of one scene, like a handheld burst: overlapping windows of a large
    photo, each shifted by 6-10% of the frame and slightly zoomed, with its own exposure and
    sensor noise. They share most content, yet none is a crop of another."""
    w, h = big.size
    fw, fh = w * 0.72, h * 0.72
    x, y = (w - fw) * 0.15, (h - fh) * 0.5
    frames = []
    for _ in range(count):
        zoom = rng.uniform(0.97, 1.03)
        cw, ch = fw * zoom, fh * zoom
        frame = big.crop((round(x), round(y), round(x + cw), round(y + ch)))
        frame.thumbnail((out_long_side, out_long_side), Image.Resampling.LANCZOS)
        frame = ImageEnhance.Brightness(frame).enhance(rng.uniform(0.95, 1.05))
        frames.append(add_noise(frame, rng, 3.0))
        x += fw * rng.uniform(0.06, 0.10)
        y += fh * rng.uniform(-0.03, 0.03)
        y = min(max(y, 0.0), h - fh * 1.03)
    return frames


def _soft_ellipse(size: tuple[int, int]) -> Image.Image:
    """An 8-bit mask: a filled ellipse with a feathered edge, for pasting an object."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    r = ((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2
    return Image.fromarray((np.clip((1.0 - r) / 0.15, 0.0, 1.0) * 255).astype(np.uint8), "L")


def _subject(source: Image.Image, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A piece of a real photo, cut to `size`: the subject that moves between frames."""
    w, h = source.size
    cw, ch = min(w, size[0] * 2), min(h, size[1] * 2)
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return source.crop((x0, y0, x0 + cw, y0 + ch)).resize(size, Image.Resampling.LANCZOS)


def moving_subject_frames(
    background: Image.Image, subject_source: Image.Image, count: int, rng: np.random.Generator
) -> list[Image.Image]:
    """Consecutive frames of a still camera: a subject (a piece of another real photo, cut
    out with a soft edge) moves along a path across an unchanged background; each frame has
    its own sensor noise. The frames are different moments, not copies of each other."""
    w, h = background.size
    side = rng.uniform(0.16, 0.24)
    size = (round(w * side), round(w * side * rng.uniform(0.7, 1.3)))
    subject, mask = _subject(subject_source, size, rng), _soft_ellipse(size)
    x, y = rng.uniform(0.1, 0.4) * w, rng.uniform(0.2, 0.6) * h
    step = rng.uniform(0.05, 0.09) * w
    heading = rng.uniform(-0.5, 0.5)
    frames = []
    for _ in range(count):
        frame = background.copy()
        frame.paste(subject, (round(x), round(y)), mask)
        frames.append(add_noise(frame, rng, 2.0))
        x = min(x + step * math.cos(heading), w - size[0])
        y = min(max(y + step * math.sin(heading), 0.0), h - size[1])
    return frames


def pan_frames(
    scene: Image.Image, subject_source: Image.Image, count: int, rng: np.random.Generator
) -> list[Image.Image]:
    """Consecutive frames under a small camera pan with parallax: the view of a real photo
    moves by 1-2 % of the frame per step while a near subject in front of it moves two to
    three times as far (it is closer to the camera)."""
    w, h = scene.size
    fw, fh = round(w * 0.9), round(h * 0.9)
    side = rng.uniform(0.2, 0.3)
    size = (round(fw * side), round(fw * side * rng.uniform(0.8, 1.4)))
    subject, mask = _subject(subject_source, size, rng), _soft_ellipse(size)
    pan = rng.uniform(0.01, 0.02) * fw * rng.choice([-1, 1])
    parallax = rng.uniform(2.0, 3.0)
    x0 = (w - fw) / 2 - pan * (count - 1) / 2
    sx, sy = rng.uniform(0.25, 0.55) * fw, rng.uniform(0.35, 0.6) * fh
    frames = []
    for k in range(count):
        left = round(x0 + pan * k)
        frame = scene.crop((left, (h - fh) // 2, left + fw, (h - fh) // 2 + fh))
        frame.paste(subject, (round(sx - pan * parallax * k), round(sy)), mask)
        frames.append(add_noise(frame, rng, 2.0))
    return frames
