"""HEIC end to end, with real files written by pillow-heif: 8- and 10-bit, stored sideways
with an EXIF orientation, decoded upright, grouped with their JPEG copies and kept (HEIC before
JPEG in the format order)."""

import os

import numpy as np
import pytest
from PIL import Image

from photofind.core.pipeline import scan
from photofind.core.scan.imageio import decode_file
from photofind.core.types import ScanSettings
from tests import imagefactory as factory

pillow_heif = pytest.importorskip("pillow_heif")
pillow_heif.register_heif_opener()


def heic_8bit(scene: Image.Image, path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.save(path, quality=92)
    return str(path)


def heic_10bit(scene: Image.Image, path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (np.asarray(scene.convert("RGB"), np.uint16) * 257).tobytes()  # 16-bit in, 10-bit stored
    pillow_heif.from_bytes(mode="RGB;16", size=scene.size, data=data).save(path, quality=92)
    return str(path)


def heic_sideways(scene: Image.Image, path) -> str:
    """Stored turned a quarter, with EXIF orientation 6 saying how to show it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[274] = 6
    scene.transpose(Image.Transpose.ROTATE_90).save(path, quality=92, exif=exif.tobytes())
    return str(path)


def _difference(image: Image.Image, scene: Image.Image) -> float:
    return float(np.abs(np.asarray(image, np.int16) - np.asarray(scene.convert("RGB"), np.int16)).mean())


@pytest.mark.parametrize("write", [heic_8bit, heic_10bit, heic_sideways])
def test_heic_decodes_upright_at_its_displayed_size(tmp_path, write):
    scene = factory.make_scene(4, (160, 120))
    path = write(scene, tmp_path / "IMG_0001.HEIC")
    decoded = decode_file(path)
    assert (decoded.facts.width, decoded.facts.height) == (160, 120)
    assert decoded.facts.format in ("HEIF", "HEIC")
    assert decoded.image.size == (160, 120)
    assert _difference(decoded.image, scene) < 8  # the same picture, the right way up


def test_ten_bit_heic_is_really_ten_bit(tmp_path):
    path = heic_10bit(factory.make_scene(4, (64, 48)), tmp_path / "deep.heic")
    assert pillow_heif.open_heif(path, convert_hdr_to_8bit=False).info["bit_depth"] == 10


def test_heic_copies_group_with_their_jpeg_and_the_heic_is_kept(tmp_path, cache_path, fake_embedder):
    scene = factory.make_scene(8, (240, 180))
    root = tmp_path / "lib"
    heic_10bit(scene, root / "phone" / "IMG_0008.HEIC")
    factory.save(scene, root / "export" / "IMG_0008.jpg", quality=90)
    heic_sideways(factory.make_scene(9, (240, 180)), root / "phone" / "IMG_0009.HEIC")
    factory.save(factory.make_scene(9, (240, 180)), root / "export" / "IMG_0009.jpg", quality=90)
    settings = ScanSettings(roots=(str(root),), cache_path=str(cache_path), calibrate=False)
    result = scan(settings, embedder=fake_embedder, workers=1)
    assert not result.skipped
    kept = sorted(os.path.relpath(result.records[g.keep_index].path, root) for g in result.groups)
    assert kept == ["phone/IMG_0008.HEIC", "phone/IMG_0009.HEIC"]
    assert all(len(g.members) == 2 for g in result.groups)
