"""Opt-in matching of copies rotated by 90/180/270 degrees or mirrored."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from PIL import Image

from photofind.commands.common import add_engine_options, settings_from_args
from photofind.core.match import derivatives as d
from photofind.core.match import phash_index, verify
from photofind.core.scan.hashing import DIHEDRAL, dihedral, dihedral_phashes, gray_thumb, phash_of_thumb
from photofind.core.types import ScanSettings
from tests import imagefactory as factory
from tests.core.test_verify import check, record, write

TURNS = {
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
}


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return factory.make_scene(21, (640, 480))


def test_variant_hashes_equal_the_hashes_of_turned_photos(scene):
    variants = dihedral_phashes(gray_thumb(scene))
    assert len(set(variants.tolist())) == 8  # an asymmetric photo has eight different hashes
    for name, turn in TURNS.items():
        turned = phash_of_thumb(gray_thumb(scene.transpose(turn)))
        k = DIHEDRAL.index(name)
        assert (int(variants[k]) ^ turned).bit_count() <= 2, name


def test_dihedral_variants_are_the_eight_symmetries():
    x = np.arange(16).reshape(4, 4)
    seen = {dihedral(x, k).tobytes() for k in range(8)}
    assert len(seen) == 8
    assert np.array_equal(dihedral(x, 0), x)
    assert np.array_equal(dihedral(x, 4), np.fliplr(x))


@pytest.mark.parametrize(
    "name, why", [("rot90", "rotated"), ("rot180", "rotated"), ("rot270", "rotated"), ("mirror", "mirrored")]
)
def test_turned_copies_match_only_when_asked(tmp_path, scene, name, why):
    original = write(tmp_path / "original", d.encode(scene))
    turned = write(tmp_path / name, d.encode(scene.transpose(TURNS[name]), quality=80))
    assert check(original, turned) is None  # off by default: a mirror image is another picture
    assert check(original, turned, rotations=True) == why


def test_rotation_search_still_rejects_different_photos(tmp_path):
    a = write(tmp_path / "a", d.encode(factory.make_scene(31, (480, 360))))
    b = write(
        tmp_path / "b", d.encode(factory.make_scene(32, (480, 360)).transpose(Image.Transpose.ROTATE_90))
    )
    assert check(a, b, rotations=True) is None


def test_variant_candidates_pair_a_rotated_copy(tmp_path, scene):
    paths = [
        write(tmp_path / "a", d.encode(scene)),
        write(tmp_path / "b", d.encode(factory.make_scene(40, (640, 480)))),
        write(tmp_path / "c", d.encode(scene.transpose(Image.Transpose.ROTATE_270))),
    ]
    thumbs = [record(p)[1] for p in paths]
    upright = np.array([phash_of_thumb(t) for t in thumbs], dtype=np.uint64)
    variants = np.stack([dihedral_phashes(t) for t in thumbs])
    plain = {tuple(p) for p in phash_index.phash_candidates(upright, 10).tolist()}
    turned = {tuple(p) for p in phash_index.phash_candidates(upright, 10, variants=variants).tolist()}
    assert (0, 2) not in plain
    assert (0, 2) in turned


def test_setting_is_off_by_default_and_the_cli_turns_it_on():
    assert ScanSettings(roots=("x",)).rotations is False
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float)
    add_engine_options(parser)
    assert settings_from_args(parser.parse_args([]), ["x"]).rotations is False
    settings = settings_from_args(parser.parse_args(["--rotations"]), ["x"])
    assert settings.rotations is True
    assert settings.calibrate is True
    assert settings_from_args(parser.parse_args(["--threshold", "0.9"]), ["x"]).calibrate is False


def test_straightened_copy_matches_with_or_without_rotations(tmp_path, scene):
    original = write(tmp_path / "original", d.encode(scene))
    straight = write(tmp_path / "straight", d.encode(d.straighten(scene, 5.0)))
    assert check(original, straight) == "rotated 5°"  # small tilts need no option
    assert check(original, straight, rotations=True) == "rotated 5°"


def test_tilt_turns_like_the_photo():
    """Turning the squashed image must equal squashing the turned photo."""
    photo = factory.make_scene(50, (480, 240))
    turned = photo.rotate(6.0, Image.Resampling.BILINEAR)
    expected = np.asarray(turned.convert("L").resize((64, 64), Image.Resampling.BOX), np.float32)
    squashed = np.asarray(photo.convert("L").resize((64, 64), Image.Resampling.BOX), np.float32)
    got = verify.tilt(squashed, 6.0, aspect=2.0)
    inner = (slice(16, 48), slice(16, 48))  # away from the corners the turn leaves empty
    assert np.corrcoef(got[inner].ravel(), expected[inner].ravel())[0, 1] > 0.9
    wrong = verify.tilt(squashed, -6.0, aspect=2.0)
    assert (
        np.corrcoef(wrong[inner].ravel(), expected[inner].ravel())[0, 1]
        < np.corrcoef(got[inner].ravel(), expected[inner].ravel())[0, 1]
    )
