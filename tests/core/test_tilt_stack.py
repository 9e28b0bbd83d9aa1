"""The straightening screen's turned views (verify._tilt_stack, one gather for all angles) are
the views PIL's affine transform gives, angle by angle; the detail high-pass (a banded blur)
is the one of the full blur matrix."""

from __future__ import annotations

import numpy as np
import pytest

from photofind.core.match import align, derivatives, verify
from photofind.core.match.detail import detail_of_image
from tests import imagefactory as factory
from tests.core.test_textures import texture


def pil_stack(detail) -> np.ndarray:
    """The stack as it was built before: one PIL transform per angle."""
    coarse = detail.pyramid.coarse
    textured = align.grid_stability(coarse) < verify.TEXTURE
    source = detail.gray if textured else coarse
    rows = []
    for deg in verify.TILTS:
        turned = verify.tilt(source, deg, detail.aspect, verify.straighten_zoom(deg, detail.aspect))
        rows.append(verify._unit(align.downsample(turned, align.COARSE)))
    return np.stack(rows)


@pytest.mark.parametrize("size", [(720, 480), (480, 640), (500, 500), (900, 300)])
def test_the_turned_views_of_a_photo_are_pils(size):
    detail = detail_of_image(factory.make_scene(7, size))
    assert align.grid_stability(detail.pyramid.coarse) >= verify.TEXTURE  # turned at 32 pixels
    verify.clear_caches()
    stack = verify._tilt_stack(detail)
    assert stack.shape == (len(verify.TILTS), align.COARSE**2)
    assert np.abs(stack - pil_stack(detail)).max() < 1e-3


@pytest.mark.parametrize("size", [(512, 512), (600, 400)])
def test_the_turned_views_of_a_texture_are_pils(size):
    detail = detail_of_image(texture(3, size))
    assert align.grid_stability(detail.pyramid.coarse) < verify.TEXTURE  # turned at 128 pixels
    verify.clear_caches()
    assert np.abs(verify._tilt_stack(detail) - pil_stack(detail)).max() < 1e-3


def test_each_view_is_turned_the_right_way():
    """A wrong sign or axis would still give unit rows: the best match of a photo turned by
    5 degrees must be the view at 5 degrees."""
    scene = factory.make_scene(9, (720, 480))
    detail = detail_of_image(scene)
    straightened = detail_of_image(derivatives.straighten(scene, 5.0))
    verify.clear_caches()
    scores = verify._tilt_stack(detail) @ verify._unit(straightened.pyramid.coarse)
    assert verify.TILTS[int(np.argmax(scores))] == 5.0
    assert scores.max() > verify.TILT_COARSE_GATE


@pytest.mark.parametrize("n", [32, 64, 128])
def test_the_banded_high_pass_is_the_full_blurs(n):
    z = np.random.default_rng(n).uniform(0, 255, (n, n)).astype(np.float32)
    x = np.arange(n)
    k = np.exp(-0.5 * ((x[:, None] - x[None, :]) / 2.0) ** 2)
    blur = k / k.sum(axis=1, keepdims=True)
    assert np.abs(align.detail(z) - (z - blur @ z @ blur.T)).max() < 1e-3
