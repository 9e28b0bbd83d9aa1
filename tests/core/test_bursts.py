"""The best shot of a burst: sharpest among the well exposed frames, with its reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from photofind.core.cleanup.keep import KeeperPolicy, apply_policy
from photofind.core.match import verify
from photofind.core.match.bursts import (
    BEST_EXPOSED,
    SHARPEST,
    best_of,
    best_shot,
    clipped_share,
    sharpness,
)
from photofind.core.match.grouping import group_records
from photofind.core.report import group_as_json
from photofind.core.types import ScanResult, ScanSettings, Thresholds, Tier
from tests import cleanupkit
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


# -- the best shot of a burst group, from the pixel check's details ------------------------------


def _burst(tmp_path, monkeypatch):
    """Three frames of one scene, one camera, a second apart; the middle one crisp, the others
    blurred by motion. The stand-in pixel check says no two are the same photo (they are not)."""
    verify.clear_caches()
    monkeypatch.setattr(verify, "compare", lambda *a, **k: None)
    monkeypatch.setattr(verify, "same_pixels", lambda *a, **k: False)
    scene = factory.make_scene(7, (320, 240))
    frames = [scene.filter(ImageFilter.GaussianBlur(3)), scene, scene.filter(ImageFilter.GaussianBlur(2))]
    records = []
    for k, im in enumerate(frames):
        taken = f"2024:05:01 10:00:0{k}"
        path = factory.with_exif(im, tmp_path / f"frame{k}.jpg", taken, "Acme", "Snap 1")
        rec = cleanupkit.record(path, taken=f"2024-05-01T10:00:0{k}")
        records.append(replace(rec, facts=replace(rec.facts, camera="Acme Snap 1")))
    angle = np.arccos(0.9)  # close enough for one similar group, far from a duplicate
    emb = np.array(
        [[1, 0, 0], [np.cos(angle), np.sin(angle), 0], [np.cos(angle), 0, np.sin(angle)]], np.float32
    )
    return records, emb


def test_a_burst_group_keeps_its_sharpest_frame_and_says_why(tmp_path, monkeypatch):
    records, emb = _burst(tmp_path, monkeypatch)
    (group,) = group_records(records, emb, Thresholds(near=0.95, similar=0.6))
    assert group.tier is Tier.SIMILAR and "burst" in group.why
    assert group.best_shot == 1 and group.keep_index == 1  # the crisp frame, not the largest-first pick
    assert group.best_shot_reason == SHARPEST
    # Similarities are to the best shot, the keeper: frame 0 at 0.9, frame 2 at 0.9 * 0.9.
    assert {m.index: m.similarity for m in group.members} == pytest.approx(
        {1: 1.0, 0: 0.9, 2: 0.81}, abs=1e-5
    )
    assert group.keep_reason == "best shot of the burst: sharpest"
    # The scan's keeper rules (applied after grouping) leave the suggestion where it is.
    (kept,) = apply_policy((group,), records, KeeperPolicy())
    assert kept.keep_index == 1 and kept.keep_reason == group.keep_reason
    (kept,) = apply_policy(
        (replace(group, best_shot=0, best_shot_reason=BEST_EXPOSED),), records, KeeperPolicy()
    )
    assert kept.keep_index == 0 and kept.keep_reason == "best shot of the burst: best exposed"


def test_a_blurred_frame_loses_in_any_order(tmp_path, monkeypatch):
    records, _ = _burst(tmp_path, monkeypatch)
    assert best_of(records, [0, 2, 1]) == (1, SHARPEST)
    assert best_of(records, [2, 1]) == (1, SHARPEST)


def test_no_suggestion_when_a_frame_cannot_be_read(tmp_path, monkeypatch):
    records, _ = _burst(tmp_path, monkeypatch)
    Path(records[1].path).unlink()
    verify.clear_caches()
    assert best_of(records, [0, 1, 2]) is None


def test_the_json_report_names_the_best_shot(tmp_path, monkeypatch):
    records, emb = _burst(tmp_path, monkeypatch)
    (group,) = group_records(records, emb, Thresholds(near=0.95, similar=0.6))
    out = group_as_json(_result(records, group), group)
    assert out["best_shot"] == records[1].path and out["best_shot_reason"] == SHARPEST
    plain = replace(group, best_shot=None, best_shot_reason="")
    assert group_as_json(_result(records, plain), plain)["best_shot"] is None


def _result(records, group) -> ScanResult:
    return ScanResult(ScanSettings(roots=("/",)), tuple(records), (), (group,), None)
