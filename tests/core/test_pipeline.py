"""The scan engine end to end on a generated library (fake embedder: fast and deterministic)."""

import json

import numpy as np
import pytest

from photofind.core.pipeline import scan
from photofind.core.report import result_as_json
from photofind.core.scan.cache import Cache
from photofind.core.types import ScanSettings, Tier
from tests.storekit import damage_schema_page

DUPLICATE_TIERS = {Tier.EXACT, Tier.PIXELS, Tier.NEAR}


def _settings(library, cache_path, **kw):
    return ScanSettings(roots=(str(library["root"]),), cache_path=str(cache_path), **kw)


def _dup_groups(result):
    return [{result.records[i].path for i in g.indices} for g in result.groups if g.tier in DUPLICATE_TIERS]


def test_groups_and_skips(library, cache_path, fake_embedder):
    result = scan(_settings(library, cache_path), embedder=fake_embedder)
    expected = [{str(p) for p in s} for s in library["expected_groups"]]
    groups = _dup_groups(result)
    for want in expected:
        assert want in groups, f"missing group {want}; got {groups}"
    singles = {str(library["paths"][k]) for k in "DEF"}
    assert not any(g & singles for g in groups), "unrelated photos must not be grouped as duplicates"
    reasons = {s.path: s.reason.value for s in result.skipped}
    assert reasons == {str(p): r for r, p in library["bad"].items()}
    assert result.stats.files_found == 11 + len(library["bad"])
    assert result.model.id == "fake/lowres-v1"
    assert result.embeddings.shape == (11, 512)
    assert result.thumbs.shape == (11, 32, 32) and result.thumbs.any()


def test_byte_copies_form_an_exact_group_without_other_files(tmp_path, cache_path, fake_embedder):
    from tests import imagefactory as f

    a = f.save(f.make_scene(1), tmp_path / "lib" / "a.jpg")
    f.copy(a, tmp_path / "lib" / "a2.jpg")
    f.save(f.make_scene(2), tmp_path / "lib" / "b.jpg")
    result = scan(
        ScanSettings(roots=(str(tmp_path / "lib"),), cache_path=str(cache_path)), embedder=fake_embedder
    )
    exact = [g for g in result.groups if g.tier == Tier.EXACT]
    assert len(exact) == 1 and len(exact[0].members) == 2
    assert exact[0].min_similarity == 1.0


def test_rescan_reads_nothing_and_gives_the_same_groups(library, cache_path, fake_embedder):
    first = scan(_settings(library, cache_path), embedder=fake_embedder)
    embedded_before = fake_embedder.images_embedded
    second = scan(_settings(library, cache_path), embedder=fake_embedder)
    assert fake_embedder.images_embedded == embedded_before, "a rescan must embed nothing"
    assert second.stats.decoded == 0 and second.stats.embedded == 0
    assert _dup_groups(first) == _dup_groups(second)
    assert np.array_equal(first.embeddings, second.embeddings)


def test_byte_identical_copy_reuses_the_embedding(library, cache_path, fake_embedder):
    result = scan(_settings(library, cache_path), embedder=fake_embedder)
    # 11 readable files, one of them a byte copy of another: only 10 inferences.
    assert fake_embedder.images_embedded == 10
    assert result.stats.reused_embeddings >= 1


def test_changed_file_is_read_again(library, cache_path, fake_embedder):
    scan(_settings(library, cache_path), embedder=fake_embedder)
    from tests import imagefactory as f

    f.save(f.make_scene(77), library["paths"]["D"])
    second = scan(_settings(library, cache_path), embedder=fake_embedder)
    assert second.stats.decoded == 1


def test_corrupt_cache_is_rebuilt_and_scan_succeeds(library, cache_path, fake_embedder):
    Cache(cache_path).close()
    damage_schema_page(cache_path)
    result = scan(_settings(library, cache_path), embedder=fake_embedder)
    assert result.warnings and "moved" in result.warnings[0]
    assert len(result.records) == 11


