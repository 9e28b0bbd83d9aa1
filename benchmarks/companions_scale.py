"""What finding capture units costs: `find_companions` over a generated library of empty photo
files in folders of 200, a third of them Live Photos (a .MOV beside) and a tenth with an XMP
sidecar, against a bare `os.scandir` of the same folders (the floor: one listing per folder).

Usage: python benchmarks/companions_scale.py [--photos N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_library(root: Path, photos: int) -> list[str]:
    paths = []
    for n in range(photos):
        folder = root / f"{n // 200:04d}"
        if n % 200 == 0:
            folder.mkdir(parents=True)
        photo = folder / f"IMG_{n:06d}.HEIC"
        photo.touch()
        paths.append(str(photo))
        if n % 3 == 0:
            (folder / f"IMG_{n:06d}.MOV").touch()
        if n % 10 == 0:
            (folder / f"IMG_{n:06d}.HEIC.xmp").touch()
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=100_000)
    args = parser.parse_args()
    from photofind.core.scan.companions import find_companions

    with tempfile.TemporaryDirectory() as tmp:
        paths = make_library(Path(tmp), args.photos)
        folders = sorted({os.path.dirname(p) for p in paths})
        start = time.perf_counter()
        for folder in folders:
            with os.scandir(folder) as it:
                [e.name for e in it if e.is_file()]
        floor = time.perf_counter() - start
        start = time.perf_counter()
        found = find_companions(paths)
        seconds = time.perf_counter() - start
    units = sum(len(v) for v in found.values())
    print(f"{'what':<34} {'seconds':>8} {'photos/s':>10}")
    print(f"{'os.scandir of every folder':<34} {floor:>8.3f} {args.photos / floor:>10,.0f}")
    print(f"{'find_companions':<34} {seconds:>8.3f} {args.photos / seconds:>10,.0f}")
    print(
        f"{args.photos:,} photos in {len(folders):,} folders; {len(found):,} with companions ({units:,} files)"
    )


if __name__ == "__main__":
    main()
