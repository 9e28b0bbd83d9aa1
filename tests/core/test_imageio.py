import io

import numpy as np
import pytest
from PIL import Image

from photofind.core.scan.imageio import decode_bytes, decode_file
from photofind.core.types import Skipped
from tests import imagefactory as f


def test_exif_orientation_is_applied(tmp_path):
    scene = f.make_scene(7, (300, 200))
    plain = decode_file(str(f.save(scene, tmp_path / "plain.jpg")))
    rotated = decode_file(str(f.exif_rotated_copy(scene, tmp_path / "rot.jpg")))
    assert (rotated.facts.width, rotated.facts.height) == (300, 200)
    assert rotated.image.size == plain.image.size
    diff = np.abs(np.asarray(rotated.image, np.float32) - np.asarray(plain.image, np.float32)).mean()
    assert diff < 6, "the EXIF-rotated copy must decode to what the user sees"


def test_exif_date_and_camera(tmp_path):
    path = f.with_exif(
        f.make_scene(8, (64, 48)), tmp_path / "x.jpg", "2021:06:05 14:03:09", "Canon", "Canon EOS R6"
    )
    d = decode_file(str(path))
    assert d.facts.taken == "2021-06-05T14:03:09"
    assert d.facts.camera == "Canon EOS R6"
    assert d.facts.format == "JPEG"


def test_large_jpeg_is_drafted_to_work_size(tmp_path):
    path = f.save(f.make_scene(9, (2400, 1600)), tmp_path / "big.jpg")
    d = decode_file(str(path))
    assert (d.facts.width, d.facts.height) == (2400, 1600)
    assert max(d.image.size) <= 448
    assert d.image.mode == "RGB"


@pytest.mark.parametrize(
    "mode",
    ["P", "RGBA", "LA", "CMYK", "I;16", "L", "1"],
)
def test_every_mode_becomes_rgb(mode, tmp_path):
    base = f.make_scene(10, (64, 48))
    if mode == "I;16":
        arr = (np.asarray(base.convert("L"), np.uint16) * 257).astype(np.uint16)
        im = Image.fromarray(arr)  # uint16 -> I;16
        fmt, ext = "PNG", "png"
    else:
        im = base.convert(mode)
        fmt, ext = ("TIFF", "tif") if mode == "CMYK" else ("PNG", "png")
    path = tmp_path / f"m.{ext}"
    im.save(path, fmt)
    d = decode_file(str(path))
    assert not isinstance(d, Skipped), d
    assert d.image.mode == "RGB"
    assert (d.facts.width, d.facts.height) == (64, 48)
    if mode == "I;16":
        assert np.asarray(d.image).max() > 100, "16-bit data must be scaled, not clipped to black/white"


def test_transparent_pixels_show_white():
    im = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    d = decode_bytes(buf.getvalue())
    assert np.asarray(d.image).min() == 255


def test_bad_files_are_skipped_with_their_reason(tmp_path):
    for reason, path in f.write_bad_files(tmp_path).items():
        result = decode_file(str(path))
        assert isinstance(result, Skipped)
        assert result.reason.value == reason, (path, result)
        assert result.detail


def test_missing_file_is_unreadable(tmp_path):
    result = decode_file(str(tmp_path / "gone.jpg"))
    assert isinstance(result, Skipped) and result.reason.value == "unreadable"


def test_first_frame_of_animated_gif(tmp_path):
    frames = [f.make_scene(s, (40, 30)).convert("P") for s in (1, 2)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    d = decode_file(str(path))
    assert d.facts.format == "GIF" and d.image.size == (40, 30)


@pytest.mark.parametrize("size", [(1, 1), (15, 400), (400, 3)])
def test_tiny_images_are_skipped_as_too_small(size):
    buf = io.BytesIO()
    Image.new("RGB", size, (255, 255, 255)).save(buf, "PNG")
    result = decode_bytes(buf.getvalue(), "pixel.png")
    assert isinstance(result, Skipped)
    assert result.reason.value == "too-small"
    assert result.reason.cacheable  # it depends only on the bytes


def test_sixteen_pixels_on_a_side_is_enough():
    buf = io.BytesIO()
    f.make_scene(3, (16, 16)).save(buf, "PNG")
    assert not isinstance(decode_bytes(buf.getvalue()), Skipped)