class CancelAfter:
    """Cancels once `n` files have been processed in the read/embed phase (the five bad
    files sort first, so n must exceed them for any photo to be finished)."""

    def __init__(self, n):
        self.n, self.cancelled, self.phases, self.reports = n, False, [], []

    def update(self, phase, done, total):
        self.phases.append(phase)
        self.reports.append((phase, done, total))
        if phase in ("reading", "embedding") and done >= self.n:
            self.cancelled = True

    def is_cancelled(self):
        return self.cancelled


def test_cancelled_scan_keeps_finished_work_and_resumes(library, cache_path, fake_embedder):
    settings = _settings(library, cache_path, batch_size=2)
    partial = scan(settings, embedder=fake_embedder, progress=CancelAfter(9), workers=1)
    assert partial.cancelled
    assert partial.groups == ()
    with Cache(cache_path) as cache:
        kept = cache.stats()["embeddings"]
    assert kept >= 2, "finished batches must be committed"
    embedded_first = fake_embedder.images_embedded
    resumed = scan(settings, embedder=fake_embedder)
    assert not resumed.cancelled
    assert resumed.stats.from_cache >= kept
    assert fake_embedder.images_embedded - embedded_first <= 10 - kept
    assert len(resumed.records) == 11


def test_progress_reports_phases_in_order(library, cache_path, fake_embedder):
    seen = CancelAfter(10**9)
    scan(_settings(library, cache_path), embedder=fake_embedder, progress=seen)
    order = list(dict.fromkeys(seen.phases))
    assert order[0] == "finding files"
    assert order.index("embedding") < order.index("verifying") < order.index("grouping")
    # Honest counts: done never passes total, and no placeholder "0 of 1" stands in for a phase.
    assert all(total is None or 0 <= done <= total for _, done, total in seen.reports)
    assert ("grouping", 0, 1) not in seen.reports


def test_verification_reports_pairs_checked_of_total(library, cache_path, fake_embedder):
    seen = CancelAfter(10**9)
    scan(_settings(library, cache_path), embedder=fake_embedder, progress=seen)
    verifying = [(done, total) for phase, done, total in seen.reports if phase == "verifying"]
    assert verifying[0][0] == 0 and verifying[-1][0] == verifying[-1][1] > 1
    assert len({total for _, total in verifying}) == 1
    again = CancelAfter(10**9)
    scan(_settings(library, cache_path), embedder=fake_embedder, progress=again)
    assert "verifying" not in again.phases  # every verdict came from the cache


def test_without_weights_exact_duplicates_are_still_found(library, cache_path):
    result = scan(_settings(library, cache_path))  # no injected embedder, no weights, no network
    assert result.model is None
    assert "weights" in result.model_problem and "--weights" in result.model_problem
    exact_pair = {str(library["paths"]["A"]), str(library["paths"]["A_copy"])}
    assert any(exact_pair <= g for g in _dup_groups(result))


def test_json_contract(library, cache_path, fake_embedder):
    doc = json.loads(json.dumps(result_as_json(scan(_settings(library, cache_path), embedder=fake_embedder))))
    assert doc["version"] == 1
    assert doc["model"]["id"] == "fake/lowres-v1"
    assert doc["files_scanned"] == 11 + len(library["bad"])
    assert {s["reason"] for s in doc["skipped"]} == set(library["bad"])
    assert doc["groups"]
    for g in doc["groups"]:
        assert {"id", "tier", "keep", "files"} <= set(g)
        assert g["tier"] in {"exact", "pixels", "near", "similar"}
        assert len(g["files"]) >= 2
        assert g["keep"] in [f["path"] for f in g["files"]]
        for f in g["files"]:
            assert {"path", "similarity", "bytes", "width", "height", "taken", "camera"} <= set(f)
            assert f["path"].startswith("/")


@pytest.mark.slow
def test_real_resnet_random_weights_end_to_end(library, cache_path, random_resnet):
    result = scan(_settings(library, cache_path), embedder=random_resnet)
    assert result.model.id == "resnet34/random(seed=0)"
    norms = np.linalg.norm(result.embeddings, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-4)
    # The same pixels decoded from an EXIF-rotated file embed like the original.
    idx = {r.path: i for i, r in enumerate(result.records)}
    a, rot = idx[str(library["paths"]["A"])], idx[str(library["paths"]["A_rot"])]
    assert float(result.embeddings[a] @ result.embeddings[rot]) > 0.99
