import os
import subprocess
import sys
import textwrap

import pytest

from photofind.core.cleanup import trash
from photofind.core.cleanup.actions import Action, plan_duplicates
from photofind.core.cleanup.executor import CRASH_AFTER_ENV, Status, execute
from photofind.core.cleanup.journal import Journal
from photofind.core.cleanup.restore import BatchRunning, NothingToUndo, UndoStatus, undo
from photofind.core.types import Tier
from photofind.paths import default_journal_path
from tests import cleanupkit as kit
from tests.storekit import damage_schema_page


@pytest.fixture(autouse=True)
def _home_on_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def lib(tmp_path):
    """Two exact groups (a: 3 copies, b: 2 copies) and a near pair (c, smaller c)."""
    root = tmp_path / "photos"
    a = kit.photo(root / "a.jpg", 1)
    kit.factory.copy(a, root / "copies" / "a copy.jpg")
    kit.factory.copy(a, root / "copies" / "sub" / "a (2).jpg")
    b = kit.photo(root / "b.jpg", 2)
    kit.factory.copy(b, root / "copies" / "b copy.jpg")
    kit.photo(root / "c.jpg", 3, (96, 72))
    kit.photo(root / "copies" / "c small.jpg", 3, (48, 36))
    paths = sorted(str(p) for p in root.rglob("*.jpg"))
    records = [kit.record(p) for p in paths]
    n = {os.path.relpath(p, root): i for i, p in enumerate(paths)}
    groups = [
        (Tier.EXACT, [n["a.jpg"], n["copies/a copy.jpg"], n["copies/sub/a (2).jpg"]]),
        (Tier.EXACT, [n["b.jpg"], n["copies/b copy.jpg"]]),
        (Tier.NEAR, [n["c.jpg"], n["copies/c small.jpg"]]),
    ]
    return root, kit.result(records, groups, [root])


def test_the_journal_holds_the_batch_before_the_first_file_is_touched(lib, monkeypatch):
    root, res = lib
    seen = []
    real_send = trash.send

    def spy(path):
        with Journal() as j:  # a second connection, as another process would see it
            (info,) = j.batches()
            items = {i.path: i for i in j.items(info.id)}
            assert info.state == "running"
            with pytest.raises(BatchRunning):
                undo(journal=j)
        seen.append((items[path].status, items[path].content_hash, items[path].size))
        return real_send(path)

    monkeypatch.setattr(trash, "send", spy)
    report = execute(plan_duplicates(res, Action.TRASH))
    assert [s[0] for s in seen] == ["planned"] * 4
    assert all(h and size > 0 for _s, h, size in seen)
    items = Journal().items(report.batch_id)
    assert [i.status for i in items] == ["done"] * 4
    assert all(i.location and i.location.endswith(os.path.basename(i.path)) for i in items)


def test_history_outlives_the_process_and_reports_states(lib):
    root, res = lib
    report = execute(plan_duplicates(res, Action.TRASH, tiers=[Tier.EXACT]))
    reopened = Journal(default_journal_path())
    (info,) = reopened.batches()
    assert (info.id, info.action, info.state, info.counts) == (report.batch_id, "trash", "done", {"done": 3})
    assert info.details["files"] == 3 and info.bytes_done == report.bytes_done
    assert reopened.last_undoable() == report.batch_id


@pytest.mark.parametrize("action", [Action.TRASH, Action.MOVE, Action.HARDLINK])
def test_undo_restores_every_byte(lib, tmp_path, action):
    root, res = lib
    before = kit.snapshot(root)
    stats = {p: os.stat(root / p).st_mtime_ns for p in before}
    plan = plan_duplicates(res, action, move_to=str(tmp_path / "dups"))
    report = execute(plan)
    assert report.count(Status.DONE) == plan.files >= 3
    assert kit.snapshot(root) != before or action is Action.HARDLINK
    result = undo()
    assert result.complete and result.count(UndoStatus.RESTORED) == plan.files
    assert kit.snapshot(root) == before  # hash-checked, file by file
    assert {p: os.stat(root / p).st_mtime_ns for p in before} == stats
    assert all(os.stat(root / p).st_nlink == 1 for p in before)  # hard links really undone
    assert kit.trash_entries(tmp_path / "xdg-data") == []
    assert (
        not (tmp_path / "xdg-data" / "Trash" / "info").exists()
        or os.listdir(tmp_path / "xdg-data" / "Trash" / "info") == []
    )
    if action is Action.MOVE:
        assert os.listdir(tmp_path / "dups") == []  # folders the move made are tidied away
    assert Journal().batches()[0].state == "undone"
    with pytest.raises(NothingToUndo):
        undo()


