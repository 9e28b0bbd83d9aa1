"""Clean-up and undo tell the truth and lose nothing: modes come back, a changed keeper stops
the batch, hard links elsewhere free nothing, long names are explained, and reports are true."""

import os
import subprocess
import sys
import textwrap

import pytest

from photofind.cli import main
from photofind.core.cleanup.actions import Action, plan_duplicates
from photofind.core.cleanup.executor import CRASH_AFTER_ENV, Status, execute
from photofind.core.cleanup.journal import Journal
from photofind.core.cleanup.restore import UndoStatus, undo
from photofind.core.report import group_bytes_reclaimable
from photofind.core.types import Tier
from tests import cleanupkit as kit


@pytest.fixture(autouse=True)
def _home_on_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))


def _exact_library(root, copies=3, seed=1):
    """One photo and `copies` byte copies of it; returns (root, result)."""
    original = kit.photo(root / "a.jpg", seed)
    for n in range(copies):
        kit.factory.copy(original, root / "copies" / f"a{n}.jpg")
    paths = sorted(str(p) for p in root.rglob("*.jpg"))
    return kit.result([kit.record(p) for p in paths], [(Tier.EXACT, list(range(len(paths))))], [root])


# -- W1: undo of a killed hard-link batch restores each file's mode ----------------------------

_KILLED_HARDLINK = textwrap.dedent("""
    import sys
    from photofind.core.cleanup.actions import plan_duplicates
    from photofind.core.cleanup.executor import execute
    from photofind.core.pipeline import scan
    from photofind.core.types import ScanSettings

    result = scan(ScanSettings(roots=(sys.argv[1],), embed=False))
    execute(plan_duplicates(result, "hardlink"))
""")


def test_undo_of_a_killed_hardlink_batch_restores_the_mode(tmp_path):
    root = tmp_path / "photos"
    _exact_library(root)
    modes = {}
    for n, path in enumerate(sorted(root.rglob("*.jpg"))):
        os.chmod(path, (0o644, 0o640, 0o604, 0o664)[n])
        modes[path] = os.stat(path).st_mode & 0o777
    before = kit.snapshot(root)
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_HARDLINK, str(root)],
        env={**os.environ, CRASH_AFTER_ENV: "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 86, proc.stderr
    result = undo()
    assert result.complete
    assert kit.snapshot(root) == before
    assert {p: os.stat(p).st_mode & 0o777 for p in modes} == modes


# -- W2: a change that keeps size and mtime is caught before trash and move ----------------------


def _rewrite_keeping_stat(path, data):
    st = os.stat(path)
    assert len(data) == st.st_size
    with open(path, "r+b") as fh:
        fh.write(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("action", [Action.TRASH, Action.MOVE])
def test_a_keeper_whose_bytes_were_destroyed_stops_its_copies_going(tmp_path, action):
    res = _exact_library(tmp_path / "photos", copies=1)
    plan = plan_duplicates(res, action, move_to=str(tmp_path / "dups"))
    (item,) = plan.items
    _rewrite_keeping_stat(item.keeper.path, b"\0" * item.keeper.size)
    report = execute(plan)
    assert [o.status for o in report.outcomes] == [Status.SKIPPED]
    assert "the kept file changed since scan (content)" in report.outcomes[0].reason
    assert os.path.exists(item.path)


def test_a_duplicate_that_changed_is_trashed_and_undo_brings_it_back_saying_so(tmp_path):
    res = _exact_library(tmp_path / "photos", copies=1)
    plan = plan_duplicates(res, Action.TRASH)
    (item,) = plan.items
    changed = b"\1" * item.file.size
    _rewrite_keeping_stat(item.path, changed)
    assert execute(plan).count(Status.DONE) == 1
    (result,) = undo().results
    assert result.status is UndoStatus.RESTORED and "changed" in result.detail
    assert open(item.path, "rb").read() == changed


# -- W4: a file hard-linked elsewhere frees nothing ----------------------------------------------


def test_a_file_also_linked_outside_the_scan_is_not_reclaimable_nor_planned(tmp_path):
    root = tmp_path / "photos"
    original = kit.photo(root / "a.jpg", 1)
    kit.factory.copy(original, root / "b.jpg")
    os.link(root / "b.jpg", tmp_path / "elsewhere.jpg")  # outside the scanned folder
    paths = [str(root / "a.jpg"), str(root / "b.jpg")]
    records = [kit.record(p) for p in paths]
    res = kit.result(records, [(Tier.EXACT, [0, 1])], [root])
    (group,) = res.groups
    assert group_bytes_reclaimable(res, group) == 0
    plan = plan_duplicates(res, Action.TRASH)
    assert plan.items == ()
    assert "hard link" in plan.refused[0].reason
    assert os.path.exists(root / "b.jpg") and os.path.exists(root / "a.jpg")


# -- P1: a name too long for the trash -----------------------------------------------------------


def test_a_name_too_long_for_the_trash_is_explained_with_the_way_out(tmp_path):
    root = tmp_path / "photos"
    original = kit.photo(root / "a.jpg", 1)
    long_name = "x" * 246 + ".jpg"  # 250 bytes: the .trashinfo name would pass 255
    kit.factory.copy(original, root / long_name)
    paths = sorted(str(p) for p in root.iterdir())
    res = kit.result([kit.record(p) for p in paths], [(Tier.EXACT, [0, 1])], [root])
    plan = plan_duplicates(res, Action.TRASH)
    (refused,) = [r for r in plan.refused if r.path.endswith(long_name)]
    assert "too long for the trash" in refused.reason and "--act move" in refused.reason
    assert os.path.exists(root / long_name)


# -- P2: undo reports are true ---------------------------------------------------------------


def test_a_permanent_delete_batch_is_not_shown_as_undone(tmp_path, capsys):
    res = _exact_library(tmp_path / "photos", copies=2)
    execute(plan_duplicates(res, Action.DELETE), allow_permanent=True)
    result = undo()
    assert result.count(UndoStatus.RESTORED) == 0 and result.count(UndoStatus.MANUAL) == 2
    (info,) = Journal().batches()
    assert info.state == "not restorable"
    assert main(["history"]) == 0
    assert "[undone]" not in capsys.readouterr().out


def test_undo_of_a_batch_already_undone_restores_nothing_and_says_so(tmp_path, capsys):
    res = _exact_library(tmp_path / "photos", copies=3)
    report = execute(plan_duplicates(res, Action.TRASH))
    assert undo().count(UndoStatus.RESTORED) == 3
    capsys.readouterr()
    assert main(["undo", str(report.batch_id)]) == 0
    out = capsys.readouterr().out
    assert "3 restored" not in out and "already undone" in out
    again = undo(report.batch_id)
    assert [r.status for r in again.results] == [UndoStatus.ALREADY] * 3


def test_files_restored_by_a_killed_undo_are_reported_restored_on_the_rerun(tmp_path, monkeypatch):
    res = _exact_library(tmp_path / "photos", copies=3)
    report = execute(plan_duplicates(res, Action.TRASH))
    # A killed undo: the files came back, but none of its outcomes reached the journal.
    with monkeypatch.context() as m:
        m.setattr(Journal, "set_undo", lambda *a, **k: None)
        m.setattr(Journal, "set_undone", lambda *a, **k: None)
        assert undo(report.batch_id).count(UndoStatus.RESTORED) == 3
    rerun = undo(report.batch_id)
    assert [r.status for r in rerun.results] == [UndoStatus.ALREADY] * 3
    assert Journal().batches()[0].state == "undone"
