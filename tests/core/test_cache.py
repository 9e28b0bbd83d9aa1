import sqlite3

import numpy as np
import pytest

from photofind.core.scan.cache import SCHEMA_VERSION, Cache, FileEntry
from photofind.core.store import StoreError
from photofind.core.types import FileRef, ImageFacts, Skipped, SkipReason
from tests.storekit import damage_schema_page


def _entry(path="/p/a.jpg", chash="h1", vec=None, size=10, mtime=5):
    return FileEntry(
        FileRef(path, size, mtime),
        content_hash=chash,
        facts=ImageFacts(40, 30, "JPEG", "2020-01-01T00:00:00", "Cam"),
        phash=(1 << 63) + 5,  # above the signed range: must round-trip
        thumb=bytes(1024),
        embedding=vec,
    )


def test_round_trip_and_invalidation(cache_path):
    vec = np.arange(4, dtype=np.float32)
    with Cache(cache_path) as cache:
        cache.store([_entry(vec=vec)], "m1")
        hit = cache.lookup([FileRef("/p/a.jpg", 10, 5)], "m1")["/p/a.jpg"]
        assert hit.facts == ImageFacts(40, 30, "JPEG", "2020-01-01T00:00:00", "Cam")
        assert hit.phash == (1 << 63) + 5
        assert np.array_equal(hit.embedding, vec)
        # another model's embedding is not returned; the facts still are
        assert cache.lookup([FileRef("/p/a.jpg", 10, 5)], "m2")["/p/a.jpg"].embedding is None
        # changed size or mtime: a miss
        assert cache.lookup([FileRef("/p/a.jpg", 11, 5)], "m1") == {}
        assert cache.lookup([FileRef("/p/a.jpg", 10, 6)], "m1") == {}


def test_skips_are_cached(cache_path):
    with Cache(cache_path) as cache:
        skip = Skipped("/p/bad.jpg", SkipReason.TRUNCATED, "cut short")
        cache.store([FileEntry(FileRef("/p/bad.jpg", 3, 1), content_hash="x", skipped=skip)], None)
        assert cache.lookup([FileRef("/p/bad.jpg", 3, 1)], None)["/p/bad.jpg"].skipped == skip


def test_batched_lookup_of_many_files(cache_path):
    entries = [_entry(path=f"/p/{i}.jpg", chash=f"h{i}") for i in range(1300)]
    with Cache(cache_path) as cache:
        cache.store(entries, None)
        found = cache.lookup([e.file for e in entries], None)
    assert len(found) == 1300


def test_corrupt_file_is_moved_aside_and_rebuilt(cache_path):
    Cache(cache_path).close()
    damage_schema_page(cache_path)
    with Cache(cache_path) as cache:
        assert cache.warnings and "moved" in cache.warnings[0]
        cache.store([_entry()], None)
        assert cache.stats()["files"] == 1
    assert list(cache_path.parent.glob("cache.sqlite3.broken-*"))


def test_a_file_that_is_not_ours_is_refused_and_left_alone(cache_path):
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not an SQLite database"):
        Cache(cache_path)
    db = sqlite3.connect(cache_path.with_name("other.sqlite3"))
    db.execute("CREATE TABLE something_else (x)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="another program"):
        Cache(cache_path.with_name("other.sqlite3"))
    assert sorted(p.name for p in cache_path.parent.iterdir()) == ["cache.sqlite3", "other.sqlite3"]


def test_old_schema_is_rebuilt(cache_path):
    Cache(cache_path).close()
    db = sqlite3.connect(cache_path)
    db.execute(f"UPDATE meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema'")
    db.commit()
    db.close()
    with Cache(cache_path) as cache:
        assert cache.warnings and "schema" in cache.warnings[0]


def test_failed_batch_leaves_no_partial_rows(cache_path):
    bad = _entry(path="/p/b.jpg", chash="h2")
    bad = FileEntry(bad.file, content_hash="h2", facts=bad.facts, phash="not an int")  # type: ignore[arg-type]
    with Cache(cache_path) as cache:
        try:
            cache.store([_entry(), bad], None)
        except Exception:
            pass
        assert cache.stats()["files"] == 0


def test_prune_forgets_deleted_files(cache_path, tmp_path):
    real = tmp_path / "real.jpg"
    real.write_bytes(b"x")
    with Cache(cache_path) as cache:
        cache.store([_entry(path=str(real), chash="a"), _entry(path="/gone/x.jpg", chash="b")], None)
        assert cache.prune_missing() == 1
        assert list(cache.iter_paths()) == [str(real)]
