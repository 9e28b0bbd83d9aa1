"""Straightened copies are found by default; frames of a moving scene are not copies."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photofind.core.match import derivatives as d
from photofind.core.match import residual, verify
from tests import imagefactory as factory
from tests.core.test_verify import check, record, write


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return factory.make_scene(31, (720, 480))


@pytest.mark.parametrize("degrees", [-9.0, -3.0, 2.0, 7.0])
def test_straightened_copies_say_their_angle(tmp_path, scene, degrees):
    original = write(tmp_path / "original", d.encode(scene))
    straight = write(tmp_path / "straight", d.encode(d.straighten(scene, degrees)))
    (ra, ta), (rb, tb) = record(original), record(straight)
    verdict = verify.compare(ra, rb, ta, tb)
    assert verdict is not None
    assert verdict.reason == f"rotated {abs(degrees):.0f}°"
    assert verdict.inner == 1  # the straightened copy shows less than the original
    assert abs(abs(verdict.angle) - abs(degrees)) <= 0.6


def test_straightened_copy_that_was_resized_and_recompressed_matches(tmp_path, scene):
    original = write(tmp_path / "original", d.encode(scene))
    straight = write(tmp_path / "straight", d.encode(d.resize(d.straighten(scene, 4.0), 0.5), quality=60))
    assert check(original, straight) == "rotated 4°"


def test_a_tilted_copy_of_another_photo_is_not_matched(tmp_path, scene):
    other = factory.make_scene(32, (720, 480))
    a = write(tmp_path / "a", d.encode(scene))
    b = write(tmp_path / "b", d.encode(d.straighten(other, 5.0)))
    assert check(a, b) is None


def test_straighten_zoom_matches_the_editor_crop():
    assert verify.straighten_zoom(0.0, 1.5) == pytest.approx(1.0)
    assert verify.straighten_zoom(5.0, 1.5) == pytest.approx(
        1 / (np.cos(np.radians(5)) + 1.5 * np.sin(np.radians(5)))
    )
    assert verify.straighten_zoom(-5.0, 1.5) == verify.straighten_zoom(5.0, 1 / 1.5)


def test_frames_with_a_moving_subject_are_not_copies(tmp_path, scene):
    subject = factory.make_scene(33, (480, 360))
    frames = d.moving_subject_frames(scene, subject, 3, np.random.default_rng(4))
    paths = [write(tmp_path / f"frame{k}", d.encode(f)) for k, f in enumerate(frames)]
    assert check(paths[0], paths[1]) is None
    assert check(paths[1], paths[2]) is None


def _sun_over_a_flat_sky(sun_x: float) -> Image.Image:
    """A smooth sky with a sun high up, over a textured ground: the sun is the only thing in
    the top rows, so no agreeing textured block stands beside it."""
    w, h = 720, 480
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sky = np.stack([60 + 0.2 * yy, 120 + 0.2 * yy, 220 - 0.1 * yy], axis=-1)
    sun = ((xx - sun_x * w) ** 2 + (yy - 0.12 * h) ** 2) < (0.05 * w) ** 2
    sky[sun] = (255, 245, 220)
    ground = np.asarray(factory.make_scene(41, (w, h // 2)), np.float32)
    sky[h // 2 :] = ground
    return Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))


def test_a_subject_moving_across_a_flat_sky_is_another_moment(tmp_path):
    first = write(tmp_path / "first", d.encode(_sun_over_a_flat_sky(0.40)))
    later = write(tmp_path / "later", d.encode(_sun_over_a_flat_sky(0.52)))
    copy = write(tmp_path / "copy", d.encode(_sun_over_a_flat_sky(0.40), quality=60))
    assert check(first, later) is None
    assert check(first, copy) is not None


def test_a_watermark_is_an_overlay_not_motion(tmp_path, scene):
    original = write(tmp_path / "original", d.encode(scene))
    marked = write(tmp_path / "marked", d.make("watermark", scene))
    (ra, ta), (rb, tb) = record(original), record(marked)
    verdict = verify.compare(ra, rb, ta, tb)
    assert verdict is not None
    assert verdict.added in (-1, 1)  # if anything, the watermarked copy carries the addition


def test_local_change_reports_motion_and_overlay_separately():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, (128, 128)).astype(np.float32)
    same = base + rng.normal(0, 0.2, base.shape).astype(np.float32)
    assert not residual.local_change(base, same, (0.0, 0.0, 1.0, 1.0)).moved
    moved = same.copy()
    patch = base[40:72, 40:72].copy()
    moved[40:72, 40:72] = rng.normal(0, 1, (32, 32))  # the subject left this place ...
    moved[40:72, 52:84] = patch  # ... and is now 12 pixels to the right
    assert residual.local_change(base, moved, (0.0, 0.0, 1.0, 1.0)).moved
    overlay = same.copy()
    overlay[96:112, 64:112] += 4.0 * rng.normal(0, 1, (16, 48)).astype(np.float32)
    change = residual.local_change(base, overlay, (0.0, 0.0, 1.0, 1.0))
    assert not change.moved
    assert change.added == 0  # the inner (second) picture carries the addition


def _subject_at_the_edge(scene: Image.Image, subject: Image.Image, x: int) -> Image.Image:
    """The scene with a subject crossing its top edge: it lies in the outermost eighth of
    the picture, where a slightly wrong crop would also leave its mark."""
    frame = scene.copy()
    frame.paste(subject, (x, 4))
    return d.add_noise(frame, np.random.default_rng(x), 2.0)


def test_a_subject_moving_along_the_edge_is_another_moment(tmp_path, scene):
    subject = factory.make_scene(34, (200, 50))
    first = write(tmp_path / "first", d.encode(_subject_at_the_edge(scene, subject, 200)))
    later = write(tmp_path / "later", d.encode(_subject_at_the_edge(scene, subject, 260)))
    copy = write(tmp_path / "copy", d.encode(d.resize(_subject_at_the_edge(scene, subject, 200), 0.5)))
    assert check(first, later) is None
    assert check(first, copy) is not None
