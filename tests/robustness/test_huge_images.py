"""Pictures with huge pixel counts, under the bomb limit: decoded without gigabytes of copies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photofind
from photofind.core.scan import imageio

PEAK = """
import sys
from photofind.core.scan.imageio import decode_bytes
data = open(sys.argv[1], "rb").read()
decoded = decode_bytes(data, sys.argv[1], min_side=224)
assert decoded.image.size == (224, 224), decoded
# VmHWM, not ru_maxrss: that one keeps the parent's peak across fork and exec.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(int(status["VmHWM"].split()[0]) // 1024)
"""

SOURCE_ROOT = str(Path(photofind.__file__).parent.parent)  # this checkout, whatever the cwd


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_huge_transparent_png_decodes_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.png"
    side = 224 * 32  # 51 MP: 200 MB decoded; converting it whole took about 1 GB more
    Image.new("RGBA", (side, side), (10, 20, 30, 128)).save(path, compress_level=1)
    run = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
    )
    assert run.returncode == 0, run.stderr
    peak_mb = int(run.stdout)
    assert peak_mb < 500, peak_mb


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I;16", "I", "L", "RGB", "CMYK"])
def test_banded_conversion_gives_the_same_pixels(mode, monkeypatch):
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 255, (301, 453, 4), np.uint8), "RGBA")
    if mode == "I;16":
        im = Image.fromarray(rng.integers(0, 65535, (301, 453), np.uint16))
    elif mode == "I":
        im = Image.fromarray(rng.integers(0, 40_000, (301, 453), np.int32))
    elif mode == "P":
        im = base.convert("RGB").quantize(64)
        im.info["transparency"] = 3
    else:
        im = base.convert(mode)
    want = imageio._to_rgb(im.copy()).reduce(3)
    monkeypatch.setattr(imageio, "_BAND_PIXELS", 453 * 7)  # many bands, the last one partial
    got = imageio._reduce_in_bands(im, 3)
    assert got.size == want.size
    assert np.array_equal(np.asarray(got), np.asarray(want))
