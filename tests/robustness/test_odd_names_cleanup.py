"""C1, clean-up: names that are not valid UTF-8 are trashed, moved, hard-linked, deleted and
put back byte for byte; the journal, the remembered decisions and the plan files keep them,
and `history`, `ignore list` and the plans show them with U+FFFD instead of crashing."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import sys

import pytest

from photofind.cli import main
from photofind.core.cleanup.actions import Action, plan_duplicates
from photofind.core.cleanup.decisions import DecisionStore, Kind
from photofind.core.cleanup.executor import Status, execute
from photofind.core.cleanup.journal import Journal
from photofind.core.cleanup.restore import UndoStatus, undo
from photofind.core.types import Tier
from tests import cleanupkit as kit

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that allows any bytes")

ODD_DUPLICATE = b"caf\xe9/b\xff.jpg"  # removed: a copy of a.jpg
ODD_SIDECAR = b"caf\xe9/b\xff.xmp"  # its XMP sidecar, taken along with it
ODD_KEEPER = b"caf\xe9/k\xfe.jpg"  # kept: z/c.jpg is its copy
OLD, NEW = 1_000_000_000 * 10**9, 1_500_000_000 * 10**9  # mtimes: `--rule mtime` keeps the older


@pytest.fixture(autouse=True)
def _home_on_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # the home trash stays inside tmp


def _write(root: bytes, rel: bytes, data: bytes, mtime_ns: int) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


@pytest.fixture
def lib(tmp_path):
    """Two byte-copy groups: an odd name removed (with its odd sidecar), and an odd name kept."""
    root = tmp_path / "photos"
    first = kit.photo(tmp_path / "scratch" / "1.jpg", 1).read_bytes()
    second = kit.photo(tmp_path / "scratch" / "2.jpg", 2).read_bytes()
    broot = os.fsencode(root)
    _write(broot, b"a.jpg", first, OLD)
    _write(broot, ODD_DUPLICATE, first, NEW)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    _write(broot, b"a.xmp", xmp, OLD)  # the kept photo has the same sidecar: the odd one may go
    _write(broot, ODD_SIDECAR, xmp, NEW)
    _write(broot, ODD_KEEPER, second, OLD)
    _write(broot, b"z/c.jpg", second, NEW)
    return root


def _tree(root) -> dict[bytes, tuple[str, int, int]]:
    """Every file below `root` by its raw relative name: (content hash, mtime, mode)."""
    broot = os.fsencode(root)
    found = {}
    for folder, _dirs, files in os.walk(broot):
        for name in files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            found[os.path.relpath(path, broot)] = (digest, st.st_mtime_ns, st.st_mode & 0o777)
    return found


def _at(root, rel: bytes) -> bytes:
    return os.path.join(os.fsencode(root), rel)


def _shown(path) -> str:
    return os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def _scan(lib, tmp_path, *extra):
    return (
        "scan",
        lib,
        "--no-embed",
        "-q",
        "--rule",
        "mtime",
        "--cache",
        tmp_path / "cache.db",
        "--journal",
        tmp_path / "journal.db",
        *extra,
    )


@pytest.mark.parametrize("action", ["trash", "move", "hardlink"])
def test_act_history_and_undo_round_trip_odd_names(lib, tmp_path, capsys, action):
    before = _tree(lib)
    extra = ("--move-to", tmp_path / "moved") if action == "move" else ()
    code, out = _run(capsys, *_scan(lib, tmp_path, "--act", action, *extra))
    assert code == 0, out
    assert f"{action}: {2 if action == 'hardlink' else 3} done" in out  # the sidecar goes with its photo
    odd = _at(lib, ODD_DUPLICATE)
    if action == "hardlink":
        assert os.path.samefile(odd, _at(lib, b"a.jpg"))
        assert os.path.samefile(_at(lib, b"z/c.jpg"), _at(lib, ODD_KEEPER))
    else:
        assert not os.path.lexists(odd)
        assert not os.path.lexists(_at(lib, ODD_SIDECAR))  # went with its photo
    if action == "move":
        assert os.path.exists(_at(tmp_path / "moved", ODD_DUPLICATE))

    journal = ("--journal", tmp_path / "journal.db")
    code, out = _run(capsys, "history", *journal)
    assert code == 0 and f"{action}" in out and "[done]" in out, out
    code, out = _run(capsys, "history", "1", *journal)
    assert code == 0, out
    assert _shown(_at(lib, ODD_DUPLICATE)) in out
    code, out = _run(capsys, "history", "1", "--json", *journal)
    assert code == 0, out
    doc = json.loads(out)
    assert _shown(_at(lib, ODD_DUPLICATE)) in {i["path"] for i in doc["items"]}
    assert _shown(_at(lib, ODD_KEEPER)) in {i["keep"] for i in doc["items"]}

    code, out = _run(capsys, "undo", "-q", *journal)
    assert code == 0, out
    assert "failed" not in out and "manual" not in out, out
    assert _tree(lib) == before
    if action == "hardlink":
        assert not os.path.samefile(odd, _at(lib, b"a.jpg"))
    code, out = _run(capsys, "history", *journal)
    assert "[undone]" in out, out


def test_permanent_delete_of_odd_names(lib, tmp_path, capsys):
    code, out = _run(capsys, *_scan(lib, tmp_path, "--act", "delete", "--permanent", "--yes"))
    assert code == 0, out
    assert "delete: 3 done" in out  # the duplicates and the sidecar
    names = set(_tree(lib))
    assert names == {b"a.jpg", b"a.xmp", ODD_KEEPER}
    journal = ("--journal", tmp_path / "journal.db")
    code, out = _run(capsys, "history", "1", *journal)
    assert code == 0 and _shown(_at(lib, ODD_SIDECAR)) in out, out
    code, out = _run(capsys, "undo", "-q", *journal)
    assert "manual" in out and _shown(_at(lib, ODD_DUPLICATE)) in out, out


def test_plan_files_show_odd_names(lib, tmp_path, capsys):
    plan_json, plan_csv = tmp_path / "plan.json", tmp_path / "plan.csv"
    code, out = _run(
        capsys,
        *_scan(lib, tmp_path, "--act", "move", "--move-to", tmp_path / "moved", "--dry-run"),
        "--plan-json",
        plan_json,
        "--plan-csv",
        plan_csv,
    )
    assert code == 0, out
    odd = _shown(_at(lib, ODD_DUPLICATE))
    assert odd in out
    doc = json.loads(plan_json.read_text(encoding="utf-8"))
    assert odd in {i["path"] for i in doc["items"]}
    assert _shown(_at(lib, ODD_KEEPER)) in {i["keep"] for i in doc["items"]}
    assert _shown(_at(tmp_path / "moved", ODD_DUPLICATE)) in {i["target"] for i in doc["items"]}
    assert odd in {i["companion_of"] for i in doc["items"]}
    rows = list(csv.DictReader(io.StringIO(plan_csv.read_text(encoding="utf-8"))))
    assert odd in {r["path"] for r in rows}
    # and to stdout
    code, out = _run(capsys, *_scan(lib, tmp_path, "--act", "trash", "--dry-run"), "--plan-json", "-")
    assert code == 0 and odd in out


def _odd_result(lib):
    odd, a = os.fsdecode(_at(lib, ODD_DUPLICATE)), str(lib / "a.jpg")
    keeper, c = os.fsdecode(_at(lib, ODD_KEEPER)), str(lib / "z" / "c.jpg")
    records = [kit.record(p) for p in (a, odd, keeper, c)]
    return kit.result(records, [(Tier.EXACT, [0, 1]), (Tier.EXACT, [2, 3])], [lib], rules="mtime")


def test_journal_round_trips_odd_paths(lib, tmp_path):
    result = _odd_result(lib)
    plan = plan_duplicates(result, Action.MOVE, move_to=str(tmp_path / "moved"))
    assert {i.path for i in plan.items} == {result.records[1].path, result.records[3].path}
    with Journal(tmp_path / "journal.db") as journal:
        report = execute(plan, journal=journal)
        assert report.count(Status.DONE) == 2
        items = journal.items(report.batch_id)
        assert [(i.path, i.keeper_path, i.target, i.location) for i in items] == [
            (p.path, p.keeper.path, p.target, p.target) for p in plan.items
        ]
        assert journal.batch(report.batch_id).details["move_to"] == str(tmp_path / "moved")
        back = undo(journal=journal)
    assert back.count(UndoStatus.RESTORED) == 2
    assert {r.path for r in back.results} == {i.path for i in plan.items}
    assert os.path.exists(result.records[1].path)


def test_journal_keeps_utf8_paths_as_text_for_older_versions(lib, tmp_path):
    """Only names that are not UTF-8 are stored as raw bytes: every other path stays TEXT, as
    older versions wrote and read it; a journal holding both kinds undoes."""
    result = _odd_result(lib)
    plan = plan_duplicates(result, Action.TRASH)
    with Journal(tmp_path / "journal.db") as journal:
        execute(plan, journal=journal)
    db = sqlite3.connect(tmp_path / "journal.db")
    kinds = dict(db.execute("SELECT path, typeof(path) FROM items"))
    db.close()
    assert kinds == {
        _at(lib, ODD_DUPLICATE): "blob",
        str(lib / "z" / "c.jpg"): "text",
    }
    with Journal(tmp_path / "journal.db") as journal:
        report = undo(journal=journal)
    assert report.count(UndoStatus.RESTORED) == 2


def test_journal_keeps_messages_that_quote_odd_names(lib, tmp_path):
    """Reasons and undo details are prose for the user: they keep U+FFFD for odd bytes."""
    odd = os.fsdecode(b"/photos/caf\xe9/b\xff.jpg")
    with Journal(tmp_path / "journal.db") as journal:
        batch = journal.begin(plan_duplicates(_odd_result(lib), Action.TRASH))
        journal.record(batch, 0, "skipped", f"its companion {os.path.basename(odd)} changed since scan")
        journal.set_undo(batch, 0, "failed", f"another file now has its name; the original is at {odd}")
        journal.flush()
        item = journal.items(batch)[0]
    assert item.reason == "its companion b\ufffd.jpg changed since scan"
    assert item.undo_detail.endswith("caf\ufffd/b\ufffd.jpg")


def test_decisions_round_trip_odd_paths(tmp_path):
    odd = os.fsdecode(b"/photos/caf\xe9/b\xff.jpg")
    with DecisionStore(tmp_path / "decisions.db") as store:
        store.add(Kind.NOT_DUPLICATE, ["h1", "h2"], ["/photos/a.jpg", odd])
        [decision] = store.list()
    assert set(decision.paths) == {"/photos/a.jpg", odd}


def test_ignore_add_and_list_with_odd_names(lib, tmp_path, capsys):
    odd = os.fsdecode(_at(lib, ODD_DUPLICATE))
    keeper = os.fsdecode(_at(lib, ODD_KEEPER))
    decisions = ("--decisions", tmp_path / "decisions.db")
    code, out = _run(capsys, "ignore", *decisions, "add", odd, keeper)
    assert code == 0, out
    code, out = _run(capsys, "ignore", *decisions, "list")
    assert code == 0 and _shown(odd) in out and _shown(keeper) in out, out
    code, out = _run(capsys, "ignore", *decisions, "list", "--json")
    assert code == 0, out
    assert set(json.loads(out)[0]["paths"]) == {_shown(odd), _shown(keeper)}
