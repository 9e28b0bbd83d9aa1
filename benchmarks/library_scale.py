"""How photofind scales with the library: cold scan, warm rescan, rescan after adding 1% new
photos, a `similar` query, peak RSS, cache bytes per photo and time per phase.

    python benchmarks/library_scale.py --photos 10000 --mode no-embed
    python benchmarks/library_scale.py --photos 10000 --mode fake
    python benchmarks/library_scale.py --photos 10000 --mode random

The library: `--photos` 320x240 JPEGs cut from scikit-image's bundled photographs (a random
window of one source, at any angle, laid over a window of another, each maybe mirrored and its
colour channels shuffled, under a per-photo colour wash), so that no original is a crop of
another. One in 20 files is a planted derivative of the photo before it (byte copy, half
size, JPEG q50, 90% crop, brighter); the 1% added later are new originals, one in 5 of
them a derivative of an old photo. Everything is seeded: the same command builds the same
library, reused from `--workdir` if present.

Every row times the whole command a user waits for, in a fresh process, start-up included:
`photofind scan` (modes no-embed and random: `--no-embed`, `--weights random`). Mode fake
runs the same engine in-process (`python benchmarks/library_scale.py --child ...`, the
scan() the CLI calls, the CLI's progress bar and JSON writer) with the benchmarks' fast
stand-in embedder (scan_fixtures.LowResEmbedder): the product has no fake weights, on
purpose. Phase times come from the progress lines the command prints on stderr, each time
stamped as it arrives (a new phase is printed at once). Peak RSS is the child's own
(os.wait4).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SOURCES = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
    "color.png",
)
SIZE = (320, 240)
DERIVATIVE_EVERY = 20
DERIVATIVES = ("copy", "half", "q50", "crop", "brighter")
LONGEST_SIDE = 720  # windows are at most 0.6 of it: about 430 pixels cut down to 320
_sources: list[list[Image.Image]] = []
# What photofind.commands.textprogress prints: "phase [###---] done/total ..." or "phase done".
PROGRESS_LINE = re.compile(r"^(?P<phase>[a-z][a-z ]*?) +(\[[#-]+\] )?\d+(/\d+)?( |$)")


def _load_sources() -> list[list[Image.Image]]:
    """Each source picture in its six channel orders, at most LONGEST_SIDE pixels long."""
    if not _sources:
        import skimage

        folder = Path(skimage.__file__).parent / "data"
        for name in SOURCES:
            with Image.open(folder / name) as im:
                im = im.convert("RGB")
                im.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
                rgb = np.asarray(im)
            _sources.append(
                [Image.fromarray(rgb[..., list(order)]) for order in itertools.permutations(range(3))]
            )
    return _sources


def _window(rng: np.random.Generator, orders: list[Image.Image]) -> Image.Image:
    """A window of a picture at a random place, size and angle, colours shuffled, maybe mirrored.

    The angle matters at scale: two windows of the same picture at the same place and size
    are a duplicate nobody planted, and without it such pairs grow with the square of the
    library.
    """
    src = orders[int(rng.integers(0, len(orders)))]
    w, h = src.size
    side, angle = rng.uniform(0.3, 0.6), np.radians(rng.uniform(-45.0, 45.0))
    cos, sin = np.cos(angle), np.sin(angle)
    cw, ch = w * side, w * side * 0.75
    while cw * abs(cos) + ch * abs(sin) >= w - 4 or cw * abs(sin) + ch * abs(cos) >= h - 4:
        cw, ch = cw * 0.9, ch * 0.9  # the turned window must fit inside the picture
    half_x, half_y = (cw * abs(cos) + ch * abs(sin)) / 2, (cw * abs(sin) + ch * abs(cos)) / 2
    cx, cy = rng.uniform(half_x, w - half_x), rng.uniform(half_y, h - half_y)
    # One affine resample straight to the output size: output pixel (u, v) reads the picture
    # at the window's centre plus the turned offset (u - W/2, v - H/2) * scale.
    sx, sy = cw / SIZE[0], ch / SIZE[1]
    a, b = cos * sx, -sin * sy
    d, e = sin * sx, cos * sy
    c = cx - a * SIZE[0] / 2 - b * SIZE[1] / 2
    f = cy - d * SIZE[0] / 2 - e * SIZE[1] / 2
    im = src.transform(SIZE, Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BILINEAR)
    return im.transpose(Image.Transpose(int(rng.integers(0, 7)))).resize(SIZE) if rng.random() < 0.5 else im


def original(seed: int) -> Image.Image:
    """A distinct photo: a window of one real picture under a fainter window of another (a
    double exposure), then a colour wash.

    With ten source pictures, windows cut straight and upright contained one another by
    chance: at 10k photos the library held 1,259 duplicate groups for 500 planted copies, and
    such pairs grow with the square of its size. Turned windows under a second picture make
    an unplanted duplicate rare, so the library has duplicates at a known rate.
    """
    rng = np.random.default_rng(seed)
    sources = _load_sources()
    first = seed % len(sources)
    second = (first + 1 + int(rng.integers(0, len(sources) - 1))) % len(sources)
    im = Image.blend(_window(rng, sources[first]), _window(rng, sources[second]), rng.uniform(0.3, 0.45))
    wash = Image.fromarray(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)).resize(
        SIZE, Image.Resampling.BICUBIC
    )
    return Image.blend(im, wash, 0.3)


def derivative(im: Image.Image, kind: str) -> Image.Image | None:
    if kind == "half":
        return im.resize((SIZE[0] // 2, SIZE[1] // 2), Image.Resampling.LANCZOS)
    if kind == "crop":
        return im.crop((16, 12, SIZE[0] - 16, SIZE[1] - 12))
    if kind == "brighter":
        return ImageEnhance.Brightness(im).enhance(1.15)
    return None  # copy and q50 keep the picture


def _jpeg(im: Image.Image, quality: int = 88) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _build_one(args: tuple[str, int, int | None, str]) -> None:
    """Photo `seed` at `path`; with `of`, a derivative of photo `of` (kind cycles)."""
    path, seed, of, kind = args
    if of is None:
        _write(Path(path), _jpeg(original(seed)))
        return
    base = original(of)
    if kind == "copy":
        _write(Path(path), _jpeg(base))
    elif kind == "q50":
        _write(Path(path), _jpeg(base, 50))
    else:
        _write(Path(path), _jpeg(derivative(base, kind)))


def build(root: Path, count: int, *, start: int = 0, folder: str = "", new_photos: bool = False) -> int:
    """`count` photos numbered from `start`; returns how many are planted derivatives."""
    jobs, planted = [], 0
    for i in range(start, start + count):
        path = root / (folder or f"d{i // 100:04d}") / f"p{i:06d}.jpg"
        every = 5 if new_photos else DERIVATIVE_EVERY
        if i % every == every - 1 and i > 0:
            of = (i * 7919) % start if new_photos and start else i - 1
            jobs.append((str(path), i, of, DERIVATIVES[(i // every) % len(DERIVATIVES)]))
            planted += 1
        else:
            jobs.append((str(path), i, None, ""))
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(_build_one, jobs, chunksize=64))
    return planted


# -- running a command ------------------------------------------------------------------------


def run_timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd`; wall time, peak RSS, exit code and when each progress phase began."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    phases: dict[str, float] = {}
    assert proc.stderr is not None
    for line in proc.stderr:
        shown = PROGRESS_LINE.match(line.strip())
        if shown and shown["phase"] not in phases:
            phases[shown["phase"]] = time.perf_counter() - started
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    order = sorted(phases.items(), key=lambda kv: kv[1])
    spans = {
        name: (order[k + 1][1] if k + 1 < len(order) else wall) - at for k, (name, at) in enumerate(order)
    }
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "rc": proc.returncode, "phases": spans}


def scan_cmd(mode: str, root: Path, cache: Path, out: Path) -> list[str]:
    if mode == "fake":
        return [sys.executable, __file__, "--child", str(root), str(cache), str(out)]
    engine = ["--no-embed"] if mode == "no-embed" else ["--weights", "random"]
    return [
        sys.executable,
        "-m",
        "photofind",
        "scan",
        str(root),
        "--cache",
        str(cache),
        "--json",
        str(out),
        *engine,
    ]


def child(root: str, cache: str, out: str) -> int:
    """Mode fake: the CLI's scan, in-process, with the stand-in embedder."""
    from benchmarks.scan_fixtures import LowResEmbedder
    from photofind.commands.textprogress import TextProgress
    from photofind.core.pipeline import scan
    from photofind.core.progress import CancelToken
    from photofind.core.report import write_json
    from photofind.core.types import ScanSettings

    progress = TextProgress(CancelToken())
    result = scan(
        ScanSettings(roots=(str(Path(root).resolve()),), cache_path=cache),
        embedder=LowResEmbedder(),
        progress=progress,
    )
    progress.close()
    write_json(result, out)
    return 0


