"""Decode once, verdicts as data: the read pass caches what the pixel check needs, and a
rescan answers from the cache instead of opening photo files or re-running checks."""

import builtins
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.core.match import detail, grouping, phash_index, verdicts, verify
from photofind.core.pipeline import scan
from photofind.core.scan import imageio
from photofind.core.scan.cache import Cache
from photofind.core.types import ScanSettings, Tier
from tests import imagefactory as factory


def _settings(library, cache_path):
    return ScanSettings(roots=(str(library["root"]),), cache_path=str(cache_path))


def _groups(result):
    return [
        (g.tier, tuple(result.records[m.index].path for m in g.members), g.why, round(g.min_similarity, 9))
        for g in result.groups
    ]


class CountingChecks:
    """Wraps verify.compare (what grouping runs): which content-hash pairs were really checked."""

    def __init__(self, monkeypatch):
        self.pairs = []
        real = verify.compare

        def counted(a, b, *args, **kw):
            self.pairs.append((a.content_hash, b.content_hash))
            return real(a, b, *args, **kw)

        monkeypatch.setattr(verify, "compare", counted)


def _forbid_photo_files(monkeypatch, root: Path):
    """Any attempt to open or decode a file under `root` fails the test."""
    real_open = builtins.open
    inside = str(root)

    def guarded_open(file, *args, **kw):
        if isinstance(file, (str, Path)) and str(file).startswith(inside):
            raise AssertionError(f"opened a photo file: {file}")
        return real_open(file, *args, **kw)

    def no_decoding(*args, **kw):
        raise AssertionError("decoded a photo")

    monkeypatch.setattr(builtins, "open", guarded_open)
    for name in ("decode_file", "decode_bytes"):
        monkeypatch.setattr(imageio, name, no_decoding)
    monkeypatch.setattr(verify, "decode_digest", no_decoding)


def test_warm_rescan_opens_no_photo_file_and_groups_identically(
    library, cache_path, fake_embedder, monkeypatch
):
    cold = scan(_settings(library, cache_path), embedder=fake_embedder)
    assert any(len(g.members) > 1 for g in cold.groups)
    verify.clear_caches()
    checks = CountingChecks(monkeypatch)
    _forbid_photo_files(monkeypatch, library["root"])
    warm = scan(_settings(library, cache_path), embedder=fake_embedder)
    assert _groups(warm) == _groups(cold)
    assert checks.pairs == []  # every verdict came from the cache
    assert warm.stats.decoded == 0


def test_warm_rescan_without_a_model_opens_no_photo_file(library, cache_path, monkeypatch):
    settings = ScanSettings(roots=(str(library["root"]),), cache_path=str(cache_path), embed=False)
    cold = scan(settings)
    verify.clear_caches()
    _forbid_photo_files(monkeypatch, library["root"])
    assert _groups(scan(settings)) == _groups(cold)


def test_details_are_cached_compactly(library, cache_path, fake_embedder):
    result = scan(_settings(library, cache_path), embedder=fake_embedder)
    with Cache(cache_path) as cache:
        stored = cache.details_for_hashes([r.content_hash for r in result.records], detail.DETAIL_FORMAT)
    assert len(stored) == len({r.content_hash for r in result.records})
    assert max(len(v) for v in stored.values()) <= 8 * 1024
    # The cached detail is the one detail_of_image makes, to within the stored gray levels.
    record = next(r for r in result.records if r.path.endswith("b.jpg"))
    fresh = detail.detail_of_image(imageio.decode_file(record.path, min_side=224).image)
    back = detail.detail_from_bytes(stored[record.content_hash])
    assert back.bordered == fresh.bordered and back.aspect == pytest.approx(fresh.aspect)
    assert np.abs(back.gray - fresh.gray).max() <= 2.0
    assert back.prepared is None and back.pyramid is not None  # built when the alignment needs it


def test_detail_round_trip_keeps_every_field():
    scene = factory.make_scene(5)
    boxed = Image.new("RGB", (480, 480))
    boxed.paste(scene, (0, 60))
    made = detail.detail_of_image(boxed)
    back = detail.detail_from_bytes(detail.detail_to_bytes(made))
    assert back.bordered and back.aspect == pytest.approx(made.aspect)
    assert detail.detail_from_bytes(b"garbage") is None


def test_adding_photos_checks_only_pairs_with_the_new_ones(library, cache_path, fake_embedder, monkeypatch):
    scan(_settings(library, cache_path), embedder=fake_embedder)
    checks = CountingChecks(monkeypatch)
    new = factory.save(
        factory.make_scene(22).resize((300, 225), Image.Resampling.LANCZOS),
        library["root"] / "new" / "b_again.jpg",
    )
    result = scan(_settings(library, cache_path), embedder=fake_embedder)
    new_hash = next(r.content_hash for r in result.records if r.path == str(new))
    assert checks.pairs, "the new copy of B must be checked"
    assert all(new_hash in pair for pair in checks.pairs)
    assert any(str(new) in {result.records[m.index].path for m in g.members} for g in result.groups)


