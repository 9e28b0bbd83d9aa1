"""P3, P4, P5: messages that said the wrong thing."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image

from photofind import cli
from photofind.core.match.calibrate import choose, tail_rate
from photofind.core.scan.imageio import decode_bytes
from photofind.core.types import SkipReason
from tests import imagefactory as f


def test_history_rejects_a_negative_count(capsys):
    assert cli.main(["history", "-n", "-1"]) == 2
    err = capsys.readouterr().err
    assert "-n" in err and "no clean-up batches" not in err


def test_cache_clear_of_a_missing_cache_says_so(tmp_path, capsys):
    assert cli.main(["cache", "clear", "--cache", str(tmp_path / "none.db")]) == 0
    out = capsys.readouterr().out
    assert "removed" not in out and "no cache" in out


def test_similar_with_a_folder_says_it_is_a_folder(tmp_path, capsys):
    lib = tmp_path / "lib"
    f.save(f.make_scene(1), lib / "a.jpg")
    assert cli.main(["similar", str(lib), "--in", str(lib), "--weights", "random", "-q"]) == 2
    err = capsys.readouterr().err
    assert "is a folder" in err and "no such image" not in err


def test_show_must_not_be_negative(tmp_path, capsys):
    lib = tmp_path / "lib"
    f.save(f.make_scene(1), lib / "a.jpg")
    assert cli.main(["scan", str(lib), "--no-embed", "-q", "--show", "-1"]) == 2
    assert "--show" in capsys.readouterr().err


def test_calibration_tail_never_overflows():
    """P4: cosines far below the fitted tail's start used to overflow exp()."""
    rng = np.random.default_rng(0)
    neg = np.concatenate([rng.normal(0.2, 0.05, 20_000), rng.normal(0.95, 1e-7, 300)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rates = tail_rate(neg, np.linspace(-1.0, 1.0, 4001))
        choose(rng.uniform(0.97, 1.0, 150), neg, 5000)
    assert np.isfinite(rates).all() and rates[0] == 1.0 and rates[-1] < 1e-6


def _png(size=(64, 48)):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (size[1], size[0], 3), np.uint8)).save(
        buf, "PNG"
    )
    return bytearray(buf.getvalue())


def _jpeg():
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (256, 256, 3), np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_png_with_a_broken_header_checksum_is_corrupt():
    data = _png()
    data[29] ^= 0xFF  # inside IHDR's CRC
    got = decode_bytes(bytes(data), "x.png")
    assert got.reason == SkipReason.CORRUPT and "PNG" in got.detail


@pytest.mark.parametrize("length", [200, 700, 4000])
def test_cut_short_jpeg_is_truncated(length):
    got = decode_bytes(_jpeg()[:length], "x.jpg")
    assert got.reason == SkipReason.TRUNCATED, got


def test_other_bytes_are_still_not_an_image():
    assert decode_bytes(b"hello, this is text" * 20, "x.jpg").reason == SkipReason.NOT_AN_IMAGE