def groups_of(out: Path) -> list:
    """Each group as the JSON reports it: tier, keeper, members in order, why, similarity."""
    doc = json.loads(out.read_text())
    return [
        (g["tier"], g["keep"], tuple(f["path"] for f in g["files"]), tuple(g["why"]), g["min_similarity"])
        for g in doc["groups"]
    ]


def planted_found(groups: list, root: Path, photos: int) -> tuple[int, int]:
    """(planted derivatives in a duplicate group with their original, planted in all)."""
    together = {}
    for tier, _keep, paths, _why, _sim in groups:
        if tier != "similar":
            for path in paths:
                together[path] = paths
    found = total = 0
    for i in range(DERIVATIVE_EVERY - 1, photos, DERIVATIVE_EVERY):
        total += 1
        copy = str(root / f"d{i // 100:04d}" / f"p{i:06d}.jpg")
        source = str(root / f"d{(i - 1) // 100:04d}" / f"p{i - 1:06d}.jpg")
        found += source in together.get(copy, ())
    return found, total


def cache_bytes(cache: Path) -> tuple[float, float, int]:
    """(all cache bytes per photo, detail bytes per photo, photos)."""
    total = sum(Path(f"{cache}{s}").stat().st_size for s in ("", "-wal") if Path(f"{cache}{s}").exists())
    with sqlite3.connect(cache) as db:
        photos = db.execute("SELECT COUNT(*) FROM images").fetchone()[0]
        details = db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM details").fetchone()[0]
    return total / max(photos, 1), details / max(photos, 1), photos


