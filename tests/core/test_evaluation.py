"""Scoring against truth, and the derivative catalogue the evaluation set is made of."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.core.match import derivatives as d
from photofind.core.match import evaluation as ev
from tests import imagefactory as factory


def make_truth(tmp_path: Path) -> ev.Truth:
    """Two photos with derivatives (A: 3 files, B: 2 files + a mirror), and a burst scene of
    two different frames (C0, C1)."""
    files = {
        "a/original.jpg": ("A", "original", "same", "A"),
        "a/resize50.jpg": ("A", "resize50", "edit", "A"),
        "a/crop.jpg": ("A", "crop90_centre", "edit", "A"),
        "b/original.jpg": ("B", "original", "same", "B"),
        "b/jpeg30.jpg": ("B", "jpeg30", "edit", "B"),
        "b/mirror.jpg": ("B", "mirror", "mirrored", "B"),
        "c/frame0.jpg": ("C#0", "original", "same", "C"),
        "c/frame1.jpg": ("C#1", "original", "same", "C"),
    }
    doc = {
        "root": str(tmp_path),
        "files": {p: dict(zip(("source", "transform", "kind", "family"), v)) for p, v in files.items()},
    }
    path = tmp_path / "truth.json"
    path.write_text(json.dumps(doc))
    return ev.Truth.load(path)


def p(tmp_path: Path, rel: str) -> str:
    return str(tmp_path / rel)


def test_perfect_grouping_scores_one(tmp_path):
    truth = make_truth(tmp_path)
    groups = [
        ("near", [p(tmp_path, "a/original.jpg"), p(tmp_path, "a/resize50.jpg"), p(tmp_path, "a/crop.jpg")]),
        ("near", [p(tmp_path, "b/original.jpg"), p(tmp_path, "b/jpeg30.jpg")]),
        ("similar", [p(tmp_path, "c/frame0.jpg"), p(tmp_path, "c/frame1.jpg")]),
    ]
    s = ev.score_groups(truth, groups)
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    assert s.true_pairs == 4  # 3 in A, 1 in B; the mirror is outside the default subset
    assert s.hard_negative_pairs == 1 and s.hard_negatives_merged == 0 and s.hard_negatives_similar == 1
    assert (s.sources, s.groups_exact) == (2, 2)
    assert s.recall_by_transform == {"crop90_centre": 1.0, "jpeg30": 1.0, "resize50": 1.0}


def test_wrong_merge_and_missed_copy(tmp_path):
    truth = make_truth(tmp_path)
    groups = [
        ("near", [p(tmp_path, "a/original.jpg"), p(tmp_path, "a/resize50.jpg")]),
        ("near", [p(tmp_path, "c/frame0.jpg"), p(tmp_path, "c/frame1.jpg")]),
        ("exact", [p(tmp_path, "b/original.jpg"), p(tmp_path, "b/jpeg30.jpg")]),
    ]
    s = ev.score_groups(truth, groups)
    assert s.correct_pairs == 2 and s.predicted_pairs == 3
    assert s.precision == pytest.approx(2 / 3)
    assert s.recall == pytest.approx(2 / 4)
    assert s.hard_negatives_merged == 1
    assert s.recall_by_transform["crop90_centre"] == 0.0
    assert s.groups_exact == 1  # B only


def test_similar_tier_is_not_a_duplicate_claim(tmp_path):
    truth = make_truth(tmp_path)
    groups = [("similar", [p(tmp_path, "a/original.jpg"), p(tmp_path, "a/resize50.jpg")])]
    s = ev.score_groups(truth, groups)
    assert s.predicted_pairs == 0 and s.recall == 0.0 and s.precision == 1.0
    assert ev.score_groups(truth, groups, tiers=ev.ALL_TIERS).correct_pairs == 1


def test_rotated_files_count_only_in_the_everything_subset(tmp_path):
    truth = make_truth(tmp_path)
    pairs = [(p(tmp_path, "b/original.jpg"), p(tmp_path, "b/mirror.jpg"))]
    assert ev.score_pairs(truth, pairs).predicted_pairs == 0
    s = ev.score_pairs(truth, pairs, subset=ev.everything)
    assert s.correct_pairs == 1 and s.recall_by_transform["mirror"] == 1.0


def test_reads_the_scan_json_contract(tmp_path):
    truth = make_truth(tmp_path)
    report = {
        "groups": [
            {
                "tier": "near",
                "files": [
                    {"path": p(tmp_path, "b/original.jpg")},
                    {"path": p(tmp_path, "b/jpeg30.jpg")},
                    {"path": "/elsewhere/not-in-truth.jpg"},
                ],
            }
        ]
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    groups = ev.report_groups(path)
    assert groups == ev.report_groups(report)
    s = ev.score_groups(truth, groups)
    assert s.correct_pairs == 1 and s.predicted_pairs == 1  # files outside the truth are ignored


# -- the derivative catalogue -------------------------------------------------------------


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return factory.make_scene(5, (320, 240))


def test_every_transform_makes_a_decodable_file(photo):
    assert len(d.TRANSFORMS) >= 30
    for spec in d.TRANSFORMS:
        data, ext = d.make(spec.name, photo, seed=3)
        assert ext in ("jpg", "png", "webp")
        im = d.decode(data)
        assert min(im.size) >= 8, spec.name
        assert spec.kind in ("same", "edit", "tilted", "rotated", "mirrored")


def test_same_kind_transforms_keep_the_decoded_pixels(photo):
    original = np.asarray(d.decode(d.encode(photo)[0]))
    for spec in d.TRANSFORMS:
        if spec.kind == "same":
            data, _ = d.make(spec.name, photo)
            assert np.array_equal(np.asarray(d.decode(data)), original), spec.name
    assert d.make("copy", photo)[0] == d.encode(photo)[0]


def test_geometric_transforms_change_size_as_stated(photo):
    assert d.decode(d.make("resize50", photo)[0]).size == (160, 120)
    assert d.decode(d.make("crop75_centre", photo)[0]).size == (240, 180)
    assert d.decode(d.make("rotate90", photo)[0]).size == (240, 320)
    w, h = d.decode(d.make("letterbox", photo)[0]).size
    assert h == 240 and w == round(240 * 16 / 9)


def test_burst_frames_are_different_views_of_one_scene():
    big = factory.make_scene(6, (1200, 900))
    frames = d.burst_frames(big, 3, np.random.default_rng(0), out_long_side=400)
    assert len(frames) == 3
    arrays = [np.asarray(f.resize((64, 48)), dtype=np.float32) for f in frames]
    assert all(max(f.size) == 400 for f in frames)
    diff = np.abs(arrays[0] - arrays[1]).mean()
    assert diff > 3.0  # not the same picture...
    corr = np.corrcoef(arrays[0].ravel(), arrays[1].ravel())[0, 1]
    assert corr > 0.5  # ...but the same scene


def test_keeper_score_counts_groups_that_hold_the_original(tmp_path):
    import json as _json

    from photofind.core.match import evaluation as ev

    files = {
        "a/original.jpg": {"source": "a", "transform": "original", "kind": "same", "family": "a"},
        "a/copy.jpg": {"source": "a", "transform": "copy", "kind": "same", "family": "a"},
        "a/noise.jpg": {"source": "a", "transform": "noise", "kind": "edit", "family": "a"},
        "b/original.jpg": {"source": "b", "transform": "original", "kind": "same", "family": "b"},
        "b/letterbox.jpg": {"source": "b", "transform": "letterbox", "kind": "edit", "family": "b"},
        "c/resize50.jpg": {"source": "c", "transform": "resize50", "kind": "edit", "family": "c"},
        "c/jpeg30.jpg": {"source": "c", "transform": "jpeg30", "kind": "edit", "family": "c"},
    }
    (tmp_path / "truth.json").write_text(_json.dumps({"root": str(tmp_path), "files": files}))
    truth = ev.Truth.load(tmp_path / "truth.json")

    def group(keep, *paths, tier="near"):
        return {
            "tier": tier,
            "keep": str(tmp_path / keep),
            "files": [{"path": str(tmp_path / p)} for p in paths],
        }

    report = {
        "groups": [
            group("a/copy.jpg", "a/copy.jpg", "a/original.jpg", "a/noise.jpg"),  # a byte copy: fine
            group("b/letterbox.jpg", "b/letterbox.jpg", "b/original.jpg"),  # the original trashed
            group("c/jpeg30.jpg", "c/jpeg30.jpg", "c/resize50.jpg"),  # no original: not counted
            group("a/noise.jpg", "a/noise.jpg", "a/original.jpg", tier="similar"),  # not a duplicate tier
        ]
    }
    score = ev.score_keepers(truth, report)
    assert (score.groups, score.original_kept, score.kept_instead) == (2, 1, {"letterbox": 1})
    assert score.rate == 0.5


def test_frame_pairs_in_a_tier_are_counted():
    from photofind.core.match import evaluation as ev

    def t(source, family):
        return ev.FileTruth(source, "original", "same", family)

    truth = ev.Truth(
        {
            "/f/0.jpg": t("m#0", "frames-move-x"),
            "/f/1.jpg": t("m#1", "frames-move-x"),
            "/f/2.jpg": t("m#2", "frames-move-x"),
            "/o/a.jpg": t("a", "a"),
        }
    )
    groups = [("near", ["/f/0.jpg", "/f/1.jpg"]), ("similar", ["/f/1.jpg", "/f/2.jpg"])]
    assert ev.frame_pairs(truth, groups, ("near",)) == (3, 1)
