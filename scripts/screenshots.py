"""Render the README screenshots: the main grid, the compare view and "browse similar".

Generates a demo library of procedural landscapes (with copies, resizes, crops, phone-rotated
copies and bursts, carrying EXIF dates and cameras), scans it in the real main window and
saves PNGs to docs/. Run through scripts/screenshots, which starts Xvfb; with no X server it
falls back to Qt's offscreen platform, which renders the same pixels.
"""

from __future__ import annotations

import colorsys
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CAMERAS = [("Apple", "iPhone 14 Pro"), ("Canon", "EOS R6"), ("FUJIFILM", "X-T4"), ("SONY", "ILCE-7M3")]


def distinct_seeds(count: int) -> list[int]:
    """Seeds whose pictures are clearly different to the demo's stand-in embedder, so every
    group on screen is a real set of copies, not two look-alike drawings."""
    from tests.conftest import FakeEmbedder

    embedder, chosen, vectors = FakeEmbedder(), [], []
    for seed in range(1, 2000):
        vector = embedder.embed(embedder.prepare(landscape(seed, (240, 160)))[None])[0]
        if all(float(vector @ v) < 0.8 for v in vectors):
            chosen.append(seed)
            vectors.append(vector)
            if len(chosen) == count:
                break
    return chosen


def hsv(h, s, v):
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32) * 255


def landscape(seed: int, size=(1200, 800), sun_shift: float = 0.0) -> Image.Image:
    """Sea, forest, city, dunes or mountains under a day or dusk sky, with a sun."""
    rng = np.random.default_rng(seed)
    w, h = size
    rng.random()  # keeps each seed's picture stable
    kind = ["mountains", "sea", "forest", "city", "dunes"][seed % 5]
    dusk = rng.random() < 0.4
    top = hsv(
        rng.uniform(0.55, 0.68),
        rng.uniform(0.5, 0.8),
        rng.uniform(0.3, 0.5) if dusk else rng.uniform(0.6, 0.9),
    )
    low = (
        hsv(rng.uniform(-0.03, 0.1), rng.uniform(0.35, 0.6), 1.0)
        if dusk
        else hsv(rng.uniform(0.52, 0.6), rng.uniform(0.08, 0.25), 1.0)
    )
    horizon = rng.uniform(0.4, 0.68)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = np.clip(yy / (horizon * h), 0, 1)[..., None] ** 0.9
    img = top * (1 - t) + low * t
    sx, sy = (rng.uniform(0.12, 0.88) + sun_shift) * w, rng.uniform(0.12, 0.6) * horizon * h
    r = rng.uniform(0.03, 0.07) * w
    d = np.sqrt((xx - sx) ** 2 + (yy - sy) ** 2) / r
    glow = np.exp(-(d**2) * 0.12)[..., None]
    sun_col = np.array([255, 236, 200], np.float32) if dusk else np.array([255, 252, 235], np.float32)
    img = img * (1 - 0.6 * glow) + sun_col * 0.6 * glow
    img[d < 1.0] = sun_col
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(im)
    ground = hsv(rng.uniform(0.07, 0.36), rng.uniform(0.35, 0.65), rng.uniform(0.22, 0.5))
    far = ground * 0.45 + low * 0.55
    hy = horizon * h
    if kind == "mountains":
        for layer, mix in enumerate((0.0, 0.5, 1.0)):
            colour = tuple(int(c) for c in far * (1 - mix) + ground * mix)
            xs = np.linspace(0, w, 40)
            ridge = hy - h * 0.18 + layer * h * 0.1 + np.cumsum(rng.normal(0, h * 0.03, 40))
            draw.polygon([(float(x), float(y)) for x, y in zip(xs, ridge)] + [(w, h), (0, h)], fill=colour)
    elif kind == "sea":
        water = hsv(rng.uniform(0.53, 0.62), 0.55, rng.uniform(0.35, 0.6))
        draw.rectangle([0, hy, w, h], fill=tuple(int(c) for c in water))
        for k in range(40):
            y = hy + (h - hy) * (k / 40) ** 1.5
            draw.line(
                [(rng.uniform(0, w * 0.5), y), (rng.uniform(w * 0.5, w), y)],
                fill=tuple(int(min(255, c * 1.25)) for c in water),
                width=2,
            )
        draw.polygon(
            [(0, hy), (w * rng.uniform(0.15, 0.4), hy - h * 0.08), (w * 0.5, hy)],
            fill=tuple(int(c) for c in far),
        )
    elif kind == "forest":
        draw.rectangle([0, hy, w, h], fill=tuple(int(c) for c in ground))
        for _ in range(70):
            x = rng.uniform(0, w)
            base = hy + rng.uniform(-0.02, 0.35) * h
            tall = rng.uniform(0.08, 0.28) * h
            col = tuple(int(c) for c in ground * rng.uniform(0.5, 0.9))
            draw.polygon([(x, base - tall), (x - tall * 0.22, base), (x + tall * 0.22, base)], fill=col)
    elif kind == "city":
        draw.rectangle([0, hy, w, h], fill=tuple(int(c) for c in ground * 0.6))
        x = 0
        while x < w:
            bw = rng.uniform(0.03, 0.08) * w
            bh = rng.uniform(0.08, 0.35) * h
            col = tuple(int(c) for c in far * rng.uniform(0.5, 0.9))
            draw.rectangle([x, hy - bh, x + bw, hy + 2], fill=col)
            for wy in np.arange(hy - bh + 8, hy - 6, 14):
                for wx in np.arange(x + 5, x + bw - 6, 12):
                    if rng.random() < 0.35:
                        draw.rectangle([wx, wy, wx + 5, wy + 6], fill=(255, 220, 140))
            x += bw + rng.uniform(0, 0.01) * w
    else:
        sand = hsv(0.08 + rng.uniform(-0.03, 0.03), 0.55, 0.8)
        for layer in range(4):
            xs = np.linspace(0, w, 30)
            ridge = hy + layer * h * 0.08 + h * 0.04 * np.sin(xs / w * rng.uniform(3, 8) + rng.uniform(0, 6))
            colour = tuple(int(c) for c in sand * (0.7 + 0.1 * layer))
            draw.polygon([(float(x), float(y)) for x, y in zip(xs, ridge)] + [(w, h), (0, h)], fill=colour)
    grain = rng.normal(0, 4, (h, w, 1)).astype(np.float32)
    im = Image.fromarray(np.clip(np.asarray(im, np.float32) + grain, 0, 255).astype(np.uint8))
    return im.filter(ImageFilter.GaussianBlur(0.7))


