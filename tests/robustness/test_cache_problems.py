"""C2-C4 and P3 (cache info): a cache that cannot be opened, read-only, or on a full disk."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from contextlib import contextmanager

import pytest

from photofind import cli
from photofind.core.pipeline import scan
from photofind.core.scan.cache import Cache
from photofind.core.types import ScanSettings
from tests import imagefactory as f
from tests.storekit import damage_all_but_meta


def _lib(root):
    a = f.save(f.make_scene(1), root / "a.jpg")
    f.copy(a, root / "a copy.jpg")
    f.save(f.make_scene(1).resize((200, 150)), root / "a small.jpg")
    f.save(f.make_scene(2), root / "b.png")
    return root


def _unusable_caches(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    return {"folder": folder, "under-a-file": plain / "cache.db", "proc": "/proc/photofind-cache.db"}


@pytest.mark.parametrize("kind", ["folder", "under-a-file", "proc"])
def test_unusable_cache_path_is_refused_up_front(tmp_path, capsys, kind):
    bad = str(_unusable_caches(tmp_path)[kind])
    lib = _lib(tmp_path / "lib")
    commands = [
        ["scan", str(lib), "--no-embed", "-q", "--cache", bad],
        ["similar", str(lib / "a.jpg"), "--in", str(lib), "--weights", "random", "-q", "--cache", bad],
        ["cache", "info", "--cache", bad],
        ["cache", "prune", "--cache", bad],
    ]
    for argv in commands:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        # One line that names the path and says what is wrong with it ("cannot open ...", "is a
        # folder, not a photofind cache file"), never a traceback.
        assert "cannot" in err or "not a photofind cache" in err, (argv, err)
        assert "internal error" not in err, (argv, err)
        assert err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_cache_folder_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert (
            cli.main(
                ["scan", str(_lib(tmp_path / "lib")), "--no-embed", "-q", "--cache", str(locked / "c.db")]
            )
            == 2
        )
    finally:
        locked.chmod(0o700)
    assert "cannot" in capsys.readouterr().err


def _groups(result):
    return sorted(sorted(result.records[m.index].path for m in g.members) for g in result.groups)


def _settings(lib, cache):
    return ScanSettings(roots=(str(lib),), cache_path=str(cache), calibrate=False)


@pytest.mark.parametrize("fault", ["read-only", "disk-full"])
def test_scan_finishes_in_memory_when_the_cache_cannot_be_written(tmp_path, fake_embedder, fault):
    lib = _lib(tmp_path / "lib")
    want = scan(_settings(lib, tmp_path / "good.db"), embedder=fake_embedder)
    assert want.groups
    cache = Cache(tmp_path / "bad.db")
    if fault == "read-only":
        cache._db.execute("PRAGMA query_only=ON")  # SQLITE_READONLY, as for a file mode 0444
    else:
        pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
        cache._db.execute(f"PRAGMA max_page_count={pages}")  # SQLITE_FULL, as on a full disk
    with cache:
        got = scan(_settings(lib, tmp_path / "bad.db"), embedder=fake_embedder, cache=cache)
        assert _groups(got) == _groups(want)
        assert [r.path for r in got.records] == [r.path for r in want.records]
        assert (got.thumbs == want.thumbs).all()
        assert len([w for w in got.warnings if "cache" in w]) == 1, got.warnings
        # a second scan with the same broken cache still works, and says so again
        again = scan(_settings(lib, tmp_path / "bad.db"), embedder=fake_embedder, cache=cache)
        assert _groups(again) == _groups(want)


@contextmanager
def _read_only(paths):
    """Files no one may write: chmod for a user; for root, who ignores modes, chattr +i."""
    import shutil

    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o444)
        yield
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", *map(str, paths)]).returncode:
        pytest.skip("cannot make a file read-only for root here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_read_only_cache_file_from_the_cli(tmp_path, capsys):
    lib = _lib(tmp_path / "lib")
    db = tmp_path / "c.db"
    assert cli.main(["scan", str(lib), "--no-embed", "-q", "--cache", str(db)]) == 0
    f.save(f.make_scene(5), lib / "new.jpg")
    capsys.readouterr()
    with _read_only(list(tmp_path.glob("c.db*"))):
        assert cli.main(["scan", str(lib), "--no-embed", "-q", "--cache", str(db)]) == 0
        out = capsys.readouterr().out
        assert "cannot be written" in out and "5 photos read" in out
        assert cli.main(["cache", "prune", "--cache", str(db)]) == 2
        err = capsys.readouterr().err
        assert "cannot" in err and "internal error" not in err


def test_cache_info_says_when_it_moved_a_broken_cache_aside(tmp_path, capsys):
    db = tmp_path / "c.db"
    with Cache(db):
        pass
    with open(db, "r+b") as fh:  # a valid header, garbage after it
        fh.seek(100)
        fh.write(os.urandom(3000))
    assert cli.main(["cache", "info", "--cache", str(db)]) == 0
    out = capsys.readouterr()
    assert "moved" in out.err and "broken" in out.err
    assert list(tmp_path.glob("c.db.broken-*"))


def test_max_page_count_really_fills(tmp_path):
    """The disk-full simulation above raises what a full disk raises."""
    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (x BLOB)")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        db.execute("INSERT INTO t VALUES (?)", (bytes(100_000),))


# -- damage that opening does not look for (it would read every page) is found in use ----------


def _warm_then_damaged(tmp_path, fake_embedder):
    lib = _lib(tmp_path / "lib")
    db = tmp_path / "c.db"
    want = scan(_settings(lib, db), embedder=fake_embedder)
    assert want.groups and want.stats.decoded == 4
    damage_all_but_meta(db)
    return lib, db, want


def test_damage_in_the_middle_of_the_cache_is_moved_aside_and_the_scan_finishes(tmp_path, fake_embedder):
    lib, db, want = _warm_then_damaged(tmp_path, fake_embedder)
    got = scan(_settings(lib, db), embedder=fake_embedder)
    assert _groups(got) == _groups(want)
    assert [r.path for r in got.records] == [r.path for r in want.records]
    assert got.stats.decoded == 4  # what could not be read from the cache was read from the photos
    late = [w for w in got.warnings if "damaged while in use" in w]
    assert len(late) == 1 and "moved to" in late[0], got.warnings
    assert len(list(tmp_path.glob("c.db.broken-*"))) == 1
    # the next scan starts a new cache and reads the photos once; the one after is warm
    again = scan(_settings(lib, db), embedder=fake_embedder)
    assert _groups(again) == _groups(want) and not again.warnings and again.stats.decoded == 4
    warm = scan(_settings(lib, db), embedder=fake_embedder)
    assert _groups(warm) == _groups(want) and warm.stats.decoded == 0
    assert len(list(tmp_path.glob("c.db.broken-*"))) == 1


def test_damage_found_in_use_is_shown_by_the_cli_scan_and_cache_info(tmp_path, fake_embedder, capsys):
    lib, db, _ = _warm_then_damaged(tmp_path, fake_embedder)
    assert cli.main(["scan", str(lib), "--no-embed", "-q", "--cache", str(db)]) == 0
    out = capsys.readouterr()
    assert "damaged while in use" in out.out + out.err and "Traceback" not in out.out + out.err
    assert len(list(tmp_path.glob("c.db.broken-*"))) == 1

    lib2, db2, _ = _warm_then_damaged(tmp_path / "two", fake_embedder)
    assert cli.main(["cache", "info", "--cache", str(db2)]) == 0
    out = capsys.readouterr()
    assert "damaged while in use" in out.err and "moved to" in out.err, out
    assert list((tmp_path / "two").glob("c.db.broken-*"))


def test_an_io_error_in_use_never_moves_the_cache_aside(tmp_path, fake_embedder):
    lib = _lib(tmp_path / "lib")
    db = tmp_path / "c.db"
    scan(_settings(lib, db), embedder=fake_embedder)
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = 10  # SQLITE_IOERR

    class FailingReads:
        def __init__(self, real):
            self._real = real

        def execute(self, *args, **kwargs):
            raise error

        def close(self):
            self._real.close()

    with Cache(db) as cache:
        cache._db = FailingReads(cache._db)
        with pytest.raises(sqlite3.OperationalError, match="I/O"):
            cache.get_blob("verifier", "version")
        cache.put_blob("verifier", "version", b"1")  # a write: kept in memory, as on a full disk
        assert len(cache.warnings) == 1 and "cannot be written" in cache.warnings[0], cache.warnings
    assert not list(tmp_path.glob("c.db.broken-*"))
    assert scan(_settings(lib, db), embedder=fake_embedder).stats.decoded == 0  # still warm


def test_damage_met_by_a_write_keeps_the_write_in_memory(tmp_path):
    db = tmp_path / "c.db"
    with Cache(db) as cache:
        cache.put_verdicts([("a" * 8, "b" * 8, None)], 1, False)
    damage_all_but_meta(db)
    with Cache(db) as cache:
        assert cache.warnings == []  # opening does not read the damaged pages
        cache.put_verdicts([("c" * 8, "d" * 8, "resized")], 1, False)
        assert cache.verdicts([("c" * 8, "d" * 8), ("a" * 8, "b" * 8)], 1, False) == {
            ("c" * 8, "d" * 8): "resized"
        }
        assert len(cache.warnings) == 1 and "damaged while in use" in cache.warnings[0]
    assert [p.name.startswith("c.db.broken-") for p in tmp_path.iterdir()] == [True]
