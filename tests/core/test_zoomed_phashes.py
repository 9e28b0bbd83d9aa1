"""Without a CNN, candidates come from pHashes: a crop or a straightened copy moves its pHash
far from its original's, but close to the hash of the original's centre, or of a corner for
a crop that keeps one (phash_index)."""

from __future__ import annotations

import numpy as np
import pytest

from photofind.core.match import align, phash_index, phash_memo
from photofind.core.match import derivatives as d
from photofind.core.match.grouping import group_records
from photofind.core.scan.hashing import gray_thumb, phash_of_thumb
from photofind.core.types import Thresholds, Tier
from tests import imagefactory as factory
from tests.core.test_verify import record, write


@pytest.fixture(scope="module")
def scene():
    return factory.make_scene(11, (720, 480))


def test_zoomed_phashes_are_the_pHashes_of_the_centres():
    thumbs = np.random.default_rng(0).integers(0, 256, (3, 32, 32)).astype(np.uint8)
    zoomed = phash_index.zoomed_phashes(thumbs)
    assert zoomed.shape == (3, len(phash_index.ZOOMS)) and zoomed.dtype == np.uint64
    for n, thumb in enumerate(thumbs):
        for k, z in enumerate(phash_index.ZOOMS):
            centre = align.sample_region(
                thumb.astype(np.float32), ((1 - z) / 2, (1 - z) / 2, (1 + z) / 2, (1 + z) / 2)
            )
            assert int(zoomed[n, k]) == phash_of_thumb(centre)


def test_a_crop_is_a_pHash_candidate_through_its_originals_centre(tmp_path, scene):
    (ra, ta), (rb, tb) = (
        record(write(tmp_path / "a", d.encode(scene))),
        record(write(tmp_path / "b", d.make("crop75_centre", scene))),
    )
    assert (ra.phash ^ rb.phash).bit_count() > phash_index.PHASH_NEAR  # the plain hash misses it
    hashes = np.array([ra.phash, rb.phash], np.uint64)
    pairs = phash_index.phash_candidates(hashes, variants=phash_index.with_zooms(hashes, np.stack([ta, tb])))
    assert pairs.tolist() == [[0, 1]]


def test_without_embeddings_crops_and_straightened_copies_are_grouped(tmp_path, scene):
    files = {
        "original": d.encode(scene),
        "crop75": d.make("crop75_centre", scene),
        "straight": d.encode(d.straighten(scene, 6.0)),
        "other": d.encode(factory.make_scene(12, (720, 480))),
    }
    found = [record(write(tmp_path / name, data)) for name, data in files.items()]
    records, thumbs = [r for r, _ in found], np.stack([t for _, t in found])
    groups = group_records(records, None, Thresholds(), thumbs=thumbs)
    near = [sorted(g.indices) for g in groups if g.tier is Tier.NEAR]
    assert near == [[0, 1, 2]]


def test_off_centre_phashes_are_the_pHashes_of_the_corners():
    thumbs = np.random.default_rng(1).integers(0, 256, (2, 32, 32)).astype(np.uint8)
    views = phash_index.off_centre_phashes(thumbs)
    assert views.shape == (2, len(phash_index.ZOOMS) * len(phash_index.CORNERS))
    for n, thumb in enumerate(thumbs):
        for k, (z, (ax, ay)) in enumerate((z, c) for z in phash_index.ZOOMS for c in phash_index.CORNERS):
            x0, y0 = (1 - z) * ax, (1 - z) * ay
            corner = align.sample_region(thumb.astype(np.float32), (x0, y0, x0 + z, y0 + z))
            assert int(views[n, k]) == phash_of_thumb(corner)


@pytest.mark.parametrize("fraction, anchor", [(0.9, (0.1, 0.9)), (0.8, (0.95, 0.05))])
def test_a_corner_crop_is_a_pHash_candidate_without_embeddings(tmp_path, scene, fraction, anchor):
    """An editor's crop that keeps a corner (one handle dragged) shares neither the original's
    pHash nor its centre's; it is found through the original's view anchored at that corner."""
    files = {"original": d.encode(scene), "crop": d.encode(d.crop(scene, fraction, anchor))}
    (ra, ta), (rb, tb) = (record(write(tmp_path / name, data)) for name, data in files.items())
    hashes = np.array([ra.phash, rb.phash], np.uint64)
    thumbs = np.stack([ta, tb])
    centred = phash_index.phash_candidates(hashes, variants=phash_index.with_zooms(hashes, thumbs))
    assert centred.tolist() == []  # the centred views miss it
    close, _ = phash_memo.remembered_candidates(None, hashes, thumbs, rotations=False)
    assert close.tolist() == [[0, 1]]
    groups = group_records([ra, rb], None, Thresholds(), thumbs=thumbs)
    assert [sorted(g.indices) for g in groups if g.tier is Tier.NEAR] == [[0, 1]]


def test_off_centre_pairs_are_bounded_per_photo(scene):
    """Twenty copies of a photo and twenty of its corner crop pair with each other through
    the corner views, 400 pairs: each photo keeps only its closest few."""
    m = 20
    rng = np.random.default_rng(2)
    whole, corner = gray_thumb(scene), gray_thumb(d.crop(scene, 0.9, (0.0, 0.0)))
    thumbs = np.stack([whole] * m + [corner] * m) + rng.normal(0, 0.5, (2 * m, 32, 32))
    thumbs = np.clip(thumbs, 0, 255).astype(np.uint8)
    n = len(thumbs)
    hashes = np.array([phash_of_thumb(t) for t in thumbs], np.uint64)
    views = phash_index.off_centre_phashes(thumbs)
    unbounded = phash_index.phash_candidates(hashes, variants=views)
    assert len(unbounded) > phash_index.OFF_CENTRE_PER_PHOTO * n  # the bound matters here
    found = phash_index.off_centre_candidates(hashes, thumbs, np.empty((0, 2), np.int64))
    assert 0 < len(found) <= phash_index.OFF_CENTRE_PER_PHOTO * n
    assert set(map(tuple, found.tolist())) <= set(map(tuple, unbounded.tolist()))
    known = found[:3]
    assert not set(map(tuple, known.tolist())) & set(
        map(tuple, phash_index.off_centre_candidates(hashes, thumbs, known).tolist())
    )


def test_the_remembered_answer_is_keyed_by_the_off_centre_views(monkeypatch, tmp_path, scene):
    from photofind.core.scan.cache import Cache

    cache = Cache(tmp_path / "cache.sqlite3")
    (ra, ta), (rb, tb) = (
        record(write(tmp_path / name, data))
        for name, data in {"o": d.encode(scene), "c": d.encode(d.crop(scene, 0.9, (0.1, 0.9)))}.items()
    )
    hashes, thumbs = np.array([ra.phash, rb.phash], np.uint64), np.stack([ta, tb])
    assert phash_memo.remembered_candidates(cache, hashes, thumbs, rotations=False)[0].tolist() == [[0, 1]]
    monkeypatch.setattr(phash_index, "OFF_CENTRE_PER_PHOTO", 0)  # an answer made without them is not reused
    assert phash_memo.remembered_candidates(cache, hashes, thumbs, rotations=False)[0].tolist() == []