def test_bumping_the_verifier_version_invalidates_cached_verdicts(
    library, cache_path, fake_embedder, monkeypatch
):
    scan(_settings(library, cache_path), embedder=fake_embedder)
    checks = CountingChecks(monkeypatch)
    scan(_settings(library, cache_path), embedder=fake_embedder)
    assert checks.pairs == []
    monkeypatch.setattr(verify, "VERIFIER_VERSION", verify.VERIFIER_VERSION + 1)
    scan(_settings(library, cache_path), embedder=fake_embedder)
    assert checks.pairs, "verdicts of the old verifier must not be reused"
    with Cache(cache_path) as cache:
        versions = {v for (v,) in cache._db.execute("SELECT DISTINCT verifier FROM verdicts")}
    assert versions == {verify.VERIFIER_VERSION}


def test_a_stopped_verification_keeps_its_verdicts(library, cache_path, fake_embedder, monkeypatch):
    monkeypatch.setattr(verdicts, "SAVE_EVERY", 1)

    class StopWhileVerifying:
        def update(self, phase, done, total):
            self.stop = phase == "verifying" and done >= 1

        def is_cancelled(self):
            return getattr(self, "stop", False)

    stopped = scan(_settings(library, cache_path), embedder=fake_embedder, progress=StopWhileVerifying())
    assert stopped.cancelled
    with Cache(cache_path) as cache:
        saved = cache.stats()["verdicts"]
    assert saved >= 1
    checks = CountingChecks(monkeypatch)
    scan(_settings(library, cache_path), embedder=fake_embedder)
    with Cache(cache_path) as cache:
        assert cache.stats()["verdicts"] == saved + len(checks.pairs)


def test_the_slider_regroups_without_opening_a_photo_file(library, cache_path, fake_embedder, monkeypatch):
    result = scan(_settings(library, cache_path), embedder=fake_embedder)
    verify.clear_caches()
    _forbid_photo_files(monkeypatch, library["root"])
    regrouper = grouping.Regrouper.from_result(result)  # opens the scan's cache itself
    t = result.settings.thresholds
    members = lambda groups: sorted(sorted(m.index for m in g.members) for g in groups)  # noqa: E731
    assert members(regrouper.group(t)) == members(result.groups)
    for near in (t.near - 0.04, min(0.999, t.near + 0.02)):
        regrouper.group(type(t)(near=near, similar=t.similar))


def test_a_warm_rescan_takes_the_trees_from_the_cache_and_reads_details_in_one_batch_otherwise(
    library, cache_path, monkeypatch
):
    from photofind.core.match import treememo

    settings = ScanSettings(roots=(str(library["root"]),), cache_path=str(cache_path), embed=False)
    cold = scan(settings)
    members = sum(len(g.members) for g in cold.groups if g.tier is not Tier.SIMILAR)
    assert members >= 6  # several groups, each with a derivation tree to infer
    verify.clear_caches()
    reads = []
    real = Cache.details_for_hashes

    def counted(self, hashes, detail_format):
        hashes = list(hashes)
        reads.append(len(hashes))
        return real(self, hashes, detail_format)

    monkeypatch.setattr(Cache, "details_for_hashes", counted)
    warm = scan(settings)
    assert _groups(warm) == _groups(cold)
    assert [g.derivation for g in warm.groups] == [g.derivation for g in cold.groups]
    assert sum(reads) == 0  # every tree remembered: no detail read, none decoded
    monkeypatch.setattr(treememo, "TREE_VERSION", treememo.TREE_VERSION + 1)  # the trees are stale
    verify.clear_caches()
    reads.clear()
    assert _groups(scan(settings)) == _groups(cold)
    assert len(reads) == 1 and reads[0] >= 4  # every tree's details in one query, not one each


def test_a_warm_rescan_takes_the_phash_candidates_from_the_cache(library, cache_path, monkeypatch):
    settings = ScanSettings(roots=(str(library["root"]),), cache_path=str(cache_path), embed=False)
    cold = scan(settings)
    searches = []
    for name in ("phash_candidates", "pairs_involving"):
        real = getattr(phash_index, name)

        def counted(*args, _real=real, _name=name, **kw):
            searches.append(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(phash_index, name, counted)
    assert _groups(scan(settings)) == _groups(cold)
    assert searches == []  # the same hashes: the last answer
    factory.save(factory.make_scene(77), library["root"] / "new" / "g.jpg")
    grown = scan(settings)
    # One new photo: only its pairs searched (the centred views, then the corner views), kept.
    assert searches == ["pairs_involving", "pairs_involving"]
    assert _groups(scan(settings)) == _groups(grown) and len(searches) == 2


@pytest.mark.parametrize("quality", [10, 35, 50, 75, 88, 95])
def test_the_read_pass_takes_the_jpeg_quality_from_the_header(quality):
    data = factory.jpeg_bytes(factory.make_scene(7), quality)
    assert detail.file_quality(io.BytesIO(data)) == quality


def test_a_file_that_is_not_a_jpeg_has_no_jpeg_quality():
    buf = io.BytesIO()
    factory.make_scene(7).save(buf, "PNG")
    assert detail.file_quality(io.BytesIO(buf.getvalue())) is None
