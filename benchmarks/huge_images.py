"""Peak memory to decode a picture with a huge pixel count (under the bomb limit) into the
scan's 224-px working image: photofind's decode (converted in bands of rows) against
converting the whole decoded picture to RGB first, as it did before, in the same run.

Each decode runs in a fresh process, which reports its own peak (VmHWM). Linux only.
Usage: python benchmarks/huge_images.py [--mp 144] [--modes RGB,RGBA,P,I;16]
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
from PIL import Image
from photofind.core.scan import imageio
path, how = sys.argv[1], sys.argv[2]
data = open(path, "rb").read()
start = time.perf_counter()
if how == "photofind":
    size = imageio.decode_bytes(data, path, min_side=224).image.size
else:  # the whole picture converted first, then reduced
    import io
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        rgb = imageio._to_rgb(im)
        size = rgb.reduce(min(rgb.size) // 224).size
seconds = time.perf_counter() - start
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["VmHWM"].split()[0]) // 1024, round(seconds, 2), size)
"""

FILL = {"RGB": (10, 20, 30), "RGBA": (10, 20, 30, 128), "P": 7, "L": 7, "I;16": 7, "LA": (7, 100)}


def peak(path: Path, how: str) -> tuple[int, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), how], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    return int(out[0]), float(out[1])


def main() -> None:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mp", type=float, default=144.0, help="megapixels (default 144)")
    parser.add_argument("--modes", default="RGB,RGBA,P,I;16")
    args = parser.parse_args()
    side = int(math.sqrt(args.mp * 1e6))
    print(f"{side}x{side} PNG ({side * side / 1e6:.0f} MP), decoded to the scan's working size")
    print("| mode | file MB | peak MB, photofind | peak MB, whole-picture convert | ratio | s, photofind |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            path = Path(tmp) / f"huge-{mode.replace(';', '')}.png"
            Image.new(mode, (side, side), FILL[mode]).save(path, compress_level=1)
            ours, seconds = peak(path, "photofind")
            whole, _ = peak(path, "whole")
            print(
                f"| {mode} | {path.stat().st_size / 1e6:.1f} | {ours} | {whole} | "
                f"{whole / max(ours, 1):.1f}x | {seconds:.1f} |"
            )
            path.unlink()


if __name__ == "__main__":
    main()