def test_undo_goes_back_one_batch_at_a_time_or_to_a_named_one(lib):
    root, res = lib
    before = kit.snapshot(root)
    first = execute(plan_duplicates(res, Action.TRASH, tiers=[Tier.EXACT]))
    second = execute(plan_duplicates(res, Action.TRASH, tiers=[Tier.NEAR]))
    assert undo(first.batch_id).batch_id == first.batch_id
    assert undo().batch_id == second.batch_id
    assert kit.snapshot(root) == before


def test_undo_refuses_to_overwrite_a_new_file_and_finishes_when_run_again(lib):
    root, res = lib
    report = execute(plan_duplicates(res, Action.TRASH, tiers=[Tier.NEAR]))
    (item,) = report.outcomes
    with open(item.item.path, "wb") as fh:
        fh.write(b"a new file took the name")
    first = undo()
    assert not first.complete and first.results[0].status is UndoStatus.FAILED
    assert "another file now has its name" in first.results[0].detail
    assert open(item.item.path, "rb").read() == b"a new file took the name"
    assert Journal().batches()[0].state == "done"  # not undone yet: undo can still finish it
    os.unlink(item.item.path)
    second = undo()
    assert second.complete and second.results[0].status is UndoStatus.RESTORED


def test_undo_restores_a_trash_entry_whose_bytes_changed_and_says_so(lib):
    root, res = lib
    report = execute(plan_duplicates(res, Action.TRASH, tiers=[Tier.NEAR]))
    (item,) = report.outcomes
    with open(item.location, "ab") as fh:
        fh.write(b"tampered")
    tampered = open(item.location, "rb").read()
    result = undo()
    assert result.results[0].status is UndoStatus.RESTORED and "bytes differ" in result.results[0].detail
    assert open(item.item.path, "rb").read() == tampered  # the user's file, whatever it holds now


def test_undo_of_an_unlocatable_trash_entry_says_restore_from_the_system_trash(lib, monkeypatch):
    root, res = lib
    monkeypatch.setattr(trash, "send", lambda path: os.unlink(path))  # a trash we cannot read back
    monkeypatch.setattr(trash, "find", lambda path, size=None: None)
    execute(plan_duplicates(res, Action.TRASH, tiers=[Tier.NEAR]))
    result = undo()
    assert result.results[0].status is UndoStatus.MANUAL
    assert result.results[0].detail == "restore it from the system trash"


def test_skipped_and_permanently_deleted_files_are_reported_honestly(lib):
    root, res = lib
    plan = plan_duplicates(res, Action.DELETE, tiers=[Tier.EXACT])
    os.unlink(plan.items[0].path)  # gone before we act: skipped
    execute(plan, allow_permanent=True)
    result = undo()
    statuses = sorted(r.status.value for r in result.results)
    assert statuses == ["manual", "manual", "untouched"]
    assert any("cannot be restored" in r.detail for r in result.results)


def test_a_broken_journal_is_kept_aside_and_a_new_one_started(tmp_path):
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    damage_schema_page(path)
    journal = Journal(path)
    assert journal.batches() == [] and "unusable" in journal.warnings[0]
    assert any(p.name.startswith("j.sqlite3.broken-") for p in tmp_path.iterdir())


CRASHING_RUN = textwrap.dedent("""
    import sys
    from photofind.core.cleanup.actions import plan_duplicates
    from photofind.core.cleanup.executor import execute
    from photofind.core.pipeline import scan
    from photofind.core.types import ScanSettings

    result = scan(ScanSettings(roots=(sys.argv[1],), embed=False))
    execute(plan_duplicates(result, "trash"))
    print("not reached")
""")


def test_a_batch_killed_mid_way_can_be_undone_completely(lib, tmp_path):
    root, _res = lib
    before = kit.snapshot(root)
    env = {**os.environ, CRASH_AFTER_ENV: "2"}
    proc = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN, str(root)],
        env=env,
        capture_output=True,
        text=True,
        cwd=os.getcwd(),
        timeout=60,
    )
    assert proc.returncode == 86, proc.stderr
    assert "not reached" not in proc.stdout
    gone = set(before) - set(kit.snapshot(root))
    assert len(gone) == 2  # two files reached the trash; the second one's outcome was never written
    journal = Journal()
    (info,) = journal.batches()
    # Outcomes are committed in groups, so the kill may have lost the first one too: the
    # planned rows, written before anything was touched, are what undo relies on.
    assert info.state == "interrupted" and sum(info.counts.values()) == 3
    assert info.counts.get("done", 0) <= 1
    result = undo(journal=journal)
    assert result.complete
    assert sorted(r.status.value for r in result.results) == ["restored", "restored", "untouched"]
    assert kit.snapshot(root) == before
    assert kit.trash_entries(tmp_path / "xdg-data") == []
    assert journal.batches()[0].state == "undone"
