"""Without a CNN, candidates come from pHashes: a crop or a straightened copy moves its pHash
far from its original's, but close to the hash of the original's centre (phash_index)."""

from __future__ import annotations

import numpy as np
import pytest

from photofind.core.match import align, phash_index
from photofind.core.match import derivatives as d
from photofind.core.match.grouping import group_records
from photofind.core.scan.hashing import phash_of_thumb
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