def phase_text(phases: dict[str, float]) -> str:
    return ", ".join(f"{name} {secs:.1f}" for name, secs in phases.items() if secs >= 0.05) or "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", type=int, default=10000)
    p.add_argument("--mode", choices=("no-embed", "fake", "random"), default="no-embed")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/photofind-library-scale"))
    p.add_argument("--child", nargs=3, metavar=("ROOT", "CACHE", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(*args.child)

    root = args.workdir / f"lib-{args.photos}"
    marker = root / ".complete"
    t0 = time.perf_counter()
    if not marker.exists():
        planted = build(root, args.photos)
        marker.write_text(str(planted))
    planted = int(marker.read_text())
    build_s = time.perf_counter() - t0
    added = root / "added"
    if added.exists():  # a previous run's 1%: remove it, so the cold scan sees the same library
        for f in added.iterdir():
            f.unlink()
        added.rmdir()
    cache = args.workdir / f"cache-{args.photos}-{args.mode}.sqlite3"
    for s in ("", "-wal", "-shm"):
        Path(f"{cache}{s}").unlink(missing_ok=True)
    out = args.workdir / "out.json"
    env = dict(os.environ, PHOTOFIND_NO_DOWNLOAD="1", PYTHONPATH=str(Path(__file__).resolve().parent.parent))

    print(
        f"library: {args.photos} JPEGs 320x240 ({planted} planted derivatives), built/reused in {build_s:.0f} s"
    )
    print(f"mode: {args.mode}; cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}")
    print()
    print(f"| {'what':<30} | {'seconds':>8} | {'of cold':>7} | {'peak RSS':>8} | time per phase (s) |")
    print(f"| {'-' * 30} | {'-' * 8} | {'-' * 7} | {'-' * 8} | --- |", flush=True)
    cold: dict = {}

    def row(name: str, cmd: list[str]) -> dict:
        r = run_timed(cmd, env)
        ratio = f"{100 * r['wall'] / (cold or r)['wall']:.1f}%"
        flag = "" if r["rc"] in (0, 1) else f" (exit {r['rc']})"
        line = f"| {name:<30} | {r['wall']:>8.1f} | {ratio:>7} | {r['rss_mb']:>5.0f} MB | {phase_text(r['phases'])}{flag} |"
        print(line, flush=True)
        return r

    cold = row("cold scan", scan_cmd(args.mode, root, cache, out))
    cold_groups = groups_of(out)
    row("warm rescan", scan_cmd(args.mode, root, cache, out))
    same = groups_of(out) == cold_groups
    new = max(1, args.photos // 100)
    build(root, new, start=args.photos, folder="added", new_photos=True)
    row(f"rescan after adding {new} (1%)", scan_cmd(args.mode, root, cache, out))
    if args.mode == "random":
        query = root / "d0000" / "p000001.jpg"
        cmd = [sys.executable, "-m", "photofind", "similar", str(query), "--in", str(root), "--top", "5"]
        row("similar query", [*cmd, "--cache", str(cache), "--weights", "random"])
    per_photo, detail_per_photo, photos = cache_bytes(cache)
    print()
    found, total = planted_found(cold_groups, root.resolve(), args.photos)
    print(f"groups identical, cold vs warm: {'yes' if same else 'NO'}; {len(cold_groups)} groups")
    print(f"planted derivatives grouped with their original (cold scan): {found} of {total}")
    print(
        f"cache: {per_photo / 1024:.1f} KB per photo, of which the detail image {detail_per_photo / 1024:.1f} KB ({photos} photos)"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