def save(im: Image.Image, path: Path, seed: int, quality: int = 90, orientation: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    make, model = CAMERAS[seed % len(CAMERAS)]
    exif = Image.Exif()
    taken = f"2023:0{1 + seed % 9}:{10 + seed % 18:02d} {8 + seed % 12:02d}:{seed * 7 % 60:02d}:00"
    exif[271], exif[272], exif[306] = make, model, taken
    exif.get_ifd(0x8769)[36867] = taken
    if orientation:
        exif[274] = orientation
    fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
    im.save(path, fmt, quality=quality, exif=exif.tobytes()) if fmt == "JPEG" else im.save(path, fmt)
    return path


def make_demo(root: Path) -> Path:
    """About forty photos: a trip, a phone backup with copies and edits, and bursts."""
    import shutil

    trip, phone, edits, backup = root / "Trip 2023", root / "Phone", root / "Edits", root / "Backup"
    for n, seed in enumerate(distinct_seeds(18)):
        im = landscape(seed)
        name = f"IMG_{2040 + n}.jpg"
        original = save(im, trip / name, seed)
        if n % 4 == 1:
            backup.mkdir(parents=True, exist_ok=True)
            shutil.copy2(original, backup / name)
        if n % 4 == 2:
            save(im.resize((600, 400), Image.Resampling.LANCZOS), phone / f"IMG_{2040 + n} (1).jpg", seed, 80)
            save(
                im.transpose(Image.Transpose.ROTATE_90),
                phone / f"IMG_{2040 + n}_phone.jpg",
                seed,
                85,
                orientation=6,
            )
        if n % 4 == 3:
            w, h = im.size
            save(
                im.crop((int(w * 0.06), int(h * 0.06), int(w * 0.94), int(h * 0.94))),
                edits / f"IMG_{2040 + n}-edited.jpg",
                seed,
                92,
            )
            save(im, edits / f"IMG_{2040 + n} copy.jpg", seed, 55)
        if n % 6 == 0:
            for burst in (1, 2):
                save(landscape(seed, sun_shift=0.12 * burst), trip / f"IMG_{2040 + n}_burst{burst}.jpg", seed)
    real_photos(root / "Camera roll")
    return root


def real_photos(folder: Path) -> None:
    """Real photographs (scikit-image's sample set) beside the drawn landscapes, with a
    resized web copy of one, so the library view shows real variety."""
    from skimage import data

    for n, name in enumerate(("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")):
        im = Image.fromarray(getattr(data, name)()).convert("RGB")
        path = save(im, folder / f"DSC_{3100 + n}.jpg", 100 + n)
        if name == "coffee":
            save(
                im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
                folder / "web" / path.name,
                100 + n,
                70,
            )


def wait(app, condition, timeout: float = 60.0) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    wait(app, lambda: time.monotonic() > end, seconds + 1)


def main() -> int:
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="photofind-shots-"))
    os.environ.update(
        PHOTOFIND_CACHE_DIR=str(work / "cache"),
        PHOTOFIND_DATA_DIR=str(work / "data"),
        XDG_CONFIG_HOME=str(work / "config"),
        PHOTOFIND_NO_DOWNLOAD="1",
    )
    # Set before tests.conftest is imported, which would default the platform to offscreen.
    os.environ["QT_QPA_PLATFORM"] = "xcb" if os.environ.get("DISPLAY") else "offscreen"
    library = make_demo(work / "Pictures")

    from PySide6.QtCore import QSettings

    from photofind.core.types import Tier
    from photofind.gui.app import create_application
    from photofind.gui.controller import ScanController
    from photofind.gui.main_window import MainWindow
    from tests.conftest import FakeEmbedder  # fast and deterministic; real weights are not here

    app = create_application()
    controller = ScanController(embedder=FakeEmbedder(), cache_path=str(work / "cache.sqlite3"))
    window = MainWindow(controller, QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1480, 940)
    window.show()
    for folder in ("Trip 2023", "Phone", "Edits", "Backup", "Camera roll"):
        window.add_folders([str(library / folder)])
    window.folders.model.set_protected(0, True)  # the trip's originals are never touched
    # A fixed bar: the stand-in embedder's calibration is meaningless, and at 90% the bursts
    # show as the "similar" tier they are.
    window.filters.set_threshold(0.90, emit=False)
    window.filters.set_automatic(False)
    finished = []
    controller.groupsChanged.connect(finished.append)
    window.start_scan()
    wait(app, lambda: bool(finished), 300)
    window.review.mark_by_rule({Tier.EXACT, Tier.PIXELS, Tier.NEAR})
    grid = window.grid
    grid.setCurrentIndex(window.model.index(1, 0, window.model.index(0, 0)))
    grid.viewport().repaint()
    wait(app, lambda: grid.loader.pending_count() == 0)
    settle(app, 0.5)
    window.grab().save(str(out / "main-grid.png"))

    row = next(
        (
            r
            for r in range(window.model.rowCount())
            if window.model.group(r).tier == Tier.NEAR and len(window.model.group(r).members) >= 3
        ),
        0,
    )
    dialog = window.review.compare_group(row)
    if dialog is not None:
        dialog.resize(1480, 900)
        wait(app, lambda: all(p.has_image for p in dialog.panes), 60)
        settle(app, 0.5)
        dialog.grab().save(str(out / "compare.png"))
        dialog.close()

    window.tabs.setCurrentWidget(window.library)
    window.library.grid.viewport().repaint()
    wait(app, lambda: window.library.grid.loader.pending_count() == 0)
    settle(app, 0.5)
    window.grab().save(str(out / "library.png"))

    if window.similar is not None:
        query = window.model.records()[window.model.keeper_of(window.model.group(row))].path
        searched = []
        window.similar.searchFinished.connect(lambda *a: searched.append(a))
        window.review.browse_similar(query)
        wait(app, lambda: bool(searched), 60)
        settle(app, 2.5)  # let the result thumbnails arrive
        window.grab().save(str(out / "similar.png"))
    controller.shutdown()
    window.close()
    print("saved:", ", ".join(sorted(p.name for p in out.glob("*.png"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
