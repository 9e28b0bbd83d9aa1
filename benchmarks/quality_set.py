"""Build the matching-quality evaluation set from real photographs installed on this machine.

The photos come from Debian wallpaper packages and scikit-image's bundled data; nothing is
downloaded. Each source photo is downscaled and written with every derivative in
photofind.core.match.derivatives; large photos become burst families (hard negatives: different
photos of one scene), and scikit-image's stereo pair is a second kind of hard negative.
Frame families are a third: consecutive frames of a still camera with a subject moving along a
path, or of a small camera pan with parallax, made from photos the set does not otherwise
hold (the main set's frames from the alternate set's photos and the reverse, so the
alternate set's frames are a held-out check of the tuning done on the main set).
The truth file maps each written file to its source, transform and family.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from photofind.core.match import derivatives as d
from photofind.core.match import evaluation as ev

BG = "/usr/share/backgrounds"
# Photographs only (illustrations and renders are left out): (name, file, package).
PHOTOS = [
    ("bridge", f"{BG}/Bridge_by_Sander_Klootwijk.jpg", "lomiri-wallpapers-20.04"),
    ("fig", f"{BG}/Picture_0B_by_freespace.jpg", "lomiri-wallpapers-20.04"),
    ("brushes", f"{BG}/Picture_1A_by_freespace.jpg", "lomiri-wallpapers-20.04"),
    ("wine", f"{BG}/Wine_by_Jakkub_Mede.jpg", "lomiri-wallpapers-20.04"),
    ("pattern", f"{BG}/analogpattern_by_Peter_Nerlich.jpg", "ukui-wallpapers"),
    ("bird", f"{BG}/free_by_Peter_Nerlich.jpg", "ukui-wallpapers"),
    ("dogs", f"{BG}/friends_by_Aitzol_Berasategi.jpg", "ukui-wallpapers"),
    ("clock", f"{BG}/greentock_by_Peter_Nerlich.jpg", "ukui-wallpapers"),
    ("stream", f"{BG}/life_by_Aitzol_Berasategi.jpg", "ukui-wallpapers"),
    ("aqua", f"{BG}/mate/nature/Aqua.jpg", "mate-backgrounds"),
    ("blinds", f"{BG}/mate/nature/Blinds.jpg", "mate-backgrounds"),
    ("dune", f"{BG}/mate/nature/Dune.jpg", "mate-backgrounds"),
    ("flower", f"{BG}/mate/nature/FreshFlower.jpg", "mate-backgrounds"),
    ("garden", f"{BG}/mate/nature/Garden.jpg", "mate-backgrounds"),
    ("meadow", f"{BG}/mate/nature/GreenMeadow.jpg", "mate-backgrounds"),
    ("ladybird", f"{BG}/mate/nature/LadyBird.jpg", "mate-backgrounds"),
    ("raindrops", f"{BG}/mate/nature/RainDrops.jpg", "mate-backgrounds"),
    ("storm", f"{BG}/mate/nature/Storm.jpg", "mate-backgrounds"),
    ("dandelion", f"{BG}/mate/nature/TwoWings.jpg", "mate-backgrounds"),
    ("wood", f"{BG}/mate/nature/Wood.jpg", "mate-backgrounds"),
    ("sunflower", f"{BG}/mate/nature/YellowFlower.jpg", "mate-backgrounds"),
    ("astronaut", "skimage:astronaut.png", "scikit-image (pip)"),
    ("cat", "skimage:chelsea.png", "scikit-image (pip)"),
    ("coffee", "skimage:coffee.png", "scikit-image (pip)"),
    ("rocket", "skimage:rocket.jpg", "scikit-image (pip)"),
]
# Large photos cut into bursts of different frames of one scene.
BURSTS = [
    ("bird-tree", f"{BG}/Kleiber_by_Lukas_Baubkus.jpg", "lomiri-wallpapers-20.04"),
    ("dandelions", f"{BG}/seeding_by_Clements_Engelhardt.jpg", "ukui-wallpapers"),
    ("sunset", f"{BG}/sunset_by_Aitzol_Berasategi.jpg", "ukui-wallpapers"),
    ("leaves", f"{BG}/Dragonfly_by_Bolly.jpg", "lomiri-wallpapers-20.04"),
    ("mountains", f"{BG}/aitzgorri_by_Aitzol_Berasategi.jpg", "ukui-wallpapers"),
    ("valley", f"{BG}/picosdeeuropa_by_Aitzol_Berasategi.jpg", "ukui-wallpapers"),
]
# A second, disjoint set: other photographs (and scikit-image's textures, microscopy and a
# scanned page, which are hard for a pixel check), bursts cut from smooth digital art, and a
# larger size. Built only to check that what was tuned on the main set carries over.
ALTERNATE_PHOTOS = [
    *BURSTS,  # the main set's burst sources, here as whole photos of their own
    *(
        (name, f"skimage:{name}.{ext}", "scikit-image (pip)")
        for name, ext in (
            ("camera", "png"),
            ("coins", "png"),
            ("moon", "png"),
            ("brick", "png"),
            ("grass", "png"),
            ("gravel", "png"),
            ("hubble_deep_field", "jpg"),
            ("retina", "jpg"),
            ("ihc", "png"),
            ("page", "png"),
        )
    ),
    ("goldfish", f"{BG}/goldfish.png", "ubuntukylin-wallpapers"),
    ("calla", f"{BG}/calla.png", "ubuntukylin-wallpapers"),
]
ALTERNATE_BURSTS = [
    ("sea", f"{BG}/Infinite-Sea_by_Aury88.jpg", "ubuntukylin-wallpapers"),
    ("elephants", f"{BG}/mate/abstract/Elephants_5640x3172.jpg", "mate-backgrounds"),
    ("fossa", f"{BG}/Fossa_by_Jasper_Roks.jpg", "ubuntu-wallpapers"),
    ("umang", f"{BG}/umang_by_Abhishek_Mudgal.jpg", "ubuntukylin-wallpapers"),
]
STEREO = [
    ("motorcycle", ("skimage:motorcycle_left.png", "skimage:motorcycle_right.png"), "scikit-image (pip)")
]
BURST_DERIVATIVES = ("copy", "resize50", "jpeg60")
LONG_SIDE = 1024
FRAMES = 3


@dataclass(frozen=True)
class Missing:
    name: str
    package: str


def _open(locator: str, draft: int | None = None) -> Image.Image | None:
    if locator.startswith("skimage:"):
        try:
            import skimage
        except ImportError:
            return None
        path = Path(skimage.__file__).parent / "data" / locator.split(":", 1)[1]
    else:
        path = Path(locator)
    if not path.is_file():
        return None
    with Image.open(path) as im:
        if draft:
            im.draft("RGB", (draft, draft))
        return im.convert("RGB")


def _downscale(im: Image.Image, long_side: int) -> Image.Image:
    im = im.copy()
    im.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    return im


@dataclass(frozen=True)
class SetSpec:
    name: str
    photos: list
    bursts: list
    long_side: int
    frames: list  # photos that become frame families (a moving subject, a pan with parallax)


MAIN = SetSpec(
    "main",
    PHOTOS,
    BURSTS,
    LONG_SIDE,
    [p for p in ALTERNATE_PHOTOS if p not in BURSTS and p[0] not in ("brick", "grass", "gravel", "page")],
)
ALTERNATE = SetSpec("alternate", ALTERNATE_PHOTOS, ALTERNATE_BURSTS, 1280, PHOTOS[::2])
SETS = {spec.name: spec for spec in (MAIN, ALTERNATE)}


def build(
    out: Path, *, transforms: tuple[str, ...] | None = None, limit: int | None = None, spec: SetSpec = MAIN
) -> tuple[dict, list[Missing]]:
    """Write the set `spec` under `out/photos` and its truth to `out/truth.json`; reuse a
    complete earlier build. Returns (truth, photos that are not installed)."""
    names = transforms or tuple(s.name for s in d.TRANSFORMS)
    truth_path = out / "truth.json"
    key = {"names": list(names), "limit": limit, "long_side": spec.long_side, "version": 6, "set": spec.name}
    if truth_path.is_file():
        old = json.loads(truth_path.read_text())
        if old.get("key") == key:
            return old, [Missing(**m) for m in old.get("missing", [])]
    files: dict[str, dict] = {}
    missing: list[Missing] = []
    root = out / "photos"

    def write(rel: str, data: bytes, **info) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (path.is_file() and path.read_bytes() == data):  # unchanged files keep their cache entries
            path.write_bytes(data)
        files[rel] = info

    photos = spec.photos[:limit] if limit else spec.photos
    for n, (name, locator, package) in enumerate(photos):
        im = _open(locator, draft=2 * spec.long_side)
        if im is None:
            missing.append(Missing(name, package))
            continue
        im = _downscale(im, spec.long_side)
        write(
            f"{name}/original.jpg",
            d.encode(im)[0],
            source=name,
            transform="original",
            kind="same",
            family=name,
        )
        for t in names:
            data, ext = d.make(t, im, seed=1000 * n + 7)
            write(f"{name}/{t}.{ext}", data, source=name, transform=t, kind=d.BY_NAME[t].kind, family=name)
    bursts = spec.bursts[: max(1, limit // 4)] if limit else spec.bursts
    for n, (family, locator, package) in enumerate(bursts):
        big = _open(locator, draft=3 * spec.long_side)
        if big is None:
            missing.append(Missing(family, package))
            continue
        frames = d.burst_frames(big, FRAMES, np.random.default_rng(500 + n), spec.long_side)
        for k, frame in enumerate(frames):
            write(
                f"burst-{family}/frame{k}-original.jpg",
                d.encode(frame)[0],
                source=f"{family}#{k}",
                transform="original",
                kind="same",
                family=family,
            )
            for t in BURST_DERIVATIVES:
                data, ext = d.make(t, frame, seed=k)
                write(
                    f"burst-{family}/frame{k}-{t}.{ext}",
                    data,
                    source=f"{family}#{k}",
                    transform=t,
                    kind=d.BY_NAME[t].kind,
                    family=family,
                )
    _frames(spec, limit, write, missing)
    for family, (left, right), package in STEREO:
        pair = [_open(left), _open(right)]
        if any(p is None for p in pair):
            missing.append(Missing(family, package))
            continue
        for k, view in enumerate(pair):
            data, ext = d.make("copy", _downscale(view, spec.long_side), seed=k)
            write(
                f"stereo-{family}/view{k}.{ext}",
                data,
                source=f"{family}#{k}",
                transform="copy",
                kind="same",
                family=family,
            )
    truth = {"key": key, "root": str(root), "files": files, "missing": [m.__dict__ for m in missing]}
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path.write_text(json.dumps(truth, indent=1))
    return truth, missing


def _frames(spec: SetSpec, limit: int | None, write, missing: list[Missing]) -> None:
    """Frame families: FRAMES frames each, alternately a moving subject and a pan."""
    sources = spec.frames[: max(2, limit // 4)] if limit else spec.frames
    opened = [(name, _open(locator, draft=2 * spec.long_side), package) for name, locator, package in sources]
    for name, _, package in opened:
        if _ is None:
            missing.append(Missing(name, package))
    present = [(name, _downscale(im, spec.long_side)) for name, im, _ in opened if im is not None]
    for n, (name, im) in enumerate(present):
        subject = present[(n + 1) % len(present)][1]
        rng = np.random.default_rng(900 + n)
        kind = "move" if n % 2 == 0 else "pan"
        make = d.moving_subject_frames if kind == "move" else d.pan_frames
        family = f"{ev.FRAMES}-{kind}-{name}"
        for k, frame in enumerate(make(im, subject, FRAMES, rng)):
            write(
                f"{family}/frame{k}.jpg",
                d.encode(frame)[0],
                source=f"{family}#{k}",
                transform="original",
                kind="same",
                family=family,
            )


def install_hint(missing: list[Missing]) -> str:
    debs = sorted({m.package for m in missing if "pip" not in m.package})
    pips = sorted({m.package.split()[0] for m in missing if "pip" in m.package})
    parts = []
    if debs:
        parts.append("apt-get install " + " ".join(debs))
    if pips:
        parts.append("pip install " + " ".join(pips))
    return "; ".join(parts)
