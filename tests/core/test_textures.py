"""Copies of stochastic textures (gravel, grass, brick, microscopy): detail so fine that the
32x32 screens decorrelate when misaligned by a pixel. Straightened and cropped copies are
still found, and another patch of the same texture is not."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from photofind.core.match import derivatives as d
from tests.core.test_verify import check, write


def texture(seed: int, size: tuple[int, int] = (512, 512), grain: float = 1.5) -> Image.Image:
    """Gravel-like: random stones `grain` pixels across, with no structure larger than that
    (a larger grain looks like tissue under a microscope)."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(128, 60, (size[1], size[0], 3)).clip(0, 255).astype(np.uint8)
    im = Image.fromarray(noise).filter(ImageFilter.GaussianBlur(grain))
    z = np.asarray(im, np.float32)
    z = (z - z.mean()) / max(float(z.std()), 1e-6) * 50 + 128  # blur took the contrast: restore it
    return Image.fromarray(z.clip(0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def gravel() -> Image.Image:
    return texture(1)


@pytest.mark.parametrize("degrees", [-6.0, 4.0])
def test_a_straightened_texture_is_found(tmp_path, gravel, degrees):
    original = write(tmp_path / "original", d.encode(gravel))
    straight = write(tmp_path / "straight", d.encode(d.straighten(gravel, degrees)))
    assert check(original, straight) == f"rotated {abs(degrees):.0f}°"


@pytest.mark.parametrize("transform", ["crop90_offcentre", "crop75_offcentre", "crop75_centre"])
def test_a_cropped_texture_is_found(tmp_path, gravel, transform):
    original = write(tmp_path / "original", d.encode(gravel))
    cropped = write(tmp_path / "cropped", d.make(transform, gravel))
    assert check(original, cropped) == "cropped"


def test_another_patch_of_the_texture_is_not_a_copy(tmp_path):
    big = texture(2, (800, 512))
    left = write(tmp_path / "left", d.encode(big.crop((0, 0, 512, 512))))
    right = write(tmp_path / "right", d.encode(big.crop((200, 0, 712, 512))))
    other = write(tmp_path / "other", d.encode(d.straighten(texture(3), 5.0)))
    assert check(left, right) is None
    assert check(left, other) is None


def page(seed: int, size: tuple[int, int] = (768, 384)) -> Image.Image:
    """A scanned page: lines of small dark words on paper."""
    rng = np.random.default_rng(seed)
    z = np.full((size[1], size[0]), 235.0, np.float32)
    for top in range(24, size[1] - 40, 30):
        x = 24
        while x < size[0] - 80:
            for _letter in range(int(rng.integers(2, 8))):  # a word: letters with gaps
                glyph = rng.integers(0, 2, (3, 2)).repeat(5, axis=0).repeat(4, axis=1)
                z[top : top + 15, x : x + 8][glyph == 1] = 40.0
                x += 10
            x += 14
    return Image.fromarray(z.astype(np.uint8)).convert("RGB")


def test_a_straightened_page_of_text_is_found(tmp_path):
    scan = page(4)
    original = write(tmp_path / "original", d.encode(scan))
    straight = write(tmp_path / "straight", d.encode(d.straighten(scan, 4.8)))
    assert check(original, straight) == "rotated 5°"


@pytest.mark.parametrize("seed", [0, 1])
def test_frames_of_a_pan_over_a_texture_are_not_copies(tmp_path, seed):
    """A pan of 1-2% of the frame is a pixel or two at the check's scale: the best region
    stretches a little to stand in for the shift, and the frames then agree everywhere but
    along the side where one sees past the other."""
    scene = texture(seed, (700, 560), grain=4.0)
    subject = texture(seed + 10, (300, 200), grain=4.0)
    frames = d.pan_frames(scene, subject, 3, np.random.default_rng(seed))
    paths = [write(tmp_path / f"frame{k}", d.encode(f)) for k, f in enumerate(frames)]
    assert check(paths[0], paths[1]) is None
    assert check(paths[1], paths[2]) is None


def test_a_caption_along_the_bottom_is_an_overlay(tmp_path, gravel):
    captioned = gravel.copy()
    captioned.paste(page(8, (512, 40)), (0, 472))
    original = write(tmp_path / "original", d.encode(gravel))
    copy = write(tmp_path / "captioned", d.encode(captioned))
    assert check(original, copy) is not None
