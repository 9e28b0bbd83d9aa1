"""Camera RAW files read through rawpy (LibRaw): decoded as recorded, grouped with their
exports elsewhere (the RAW kept, format order raw first), and a RAW+JPEG of one shot is one
unit, not two duplicates. The DNGs are written by tifffile (tests/rawfactory.py)."""

import os

import numpy as np
import pytest

from photofind.core.cleanup.actions import Action, plan_duplicates
from photofind.core.pipeline import scan
from photofind.core.scan.discover import discover
from photofind.core.scan.imageio import decode_file
from photofind.core.types import ScanSettings, SkipReason
from tests import imagefactory as factory
from tests.rawfactory import save_dng

pytest.importorskip("rawpy")


def test_a_dng_decodes_to_the_picture_it_was_made_from(tmp_path):
    scene = factory.make_scene(3, (120, 80))
    path = save_dng(scene, tmp_path / "DSC_0001.DNG")
    decoded = decode_file(str(path))
    assert decoded.facts.width == 120 and decoded.facts.height == 80
    assert decoded.facts.format == "DNG" and decoded.facts.camera == "Photofind Test DNG"
    diff = np.abs(np.asarray(decoded.image, np.int16) - np.asarray(scene, np.int16))
    assert diff.mean() < 1.0


def test_a_file_named_raw_that_is_not_is_skipped_with_a_reason(tmp_path):
    bad = tmp_path / "x.NEF"
    bad.write_bytes(b"not a raw file at all" * 10)
    skipped = decode_file(str(bad))
    assert skipped.reason is SkipReason.UNSUPPORTED and "LibRaw" in skipped.detail


def test_discovery_lists_raw_files(tmp_path):
    save_dng(factory.make_scene(1, (32, 24)), tmp_path / "a.dng")
    assert [os.path.basename(f.path) for f in discover([tmp_path]).files] == ["a.dng"]


def _scan(root, cache, fake_embedder):
    settings = ScanSettings(roots=(str(root),), cache_path=str(cache), calibrate=False)
    return scan(settings, embedder=fake_embedder, workers=1)


def test_a_raw_is_grouped_with_its_export_elsewhere_and_kept(tmp_path, cache_path, fake_embedder):
    scene = factory.make_scene(5, (160, 120))
    save_dng(scene, tmp_path / "lib" / "raw" / "DSC_0005.NEF.dng")
    factory.save(scene, tmp_path / "lib" / "export" / "DSC_0005.jpg", quality=95)
    result = _scan(tmp_path / "lib", cache_path, fake_embedder)
    assert len(result.groups) == 1
    keep = result.records[result.groups[0].keep_index].path
    assert keep.endswith("DSC_0005.NEF.dng")  # equal resolution: raw first in the format order


def test_raw_and_jpeg_of_one_shot_are_one_unit_not_two_duplicates(tmp_path, cache_path, fake_embedder):
    scene = factory.make_scene(6, (160, 120))
    shot = tmp_path / "lib" / "camera"
    save_dng(scene, shot / "DSC_0006.DNG")
    factory.save(scene, shot / "DSC_0006.JPG", quality=95)
    factory.save(scene, tmp_path / "lib" / "phone" / "DSC_0006.JPG", quality=95)  # a copy elsewhere
    result = _scan(tmp_path / "lib", cache_path, fake_embedder)
    [group] = result.groups
    paths = {os.path.relpath(result.records[i].path, tmp_path / "lib") for i in group.indices}
    assert paths == {"camera/DSC_0006.JPG", "phone/DSC_0006.JPG"}  # the DNG is no member of its own
    assert result.records[group.keep_index].path == str(shot / "DSC_0006.JPG")  # the complete unit
    assert [(c.name, c.kind.value) for c in result.companions[str(shot / "DSC_0006.JPG")]] == [
        ("DSC_0006.DNG", "raw")
    ]
    plan = plan_duplicates(result, Action.TRASH)
    assert [os.path.relpath(i.path, tmp_path / "lib") for i in plan.items] == ["phone/DSC_0006.JPG"]
