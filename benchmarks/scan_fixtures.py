"""Generated inputs for benchmarks/scan_throughput.py: 12-MP camera-like JPEGs, a library of
small files for rescans, and a stand-in embedder for filling a cache without the CNN."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from photofind.core.model.embed import NumpyEmbedder
from photofind.core.types import ModelInfo


def scene(seed: int, size: tuple[int, int]) -> Image.Image:
    """A photo-like picture: a colour gradient, shapes and lines, softly blurred."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    t = (yy / h * rng.uniform(0.3, 1.0) + xx / w * rng.uniform(0.0, 0.7))[..., None]
    im = Image.fromarray(np.clip(c0 * (1 - t) + c1 * t, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(int(rng.integers(8, 16))):
        x0, y0 = rng.uniform(-0.1, 0.9) * w, rng.uniform(-0.1, 0.9) * h
        box = [x0, y0, x0 + rng.uniform(0.08, 0.5) * w, y0 + rng.uniform(0.08, 0.5) * h]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    for _ in range(int(rng.integers(3, 8))):
        pts = [(float(rng.uniform(0, w)), float(rng.uniform(0, h))) for _ in range(3)]
        draw.line(pts, fill=tuple(int(c) for c in rng.integers(0, 256, 3)), width=int(rng.integers(1, 6)))
    return im.filter(ImageFilter.GaussianBlur(1.0))


def make_photos(folder: Path, count: int, size: tuple[int, int], quality: int = 90) -> list[Path]:
    """`count` distinct JPEGs of `size` with camera-like grain, so that the files are as big
    (about 3 MB at 12 MP) and as slow to entropy-decode as real ones. Reused if present."""
    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    paths = [folder / f"IMG_{i:04d}.jpg" for i in range(count)]
    missing = [(i, p) for i, p in enumerate(paths) if not p.exists()]
    if not missing:
        return paths
    grain = np.random.default_rng(0).normal(0, 5, (h + 64, w + 64, 1)).astype(np.float32)

    def one(item: tuple[int, Path]) -> None:
        i, path = item
        base = np.asarray(scene(1000 + i, (w // 4, h // 4)).resize((w, h), Image.Resampling.BICUBIC))
        dy, dx = (i * 7) % 64, (i * 13) % 64
        arr = np.clip(base + grain[dy : dy + h, dx : dx + w], 0, 255).astype(np.uint8)
        exif = Image.Exif()
        exif[271], exif[272], exif[306] = "Bench", "Bench Cam 12", "2024:05:06 07:08:09"
        tmp = path.with_suffix(".tmp")
        Image.fromarray(arr).save(tmp, "JPEG", quality=quality, exif=exif.tobytes())
        os.replace(tmp, path)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(one, missing))
    return paths


def make_small_library(folder: Path, count: int) -> Path:
    """`count` small JPEGs in folders of 100, like a real library mostly distinct photos: one
    in 20 is a byte copy of the file before it and one in 20 a re-encoded copy. A rescan
    costs per file, not per pixel, so small files measure it faithfully. Reused if present."""
    marker = folder / f".complete-{count}"
    if marker.exists():
        return folder

    def one(i: int) -> None:
        path = folder / f"d{i // 100:04d}" / f"p{i:06d}.jpg"
        if i % 20 in (9, 19):
            return  # the copies are written with their original
        im = _small_photo(i)
        data = _jpeg(im, 85)
        path.write_bytes(data)
        if i + 1 < count:
            twin = folder / f"d{(i + 1) // 100:04d}" / f"p{i + 1:06d}.jpg"
            if i % 20 == 18:
                twin.write_bytes(data)
            elif i % 20 == 8:
                twin.write_bytes(_jpeg(im, 60))

    for d in range((count + 99) // 100):
        (folder / f"d{d:04d}").mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(one, range(count)))
    marker.write_text("ok")
    return folder


def _small_photo(seed: int) -> Image.Image:
    """96x72, with random low-frequency content: like distinct real photos, their pHashes
    differ in about half their bits, so only real copies become candidates."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    im = coarse.resize((96, 72), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(3):
        x0, y0 = rng.uniform(0, 80), rng.uniform(0, 56)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse([x0, y0, x0 + rng.uniform(6, 30), y0 + rng.uniform(6, 30)], fill=colour)
    return im


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class LowResEmbedder(NumpyEmbedder):
    """Fills a cache for the rescan measurement without the CNN: a warm rescan never runs the
    model, so its cost does not depend on which model filled the cache. Like the CNN, it
    puts resized and re-encoded copies close together and distinct photos far apart (the
    vector is the centred low-resolution picture), so calibration and grouping see a
    library that behaves like a real one."""

    model = ModelInfo(id="bench/lowres-v1", arch="lowres", weights="none", source="bench", dim=512)

    def prepare(self, image: Image.Image) -> np.ndarray:
        gray = np.asarray(image.convert("L").resize((16, 16), Image.Resampling.BOX), np.float32)
        colour = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BOX), np.float32)
        vec = np.zeros(512, np.float32)
        vec[:256], vec[256:448] = gray.ravel(), colour.ravel()
        return vec

    def embed(self, batch: np.ndarray) -> np.ndarray:
        x = batch - batch.mean(axis=1, keepdims=True)
        return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def clear_cache_file(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
