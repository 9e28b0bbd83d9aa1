"""The library as a `similar` query sees it (photofind.core.query): listed by name, the cache
trusted, and only the photos returned checked against their files."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.core.pipeline import scan
from photofind.core.query import open_library
from photofind.core.scan.cache import Cache, FileEntry
from photofind.core.scan.discover import discover, photo_paths
from photofind.core.types import FileRef, ImageFacts, ScanSettings, Thresholds, Tier
from tests import imagefactory as factory


def _settings(library, tmp_path) -> ScanSettings:
    return ScanSettings(
        roots=(str(library["root"]),),
        cache_path=str(tmp_path / "c.sqlite3"),
        thresholds=Thresholds(near=0.9, similar=0.8),
        calibrate=False,
    )


def _found(library_view, path, top=3):
    return [(library_view.path(h.index), h.tier) for h in library_view.find(str(path), top)]


@pytest.fixture
def warm(library, fake_embedder, tmp_path):
    """The library read into a cache by a first query, and a function opening it again."""
    settings = _settings(library, tmp_path)
    cache = Cache(settings.cache_path)
    open_library(settings, fake_embedder, cache)
    yield lambda: open_library(settings, fake_embedder, cache)
    cache.close()


def test_the_listing_by_name_is_the_scans_listing(library, tmp_path):
    root = library["root"]
    factory.save(factory.make_scene(7), root / ".hidden" / "h.jpg")
    factory.save(factory.make_scene(8), root / "skipme" / "s.jpg")
    os.symlink(library["paths"]["D"], root / "d-link.jpg")
    for options in ({}, {"include_hidden": True}, {"exclude": ["skipme"]}, {"follow_symlinks": False}):
        assert photo_paths([root], **options) == [f.path for f in discover([root], **options).files]


def test_unchanged_photos_are_taken_from_the_cache_without_a_stat(warm, library, monkeypatch):
    p = library["paths"]
    stated: list[str] = []
    real_stat = os.stat
    monkeypatch.setattr(
        os, "stat", lambda path, *a, **k: stated.append(str(path)) or real_stat(path, *a, **k)
    )
    view = warm()
    listing = list(stated)
    found = _found(view, p["B"])
    monkeypatch.undo()
    assert found[:2] == [(str(p["B_q40"]), Tier.NEAR), (str(p["B_half"]), Tier.NEAR)]
    # Folders only, and the files the cache holds as no photo (read again if they changed).
    assert sorted(s for s in listing if _is_file(s)) == sorted(str(b) for b in library["bad"].values())
    root = str(library["root"])
    checked = {s for s in stated[len(listing) :] if s.startswith(root) and _is_file(s)}
    assert checked == {str(p["B"]), *(path for path, _tier in found)}  # the query and what it returns


def _is_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def test_a_photo_changed_since_it_was_cached_is_read_again_before_it_is_returned(
    warm, library, fake_embedder, tmp_path
):
    p = library["paths"]
    # B's re-encode now holds D's bytes (a newer mtime): it is no copy of B any more.
    shutil.copyfile(p["D"], p["B_q40"])
    os.utime(p["B_q40"], ns=(os.stat(p["D"]).st_atime_ns, os.stat(p["D"]).st_mtime_ns + 10**9))
    view = warm()
    found = _found(view, p["B"])
    assert (str(p["B_q40"]), Tier.NEAR) not in found
    assert found[0] == (str(p["B_half"]), Tier.NEAR)
    # What it was read as is in the cache, as a scan would have put it there.
    st = os.stat(p["B_q40"])
    with Cache(tmp_path / "c.sqlite3") as cache:
        now = cache.lookup([FileRef(str(p["B_q40"]), st.st_size, st.st_mtime_ns)], fake_embedder.model.id)
        d = cache.lookup([FileRef(str(p["D"]), os.stat(p["D"]).st_size, os.stat(p["D"]).st_mtime_ns)], None)
    assert now[str(p["B_q40"])].content_hash == d[str(p["D"])].content_hash
    # And the answer is the one a full scan of the changed library gives.
    settings = _settings(library, tmp_path)
    with Cache(settings.cache_path) as cache:
        rescanned = scan(settings, embedder=fake_embedder, cache=cache, group=False)
    from photofind.core.match.similar import SimilarIndex

    index = SimilarIndex.for_result(rescanned)
    assert found == [(rescanned.records[h.index].path, h.tier) for h in index.find(str(p["B"]), 3)]


def test_the_query_photo_changed_since_it_was_cached_is_searched_as_it_is_now(warm, library):
    p = library["paths"]
    shutil.copyfile(p["D"], p["B"])
    os.utime(p["B"], ns=(0, os.stat(p["D"]).st_mtime_ns + 10**9))
    found = _found(warm(), p["B"])
    assert found[0] == (str(p["D"]), Tier.EXACT)  # B's file now holds D's bytes


def test_a_photo_gone_after_the_listing_is_never_returned(warm, library):
    p = library["paths"]
    view = warm()
    os.remove(p["B_q40"])
    found = _found(view, p["B"])
    assert str(p["B_q40"]) not in [path for path, _tier in found]
    assert found[0] == (str(p["B_half"]), Tier.NEAR)


def test_a_photo_new_since_the_last_query_is_read_and_found(warm, library, fake_embedder):
    p = library["paths"]
    embedded = fake_embedder.images_embedded
    new = factory.save(
        Image.open(p["B"]).resize((280, 210), Image.Resampling.LANCZOS), library["root"] / "new" / "b_280.jpg"
    )
    found = _found(warm(), p["B"], top=4)
    assert (str(new), Tier.NEAR) in found
    assert fake_embedder.images_embedded == embedded + 1  # the new photo only


def test_a_file_with_two_names_is_returned_once(warm, library):
    p = library["paths"]
    os.link(p["B_half"], library["root"] / "web" / "a-second-name.jpg")  # listed first by path
    found = [path for path, _tier in _found(warm(), p["B"], top=5)]
    assert str(library["root"] / "web" / "a-second-name.jpg") in found
    assert str(p["B_half"]) not in found  # the same file, under the name a scan lists


def test_listed_rows_are_returned_as_cached_and_damaged_embeddings_are_not(tmp_path):
    vector = np.arange(4, dtype=np.float32)
    facts = ImageFacts(40, 30, "JPEG")
    with Cache(tmp_path / "c.sqlite3") as cache:
        cache.store(
            [
                FileEntry(FileRef("/p/a.jpg", 10, 5), content_hash="ha", facts=facts, embedding=vector),
                FileEntry(FileRef("/p/b.jpg", 11, 6), content_hash="hb", facts=facts, embedding=vector),
                FileEntry(FileRef("/p/c.jpg", 12, 7), content_hash="hc", facts=facts),
            ],
            "m1",
        )
        cache._db.execute("UPDATE embeddings SET checksum = checksum + 1 WHERE content_hash = 'hb'")
        listed = cache.listed(["/p/a.jpg", "/p/b.jpg", "/p/c.jpg", "/p/new.jpg"], "m1")
    assert set(listed) == {"/p/a.jpg", "/p/b.jpg", "/p/c.jpg"}
    a = listed["/p/a.jpg"]
    assert (a.size, a.mtime_ns, a.content_hash, a.skipped) == (10, 5, "ha", False)
    assert np.array_equal(np.frombuffer(a.embedding, np.float32), vector)
    assert listed["/p/b.jpg"].embedding is None  # its checksum fails: computed again
    assert listed["/p/c.jpg"].embedding is None  # never embedded by m1


def test_thresholds_come_from_the_library_calibration_as_in_a_scan(library, fake_embedder, tmp_path):
    from photofind.core.match import calibrate

    settings = ScanSettings(roots=(str(library["root"]),), cache_path=str(tmp_path / "c.sqlite3"))
    cached = calibrate.Calibration(fake_embedder.model.id, 0.93, 0.86, 0.99, 0.99, 0.99, 11, 100, 1000)
    with Cache(settings.cache_path) as cache:
        key = f"{fake_embedder.model.id}@{calibrate.library_key(settings.roots)}"
        cache.put_blob(calibrate.NAMESPACE, key, cached.to_bytes())
        assert open_library(settings, fake_embedder, cache).thresholds == Thresholds(near=0.93, similar=0.86)


def test_paths_are_absolute_and_sorted(library):
    paths = photo_paths([library["root"]])
    assert paths == sorted(paths) and all(Path(p).is_absolute() for p in paths)
