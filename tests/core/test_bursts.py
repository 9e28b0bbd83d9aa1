"""The best shot of a burst: sharpest among the well exposed frames, with its reason."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from photofind.core.match.bursts import BEST_EXPOSED, SHARPEST, best_shot, clipped_share, sharpness
from tests import imagefactory as factory


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), np.float32)


def test_blur_lowers_sharpness_and_overexposure_raises_clipping():
    scene = factory.make_scene(5, (256, 192))
    crisp, blurred = _gray(scene), _gray(scene.filter(ImageFilter.GaussianBlur(2)))
    assert sharpness(crisp) > 2 * sharpness(blurred)
    blown = np.clip(crisp * 1.8 + 40, 0, 255)
    assert clipped_share(blown) > clipped_share(crisp) + 0.2
    assert sharpness(np.zeros((2, 2))) == 0.0 and clipped_share(np.zeros((0, 0))) == 0.0


def test_the_sharpest_well_exposed_frame_wins():
    assert best_shot([10.0, 30.0, 20.0], [0.01, 0.01, 0.0]) == (1, SHARPEST)


def test_a_blown_frame_loses_to_a_well_exposed_one_even_if_crisper():
    # Frame 0 has the hardest edges because its highlights are clipped; frame 2 is exposed well.
    assert best_shot([50.0, 10.0, 30.0], [0.30, 0.01, 0.0]) == (2, BEST_EXPOSED)


def test_frames_must_match_figures():
    with pytest.raises(ValueError):
        best_shot([1.0], [])
