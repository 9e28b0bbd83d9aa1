"""Procedural test photos and their known derivatives, generated in code (no binaries in git)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def make_scene(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A photo-like picture: smooth gradient sky, shapes, texture. Different seeds differ
    in layout and colour, so they are clearly different photos."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (yy / h * rng.uniform(0.3, 1.0) + xx / w * rng.uniform(0.0, 0.7))[..., None]
    base = c0 * (1 - t) + c1 * t
    base += rng.normal(0, 6, (h, w, 1))  # sensor-like grain
    im = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = rng.uniform(-0.1, 0.9) * w, rng.uniform(-0.1, 0.9) * h
        x1, y1 = x0 + rng.uniform(0.08, 0.5) * w, y0 + rng.uniform(0.08, 0.5) * h
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
    for _ in range(int(rng.integers(3, 8))):
        pts = [(float(rng.uniform(0, w)), float(rng.uniform(0, h))) for _ in range(3)]
        draw.line(pts, fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=int(rng.integers(2, 9)))
    return im.filter(ImageFilter.GaussianBlur(0.6))


def save(im: Image.Image, path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = kwargs.pop("format", None)
    if fmt is None and path.suffix.lower() in (".jpg", ".jpeg"):
        kwargs.setdefault("quality", 92)
    im.save(path, format=fmt, **kwargs)
    return path


def exif_rotated_copy(im: Image.Image, path: Path, quality: int = 92) -> Path:
    """Store the pixels rotated 90° with EXIF orientation 6, as a phone does: a viewer that
    honours EXIF shows exactly `im`."""
    stored = im.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[274] = 6
    return save(stored, path, exif=exif.tobytes(), quality=quality)


def with_exif(im: Image.Image, path: Path, taken: str, make: str, model: str) -> Path:
    exif = Image.Exif()
    exif[271] = make
    exif[272] = model
    exif[306] = taken
    exif.get_ifd(0x8769)[36867] = taken
    return save(im, path, exif=exif.tobytes())


def copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return dst


def crop_center(im: Image.Image, fraction: float) -> Image.Image:
    w, h = im.size
    cw, ch = int(w * fraction), int(h * fraction)
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    return im.crop((x0, y0, x0 + cw, y0 + ch))


def jpeg_bytes(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


# -- bad files --------------------------------------------------------------------------------


def write_bad_files(folder: Path) -> dict[str, Path]:
    """One file of each kind a scan must skip, named by the reason expected."""
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "_tmp_good.jpg"
    save(make_scene(999), good)
    data = good.read_bytes()
    good.unlink()
    files = {
        "zero-byte": folder / "empty.jpg",
        "not-an-image": folder / "notes.jpg",
        "truncated": folder / "truncated.jpg",
        "decompression-bomb": folder / "bomb.png",
        "corrupt": folder / "garbage-body.png",
    }
    files["zero-byte"].write_bytes(b"")
    files["not-an-image"].write_text("this is a text file with a photo's name\n")
    files["truncated"].write_bytes(data[: len(data) // 3])
    # 1-bit PNG with a huge canvas: tiny on disk, enormous when decoded.
    Image.new("1", (14000, 14000)).save(files["decompression-bomb"], optimize=True)
    png = io.BytesIO()
    make_scene(998, (64, 64)).save(png, "PNG")
    raw = bytearray(png.getvalue())
    raw[60:200] = bytes(140)  # destroy the IDAT stream but keep a valid signature and IHDR
    files["corrupt"].write_bytes(bytes(raw))
    return files
