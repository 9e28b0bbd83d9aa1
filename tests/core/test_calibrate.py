"""Self-calibrated thresholds: chosen from derivative vs distinct-photo cosines, cached per model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from photofind.core.match import calibrate as cal
from photofind.core.match import calsample, derivatives
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


class PhaseCounter:
    """Progress that notes how many images the embedder had embedded when each phase began,
    and can stop the scan after `stop_after` calibrated photos."""

    def __init__(self, embedder, stop_after: int | None = None):
        self.embedder, self.stop_after = embedder, stop_after
        self.at: dict[str, int] = {}
        self.calibrated = 0

    def update(self, phase, done, total):
        self.at.setdefault(phase, self.embedder.images_embedded)
        if phase == "calibrating":
            self.calibrated = done

    def is_cancelled(self):
        return self.stop_after is not None and self.calibrated >= self.stop_after


def test_the_read_pass_measures_the_sample_and_calibrating_reads_nothing(
    library_50, tmp_path, fake_embedder, monkeypatch
):
    settings = ScanSettings(roots=(str(library_50),), cache_path=str(tmp_path / "c.sqlite3"))
    phases = PhaseCounter(fake_embedder)
    real_read = calsample.read_regular
    monkeypatch.setattr(calsample, "read_regular", lambda path: pytest.fail(f"read {path} again"))
    with Cache(settings.cache_path) as cache:
        result = scan(settings, embedder=fake_embedder, cache=cache, progress=phases)
        photos = len(result.records)
        per_photo = len(derivatives.CALIBRATION)
        picks = calsample.sampled([r.path for r in result.records], calsample.sample_size(photos))
        assert result.calibration is not None
        assert phases.at["calibrating"] == photos + len(picks) * per_photo, "all embedded in the read pass"
        assert fake_embedder.images_embedded == phases.at["calibrating"], "calibrating embeds nothing"
        # Measured outside the read pass (file read and decoded again), the same cosines.
        monkeypatch.setattr(calsample, "read_regular", real_read)
        for record, vector in zip(result.records, result.embeddings):
            if record.path in picks:
                saved = calsample.saved_cosines(cache, fake_embedder.model.id, record.content_hash)
                again = calsample.measure(record.path, record.content_hash, vector, fake_embedder, None)
                assert saved is not None and len(saved) == per_photo
                np.testing.assert_allclose(saved, again, atol=1e-6)


def test_a_stopped_calibration_resumes_with_the_next_photo(library_50, tmp_path, fake_embedder):
    uncalibrated = ScanSettings(
        roots=(str(library_50),), cache_path=str(tmp_path / "c.sqlite3"), calibrate=False
    )
    settings = replace(uncalibrated, calibrate=True)
    with Cache(settings.cache_path) as cache:
        scan(uncalibrated, embedder=fake_embedder, cache=cache)  # cached: no read pass measures now
        stopped = scan(settings, embedder=fake_embedder, cache=cache, progress=PhaseCounter(fake_embedder, 3))
        assert stopped.cancelled and stopped.calibration is None
        before = fake_embedder.images_embedded
        resumed = scan(settings, embedder=fake_embedder, cache=cache)
    per_photo = len(derivatives.CALIBRATION)
    # The three photos measured before the stop are not measured again.
    assert (
        fake_embedder.images_embedded - before
        == (calsample.sample_size(len(resumed.records)) - 3) * per_photo
    )
    assert resumed.calibration is not None


def test_recompute_rule(library_50, tmp_path, fake_embedder):
    c = scan(
        ScanSettings(roots=(str(library_50),), cache_path=str(tmp_path / "c.sqlite3")), embedder=fake_embedder
    ).calibration
    assert cal.still_valid(c, round(c.photos * 1.25), c.target_precision)
    assert not cal.still_valid(c, round(c.photos * 1.3), c.target_precision)
    assert not cal.still_valid(c, round(c.photos * 0.7), c.target_precision)
    assert not cal.still_valid(c, c.photos, 0.999), "another target precision"


def test_a_grown_library_recalibrates_measuring_only_photos_new_to_the_sample(tmp_path, fake_embedder):
    root = tmp_path / "grows"
    for k in range(48):
        factory.save(factory.make_scene(400 + k, (160, 120)), root / f"old{k:02d}.jpg")
    settings = ScanSettings(roots=(str(root),), cache_path=str(tmp_path / "c.sqlite3"))
    with Cache(settings.cache_path) as cache:
        first = scan(settings, embedder=fake_embedder, cache=cache)
        old_picks = set(calsample.sampled([r.path for r in first.records], calsample.sample_size(48)))
        for k in range(24):  # half as many again: past the 25% rule
            factory.save(factory.make_scene(500 + k, (160, 120)), root / f"new{k:02d}.jpg")
        phases = PhaseCounter(fake_embedder)
        before = fake_embedder.images_embedded
        second = scan(settings, embedder=fake_embedder, cache=cache, progress=phases)
    new_picks = set(calsample.sampled([r.path for r in second.records], calsample.sample_size(72)))
    assert second.calibration is not None and second.calibration.photos == 72
    assert old_picks & new_picks, "most of the old sample stays"
    measured = fake_embedder.images_embedded - before - 24  # minus the new photos themselves
    assert measured == len(new_picks - old_picks) * len(derivatives.CALIBRATION)
    assert phases.at["calibrating"] == fake_embedder.images_embedded, "all of it in the read pass"


def test_the_sample_is_stable_as_a_library_grows_and_holds_a_subfolders_share():
    library = [f"/photos/{y}/img{k:04d}.jpg" for y in (2021, 2022) for k in range(500)]
    sample = calsample.sampled(library, 24)
    assert len(sample) == 24 and len(set(sample)) == 24
    grown = calsample.sampled(library + [f"/photos/2023/img{k:04d}.jpg" for k in range(100)], 24)
    assert len(set(sample) & set(grown)) >= 18, "new photos displace only a few"
    subfolder = [p for p in library if "/2021/" in p]
    assert {p for p in sample if "/2021/" in p} <= set(calsample.sampled(subfolder, 24))


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
