"""Self-calibrated thresholds: chosen from derivative vs distinct-photo cosines, cached per model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from photofind.core.match import calibrate as cal
from photofind.core.pipeline import scan
from photofind.core.report import result_as_json
from photofind.core.scan.cache import Cache
from photofind.core.types import ScanSettings, Thresholds
from tests import imagefactory as factory


def test_separable_model_gets_a_threshold_between_the_distributions():
    rng = np.random.default_rng(0)
    pos = np.clip(rng.normal(0.95, 0.015, 400), -1, 1)
    neg = np.clip(rng.normal(0.40, 0.08, 50_000), -1, 1)
    c = cal.choose(pos, neg, library_size=5000)
    assert neg.max() < c.similar < np.quantile(pos, 0.2)
    assert c.estimated_precision >= 0.99
    assert c.near <= c.similar
    assert c.near_recall >= 0.98
    assert c.thresholds == Thresholds(near=c.near, similar=c.similar)


def test_bigger_library_needs_a_stricter_threshold():
    rng = np.random.default_rng(1)
    pos = np.clip(rng.normal(0.9, 0.04, 400), -1, 1)
    neg = np.clip(rng.normal(0.3, 0.1, 50_000), -1, 1)
    small = cal.choose(pos, neg, library_size=500)
    large = cal.choose(pos, neg, library_size=500_000)
    assert small.estimated_precision >= 0.99
    assert large.similar > small.similar + 0.05


def test_inseparable_model_reports_its_low_precision():
    rng = np.random.default_rng(2)
    pos = rng.normal(0.99, 0.005, 300)
    neg = rng.normal(0.99, 0.005, 20_000)
    c = cal.choose(pos, neg, library_size=2000)
    assert c.estimated_precision < 0.5  # honest: random weights cannot separate


def test_tail_rate_counts_then_extrapolates():
    neg = np.random.default_rng(3).normal(0.0, 0.1, 100_000)
    rates = cal.tail_rate(neg, np.array([-0.5, 0.0, 0.2, 0.4, 0.6]))
    assert rates[0] == pytest.approx(1.0, abs=1e-3)
    assert rates[1] == pytest.approx(0.5, abs=0.01)
    assert np.all(np.diff(rates) < 0)
    assert 0 < rates[-1] < 1e-5  # beyond the sample's maximum, yet never zero


def test_round_trip_and_garbage():
    c = cal.choose(np.full(10, 0.9), np.linspace(0, 0.5, 1000), 100, model_id="m")
    assert cal.Calibration.from_bytes(c.to_bytes()) == c
    assert cal.Calibration.from_bytes(b"not json") is None
    assert cal.Calibration.from_bytes(json.dumps({"model_id": "m"}).encode()) is None


@pytest.fixture(scope="module")
def library_50(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cal") / "photos"
    for k in range(48):
        factory.save(factory.make_scene(200 + k, (160, 120)), root / f"p{k:02d}.jpg")
    return root


def test_calibration_is_learned_once_and_cached(library_50, tmp_path, fake_embedder):
    settings = ScanSettings(roots=(str(library_50),), cache_path=str(tmp_path / "c.sqlite3"))
    with Cache(settings.cache_path) as cache:
        first = scan(settings, embedder=fake_embedder, cache=cache)
        assert first.calibration is not None
        assert first.calibration.model_id == fake_embedder.model.id
        assert first.settings.thresholds == first.calibration.thresholds  # used for grouping
        assert (
            cal.Calibration.from_bytes(
                cache.get_blob(cal.NAMESPACE, f"{fake_embedder.model.id}@{library_50}")
            )
            == first.calibration
        )
        embedded = fake_embedder.images_embedded
        second = scan(settings, embedder=fake_embedder, cache=cache)
    assert second.calibration == first.calibration
    assert fake_embedder.images_embedded == embedded  # neither photos nor derivatives again
    doc = result_as_json(second)
    assert doc["thresholds"] == {"near": first.calibration.near, "similar": first.calibration.similar}
    assert doc["calibration"]["estimated_precision"] == pytest.approx(
        first.calibration.estimated_precision, abs=1e-6
    )


def test_recompute_rule_and_resume_after_a_stop(library_50, tmp_path, fake_embedder):
    settings = ScanSettings(roots=(str(library_50),), cache_path=str(tmp_path / "c.sqlite3"))

    class StopAfterThreePhotos:
        def __init__(self):
            self.calibrated = 0

        def update(self, phase, done, total):
            if phase == "calibrating":
                self.calibrated = done

        def is_cancelled(self):
            return self.calibrated >= 3

    with Cache(settings.cache_path) as cache:
        stopped = scan(settings, embedder=fake_embedder, cache=cache, progress=StopAfterThreePhotos())
        assert stopped.cancelled and stopped.calibration is None
        before = fake_embedder.images_embedded
        resumed = scan(settings, embedder=fake_embedder, cache=cache)
    per_photo = len(cal.derivatives.CALIBRATION)
    # The three photos measured before the stop are not measured again.
    assert fake_embedder.images_embedded - before == (cal.sample_size(len(resumed.records)) - 3) * per_photo
    c = resumed.calibration
    assert cal.still_valid(c, round(c.photos * 1.25), c.target_precision)
    assert not cal.still_valid(c, round(c.photos * 1.3), c.target_precision)
    assert not cal.still_valid(c, round(c.photos * 0.7), c.target_precision)


def test_explicit_threshold_skips_calibration(library_50, tmp_path, fake_embedder):
    settings = ScanSettings(
        roots=(str(library_50),),
        cache_path=str(tmp_path / "c.sqlite3"),
        thresholds=Thresholds(near=0.95, similar=0.9),
        calibrate=False,
    )
    result = scan(settings, embedder=fake_embedder)
    assert result.calibration is None
    assert result.settings.thresholds == Thresholds(near=0.95, similar=0.9)
    assert result_as_json(result)["calibration"] is None


def test_small_library_keeps_defaults(tmp_path, fake_embedder):
    root = tmp_path / "few"
    for k in range(5):
        factory.save(factory.make_scene(300 + k, (96, 72)), root / f"p{k}.jpg")
    result = scan(
        ScanSettings(roots=(str(root),), cache_path=str(tmp_path / "c.sqlite3")), embedder=fake_embedder
    )
    assert result.calibration is None
    assert result.settings.thresholds == Thresholds()


def test_summary_shows_thresholds_and_precision(library_50, tmp_path, fake_embedder):
    from photofind.commands.scan import thresholds_line

    result = scan(
        ScanSettings(roots=(str(library_50),), cache_path=str(tmp_path / "c.sqlite3")), embedder=fake_embedder
    )
    line = thresholds_line(result)
    assert f"{result.settings.thresholds.near:.4f}" in line
    assert "estimated precision" in line and "calibrated" in line
