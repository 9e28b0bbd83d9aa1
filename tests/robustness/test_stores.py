"""The stores (cache, journal, decisions) never delete or displace a file that is not theirs,
never call an I/O error corruption, and survive two processes creating them at once."""

import contextlib
import os
import shlex
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from photofind.cli import main
from photofind.core.cleanup.decisions import DecisionStore
from photofind.core.cleanup.journal import Journal
from photofind.core.scan.cache import Cache
from photofind.core.store import StoreError
from tests import cleanupkit as kit
from tests.storekit import damage_schema_page


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PHOTOFIND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PHOTOFIND_CACHE_DIR", str(tmp_path / "cachedir"))


def _photo(tmp_path):
    path = kit.photo(tmp_path / "Pictures" / "wedding.jpg", 1)
    return path, path.read_bytes()


# -- D1: `cache clear` deletes only a photofind cache -------------------------------------------


def test_cache_clear_refuses_a_photo_and_keeps_it(tmp_path, capsys):
    photo, data = _photo(tmp_path)
    assert main(["cache", "clear", "--cache", str(photo)]) == 2
    assert photo.read_bytes() == data
    err = capsys.readouterr().err
    assert "not a photofind cache" in err and "left untouched" in err


def test_cache_clear_refuses_an_empty_file(tmp_path, capsys):
    empty = tmp_path / "notes.txt"
    empty.touch()
    assert main(["cache", "clear", "--cache", str(empty)]) == 2
    assert empty.exists() and "left untouched" in capsys.readouterr().err


def test_cache_clear_refuses_a_folder_without_a_traceback(tmp_path, capsys):
    folder = tmp_path / "Pictures"
    folder.mkdir()
    assert main(["cache", "clear", "--cache", str(folder)]) == 2
    assert folder.is_dir() and "is a folder" in capsys.readouterr().err


def test_cache_clear_refuses_another_programs_database(tmp_path, capsys):
    other = tmp_path / "app.sqlite3"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('app', 'someone-else')")
    db.commit()
    db.close()
    assert main(["cache", "clear", "--cache", str(other)]) == 2
    assert other.exists() and "another program" in capsys.readouterr().err


def test_cache_clear_removes_a_real_cache_and_says_when_there_is_none(tmp_path, capsys):
    path = tmp_path / "c.sqlite3"
    Cache(path).close()
    assert main(["cache", "clear", "--cache", str(path)]) == 0
    assert not path.exists() and not os.path.exists(str(path) + "-wal")
    assert f"removed {path}" in capsys.readouterr().out
    assert main(["cache", "clear", "--cache", str(path)]) == 0
    assert "no cache" in capsys.readouterr().out


# -- D5: a store pointed at a photo refuses, and moves nothing -----------------------------------


@pytest.mark.parametrize("store", [Cache, Journal, DecisionStore])
def test_a_store_pointed_at_a_photo_refuses_and_leaves_it(tmp_path, store):
    photo, data = _photo(tmp_path)
    with pytest.raises(StoreError, match="not an SQLite database"):
        store(photo)
    assert photo.read_bytes() == data
    assert sorted(p.name for p in photo.parent.iterdir()) == ["wedding.jpg"]


def test_scan_with_cache_on_a_photo_keeps_it(tmp_path):
    photo, data = _photo(tmp_path)
    # How the scan reports the refusal (a message and exit code) is the crash work's part.
    with contextlib.suppress(StoreError):
        main(["scan", str(photo.parent), "--no-embed", "-q", "--cache", str(photo)])
    assert photo.read_bytes() == data
    assert sorted(p.name for p in photo.parent.iterdir()) == ["wedding.jpg"]


def test_a_corrupt_store_of_ours_is_still_moved_aside(tmp_path):
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    damage_schema_page(path)
    with Journal(path) as journal:
        assert journal.batches() == [] and "moved to" in journal.warnings[0]
    assert any(p.name.startswith("j.sqlite3.broken-") for p in tmp_path.iterdir())


# -- D3: an I/O error is not corruption; moved-aside journals are offered ------------------------


SQLITE_BUSY, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL = 5, 8, 10, 13  # SQLite result codes


def _fail_with(monkeypatch, message, code):
    """Every connection fails at its first statement the way a full/read-only/locked disk does."""
    real = sqlite3.connect
    error = sqlite3.OperationalError(message)
    error.sqlite_errorcode = code

    class FailingConnection:
        def __init__(self, *args, **kwargs):
            self._db = real(*args, **kwargs)

        def execute(self, *args, **kwargs):
            raise error

        def close(self):
            self._db.close()

    monkeypatch.setattr(sqlite3, "connect", FailingConnection)


@pytest.mark.parametrize(
    "message, code",
    [
        ("database or disk is full", SQLITE_FULL),
        ("attempt to write a readonly database", SQLITE_READONLY),
        ("database is locked", SQLITE_BUSY),
        ("disk I/O error", SQLITE_IOERR),
    ],
)
def test_an_io_error_never_moves_a_healthy_journal_aside(tmp_path, monkeypatch, message, code):
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    before = sorted(p.name for p in tmp_path.iterdir())
    with monkeypatch.context() as m:
        _fail_with(m, message, code)
        with pytest.raises(StoreError, match=message):
            Journal(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_history_on_a_full_disk_says_so_and_keeps_the_journal(tmp_path, monkeypatch, capsys):
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    with monkeypatch.context() as m:
        _fail_with(m, "database or disk is full", SQLITE_FULL)
        assert main(["history", "--journal", str(path)]) == 2
    assert "disk is full" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if ".broken-" in p.name]


def test_history_and_undo_offer_journals_that_were_moved_aside(tmp_path, capsys):
    path = tmp_path / "j.sqlite3"
    aside = tmp_path / "j.sqlite3.broken-20260101-000000"
    Journal(aside).close()
    assert main(["history", "--journal", str(path)]) == 0
    out = capsys.readouterr()
    assert "no clean-up batches yet" in out.out
    assert str(aside) in out.err and f"--journal {shlex.quote(str(aside))}" in out.err
    assert main(["undo", "--journal", str(path)]) == 0
    assert f"--journal {shlex.quote(str(aside))}" in capsys.readouterr().err


# -- D4: two processes creating the same store at once -------------------------------------------

_CREATE = textwrap.dedent("""
    import sys, time
    from photofind.core.cleanup.journal import Journal
    from photofind.core.scan.cache import Cache
    store = {"journal": Journal, "cache": Cache}[sys.argv[1]]
    start = float(sys.argv[3])
    while time.time() < start:
        pass
    with store(sys.argv[2]) as s:
        print("WARN" if s.warnings else "OK", flush=True)
""")


@pytest.mark.parametrize("kind", ["journal", "cache"])
def test_two_processes_creating_a_store_at_once_both_succeed(tmp_path, kind):
    import time

    env = dict(os.environ, PYTHONPATH=os.getcwd())
    for trial in range(3):
        path = tmp_path / f"{kind}{trial}.sqlite3"
        start = str(time.time() + 1.5)  # both interpreters are up by then: they start together
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _CREATE, kind, str(path), start],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(2)
        ]
        results = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], results
        assert [out.strip() for out, _ in results] == ["OK", "OK"], results
        assert not [p for p in tmp_path.iterdir() if ".broken-" in p.name]
