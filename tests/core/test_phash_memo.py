"""A rescan searches only for the pHash pairs its new photos add (phash_memo), and its answer
is the full search's: the same close and turned pairs, the per-photo bound on off-centre pairs
applied again over old and new ones, the bucket cap respected."""

from __future__ import annotations

import numpy as np
import pytest

from photofind.core.match import align, phash_index, phash_memo
from photofind.core.scan.cache import Cache
from photofind.core.scan.hashing import phash_of_thumb


def _library(seed: int, scenes: int) -> np.ndarray:
    """Thumbnails with many pHash pairs: smooth scenes, each with noisy copies (more than the
    off-centre bound, so it binds, with ties), a centred and a corner crop, a turned copy; and
    near-flat images, which share 16-bit substrings (full buckets)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(scenes):
        scene = np.kron(rng.uniform(0, 255, (8, 8)), np.ones((4, 4))).astype(np.float32)
        copies = [scene + rng.normal(0, 3, scene.shape) for _ in range(rng.integers(1, 5))]
        crops = [
            align.sample_region(scene, (0.1, 0.1, 0.9, 0.9)),
            align.sample_region(scene, (0.0, 0.1, 0.9, 1.0)),
        ]
        out += [scene, *copies, *crops, np.rot90(scene)]
    faint = np.kron(rng.uniform(120, 136, (8, 8)), np.ones((4, 4)))  # one near-flat look, many times
    out += [faint + rng.normal(0, 0.3, (32, 32)) for _ in range(scenes // 2)]
    thumbs = np.clip(np.stack(out), 0, 255).astype(np.uint8)
    return thumbs[rng.permutation(len(thumbs))]


def _hashes(thumbs: np.ndarray) -> np.ndarray:
    return np.array([phash_of_thumb(t) for t in thumbs], np.uint64)


def _as_set(pairs: np.ndarray) -> set[tuple[int, int]]:
    return set(map(tuple, pairs.tolist()))


@pytest.fixture
def searches(monkeypatch):
    """Query rows of each full search (phash_candidates) and of every index lookup."""
    counted = {"full": 0, "rows": 0}
    full, lookup = phash_index.phash_candidates, phash_index._multi_index

    def full_search(phashes, *args, **kw):
        counted["full"] += 1
        return full(phashes, *args, **kw)

    def index_lookup(q, *args, **kw):
        counted["rows"] += len(q)
        return lookup(q, *args, **kw)

    monkeypatch.setattr(phash_index, "phash_candidates", full_search)
    monkeypatch.setattr(phash_index, "_multi_index", index_lookup)
    return counted


@pytest.mark.parametrize("indexed", [False, True], ids=["all-pairs", "multi-index"])
def test_a_rescan_after_changes_equals_a_full_search(tmp_path, monkeypatch, searches, indexed):
    if indexed:  # the index, with buckets full of near-flat photos skipped
        monkeypatch.setattr(phash_index, "_BRUTE_FORCE_MAX", 0)
        monkeypatch.setattr(phash_index, "_BUCKET_CAP", 8)
    library = _library(1, 40)
    flat = np.flatnonzero(np.ptp(library.reshape(len(library), -1), axis=1) < 20)
    rest = np.setdiff1d(np.arange(len(library)), flat)
    before = np.r_[flat[:-3], rest[:-25]]  # 3 flat photos and 25 others come later
    cache = Cache(tmp_path / "cache.sqlite3")
    phash_memo.remembered_candidates(cache, _hashes(library[before]), library[before], rotations=True)
    assert searches["full"] == 3  # centred, off-centre, turned

    removed = before[len(flat) + 3 : len(flat) + 8]
    after = np.random.default_rng(2).permutation(np.r_[np.setdiff1d(before, removed), flat[-3:], rest[-25:]])
    h, thumbs = _hashes(library[after]), library[after]
    if indexed:
        assert len(phash_index.capped_buckets(h)) > 0  # the cap applies, and the update honours it
    searches.update(full=0, rows=0)
    close, turned = phash_memo.remembered_candidates(cache, h, thumbs, rotations=True)
    assert searches["full"] == 0  # only the new photos' pairs were searched
    new = np.flatnonzero(~np.isin(after, before))
    if indexed:  # each new photo's 19 query hashes, and its pHash against each search's views
        assert searches["rows"] == len(new) * (3 + 8 + 8 + 3)
    full_close, full_turned = phash_memo.remembered_candidates(None, h, thumbs, rotations=True)
    assert close.tolist() == full_close.tolist() and turned.tolist() == full_turned.tolist()
    assert _as_set(close) & {(i, j) for i, j in close.tolist() if i in new or j in new}  # new pairs found
    assert len(turned) > 0
    none = np.empty((0, 2), np.int64)
    unbounded = phash_index.phash_candidates(h, variants=phash_index.off_centre_phashes(thumbs))
    assert len(unbounded) > len(phash_index.off_centre_candidates(h, thumbs, none)) > 0  # the bound binds

    searches.update(full=0, rows=0)
    again = phash_memo.remembered_candidates(cache, h, thumbs, rotations=True)  # warm: no search
    assert searches == {"full": 0, "rows": 0} and [p.tolist() for p in again] == [
        close.tolist(),
        turned.tolist(),
    ]


def test_a_full_search_runs_when_the_skipped_buckets_change(tmp_path, monkeypatch, searches):
    monkeypatch.setattr(phash_index, "_BRUTE_FORCE_MAX", 0)
    monkeypatch.setattr(phash_index, "_BUCKET_CAP", 8)
    library = _library(3, 30)
    cache = Cache(tmp_path / "cache.sqlite3")
    phash_memo.remembered_candidates(cache, _hashes(library), library, rotations=False)
    flat = np.flatnonzero(np.ptp(library.reshape(len(library), -1), axis=1) < 20)
    kept = np.setdiff1d(np.arange(len(library)), flat[: len(flat) // 2])  # half the full buckets' photos
    h, thumbs = _hashes(library[kept]), library[kept]
    assert not np.array_equal(phash_index.capped_buckets(h), phash_index.capped_buckets(_hashes(library)))
    searches.update(full=0)
    close, _ = phash_memo.remembered_candidates(cache, h, thumbs, rotations=False)
    assert searches["full"] == 2  # pairs between remembered photos may have appeared
    assert close.tolist() == phash_memo.remembered_candidates(None, h, thumbs, rotations=False)[0].tolist()


def test_a_full_search_runs_when_many_photos_are_new(tmp_path, searches):
    library = _library(4, 30)
    cache = Cache(tmp_path / "cache.sqlite3")
    half = len(library) // 2
    phash_memo.remembered_candidates(cache, _hashes(library[:half]), library[:half], rotations=False)
    searches.update(full=0)
    close, _ = phash_memo.remembered_candidates(cache, _hashes(library), library, rotations=False)
    assert searches["full"] == 2
    assert (
        close.tolist()
        == phash_memo.remembered_candidates(None, _hashes(library), library, rotations=False)[0].tolist()
    )


def test_identical_photos_are_remembered_one_each(tmp_path):
    """Two photos with the same pixels are two photos: the pair between them is kept, and a
    third copy added later pairs with both."""
    library = _library(5, 20)
    twice = np.r_[library, library[:1]]
    cache = Cache(tmp_path / "cache.sqlite3")
    first, _ = phash_memo.remembered_candidates(cache, _hashes(twice), twice, rotations=False)
    assert [0, len(library)] in first.tolist()
    thrice = np.r_[twice, library[:1]]
    close, _ = phash_memo.remembered_candidates(cache, _hashes(thrice), thrice, rotations=False)
    assert (
        close.tolist()
        == phash_memo.remembered_candidates(None, _hashes(thrice), thrice, rotations=False)[0].tolist()
    )
    assert {(0, len(library)), (0, len(library) + 1), (len(library), len(library) + 1)} <= _as_set(close)
