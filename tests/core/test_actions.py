import json
import os

import pytest

from photofind.core.cleanup.actions import (
    Action,
    Plan,
    PlanItem,
    UnsafePlan,
    plan_as_json,
    plan_duplicates,
    plan_marked,
    write_plan_csv,
)
from photofind.core.cleanup.executor import PermanentDeleteNotConfirmed, Status, execute
from photofind.core.cleanup.journal import Journal
from photofind.core.cleanup.keep import KeeperPolicy
from photofind.core.cleanup.marks import Marks, Refusal
from photofind.core.progress import CancelToken
from photofind.core.scan.hashing import content_hash_file
from photofind.core.types import Tier
from tests import cleanupkit as kit


@pytest.fixture(autouse=True)
def _home_on_tmp(tmp_path, monkeypatch):
    # send2trash uses the home trash only for files on the home volume: keep both in tmp.
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def lib(tmp_path):
    """Group 1 (exact): a.jpg kept, two byte copies. Group 2 (near): b.jpg kept, a smaller
    re-encode. Group 3 (similar): two different photos. Plus an unrelated single."""
    root = tmp_path / "photos"
    a = kit.photo(root / "trip" / "a.jpg", 1, (96, 72))
    kit.factory.copy(a, root / "backup" / "a copy.jpg")
    kit.factory.copy(a, root / "backup" / "deep" / "a (1).jpg")
    kit.photo(root / "trip" / "b.jpg", 2, (96, 72))
    kit.photo(root / "web" / "b_small.jpg", 2, (48, 36))
    kit.photo(root / "burst" / "c1.jpg", 3)
    kit.photo(root / "burst" / "c2.jpg", 4)
    kit.photo(root / "misc" / "d.jpg", 5)
    paths = sorted(str(p) for p in root.rglob("*.jpg"))
    records = [kit.record(p) for p in paths]
    idx = {os.path.relpath(p, root): n for n, p in enumerate(paths)}
    groups = [
        (Tier.EXACT, [idx["trip/a.jpg"], idx["backup/a copy.jpg"], idx["backup/deep/a (1).jpg"]]),
        (Tier.NEAR, [idx["trip/b.jpg"], idx["web/b_small.jpg"]]),
        (Tier.SIMILAR, [idx["burst/c1.jpg"], idx["burst/c2.jpg"]]),
    ]
    return {
        "root": root,
        "records": records,
        "groups": groups,
        "idx": idx,
        "result": kit.result(records, groups, [root]),
    }


def rel(lib, path):
    return os.path.relpath(path, lib["root"])


# -- marks ---------------------------------------------------------------------------------------


def test_marking_the_last_unmarked_file_of_a_group_is_refused(lib):
    res = lib["result"]
    marks = Marks(res.records, res.groups)
    g = res.groups[0]
    a, b, c = g.indices
    assert marks.mark(g.id, b) is None
    assert marks.mark(g.id, a) is None  # the keeper may be marked while another file stays
    assert marks.mark(g.id, c) is Refusal.LAST_UNMARKED
    assert not marks.is_marked(g.id, c) and marks.count == 2
    assert marks.keeper(g.id) == c  # what stays is what is kept
    assert marks.toggle(g.id, a) is None and marks.mark(g.id, c) is None
    assert marks.refusal(g.id, a) is Refusal.LAST_UNMARKED
    assert marks.mark(99, a) is Refusal.UNKNOWN_GROUP
    assert marks.mark(g.id, res.groups[1].indices[0]) is Refusal.NOT_IN_GROUP


def test_mark_duplicates_never_selects_a_whole_group_and_skips_protected(lib):
    res = lib["result"]
    protected = str(lib["root"] / "backup")
    marks = Marks(res.records, res.groups, KeeperPolicy.parse("", [protected]))
    refused = marks.mark_duplicates()
    for g in res.groups:
        assert len(marks.marked(g.id)) < len(g.members)
    assert not marks.marked(res.groups[2].id)  # similar: not by default
    protected_paths = sorted(
        rel(lib, res.records[i].path) for _g, i, why in refused if why is Refusal.PROTECTED
    )
    # Protected copies win the keeper choice; the other protected copy is refused, not marked.
    assert rel(lib, res.records[marks.keeper(res.groups[0].id)].path).startswith("backup/")
    assert protected_paths and all(p.startswith("backup/") for p in protected_paths)


# -- plans ---------------------------------------------------------------------------------------


def test_plan_lists_duplicates_of_safe_tiers_with_counts_and_bytes(lib):
    plan = plan_duplicates(lib["result"], Action.TRASH)
    got = sorted(rel(lib, i.path) for i in plan.items)
    assert got == ["backup/a copy.jpg", "backup/deep/a (1).jpg", "web/b_small.jpg"]
    assert plan.files == 3 and plan.groups == 2
    assert plan.bytes == sum(os.path.getsize(i.path) for i in plan.items)
    assert all(rel(lib, i.keeper.path) in ("trip/a.jpg", "trip/b.jpg") for i in plan.items)
    assert "3 files" in plan.summary()
    with_similar = plan_duplicates(lib["result"], Action.TRASH, tiers=list(Tier))
    assert with_similar.files == 4


def test_plan_exports_json_and_csv(lib, tmp_path):
    plan = plan_duplicates(lib["result"], "trash")
    doc = plan_as_json(plan)
    assert doc["action"] == "trash" and doc["files"] == 3 and doc["bytes"] == plan.bytes
    assert {i["path"] for i in doc["items"]} == {i.path for i in plan.items}
    json.dumps(doc)
    write_plan_csv(plan, tmp_path / "plan.csv")
    lines = (tmp_path / "plan.csv").read_text().splitlines()
    assert lines[0].startswith("group,tier,action,path") and len(lines) == 4


def test_hardlink_plan_refuses_files_whose_bytes_differ(lib):
    plan = plan_duplicates(lib["result"], Action.HARDLINK)
    assert sorted(rel(lib, i.path) for i in plan.items) == ["backup/a copy.jpg", "backup/deep/a (1).jpg"]
    (refused,) = plan.refused
    assert rel(lib, refused.path) == "web/b_small.jpg" and "identical bytes" in refused.reason


def test_move_plan_keeps_structure_and_never_reuses_a_taken_name(lib, tmp_path):
    dest = tmp_path / "dups"
    kit.photo(dest / "backup" / "a copy.jpg", 9)  # already there: must not be overwritten
    plan = plan_duplicates(lib["result"], Action.MOVE, move_to=str(dest))
    targets = sorted(os.path.relpath(i.target, dest) for i in plan.items)
    assert targets == ["backup/a copy (1).jpg", "backup/deep/a (1).jpg", "web/b_small.jpg"]
    with pytest.raises(ValueError):
        plan_duplicates(lib["result"], Action.MOVE)


def test_a_plan_that_touches_a_kept_file_is_refused_before_anything_runs(lib):
    plan = plan_duplicates(lib["result"], Action.TRASH)
    item = plan.items[0]
    bad = Plan(
        Action.TRASH,
        plan.items
        + (
            PlanItem(
                item.group_id,
                item.tier,
                item.keeper,
                item.keeper_hash,
                plan.items[1].file,
                plan.items[1].content_hash,
            ),
        ),
    )
    with pytest.raises(UnsafePlan):
        execute(bad)
    assert kit.trash_entries(lib["root"].parent / "xdg-data") == []


# -- execution -----------------------------------------------------------------------------------


def test_trash_moves_only_the_planned_duplicates_to_the_isolated_trash(lib, tmp_path):
    before = kit.snapshot(lib["root"])
    report = execute(plan_duplicates(lib["result"], Action.TRASH))
    assert report.count(Status.DONE) == 3 and report.bytes_done > 0
    after = kit.snapshot(lib["root"])
    assert set(before) - set(after) == {"backup/a copy.jpg", "backup/deep/a (1).jpg", "web/b_small.jpg"}
    assert all(after[k] == before[k] for k in after)
    assert kit.trash_entries(tmp_path / "xdg-data") == ["a (1).jpg", "a copy.jpg", "b_small.jpg"]
    for o in report.outcomes:
        assert o.location.startswith(str(tmp_path / "xdg-data" / "Trash" / "files"))
        assert content_hash_file(o.location) == o.item.content_hash


def test_move_hardlink_and_delete_do_what_they_say(lib, tmp_path):
    res = lib["result"]
    keeper = str(lib["root"] / "trip" / "a.jpg")
    report = execute(plan_duplicates(res, Action.HARDLINK))
    assert report.count(Status.DONE) == 2
    for o in report.outcomes:
        assert os.path.samefile(o.item.path, keeper)
    moved = execute(plan_duplicates(res, Action.MOVE, move_to=str(tmp_path / "dups"), tiers=[Tier.NEAR]))
    assert moved.count(Status.DONE) == 1
    assert (tmp_path / "dups" / "web" / "b_small.jpg").is_file()
    assert not (lib["root"] / "web" / "b_small.jpg").exists()
    single = kit.result(
        res.records, [(Tier.SIMILAR, [lib["idx"]["burst/c1.jpg"], lib["idx"]["burst/c2.jpg"]])], [lib["root"]]
    )
    plan = plan_duplicates(single, Action.DELETE, tiers=[Tier.SIMILAR])
    with pytest.raises(PermanentDeleteNotConfirmed):
        execute(plan)
    assert execute(plan, allow_permanent=True).count(Status.DONE) == 1
    assert [str(p) for p in (lib["root"] / "burst").iterdir()] == [plan.items[0].keeper.path]
    assert kit.trash_entries(tmp_path / "xdg-data") == []


def test_one_failure_does_not_stop_the_rest(lib, tmp_path, monkeypatch):
    from photofind.core.cleanup import trash

    real_send = trash.send

    def flaky(path):
        if path.endswith("a copy.jpg"):
            raise PermissionError(13, "Permission denied")
        return real_send(path)

    monkeypatch.setattr(trash, "send", flaky)
    report = execute(plan_duplicates(lib["result"], Action.TRASH))
    by_name = {os.path.basename(o.item.path): o for o in report.outcomes}
    assert (
        by_name["a copy.jpg"].status is Status.FAILED and "Permission denied" in by_name["a copy.jpg"].reason
    )
    assert by_name["a (1).jpg"].status is Status.DONE and by_name["b_small.jpg"].status is Status.DONE
    assert (lib["root"] / "backup" / "a copy.jpg").exists()


def test_cancel_stops_between_files_and_reports_the_rest(lib):
    token = CancelToken()

    class StopAfterOne:
        def update(self, phase, done, total):
            if done >= 1:
                token.cancel()

        def is_cancelled(self):
            return token.is_cancelled()

    report = execute(plan_duplicates(lib["result"], Action.TRASH), progress=StopAfterOne())
    assert report.cancelled
    assert [o.status for o in report.outcomes] == [Status.DONE, Status.CANCELLED, Status.CANCELLED]
    info = Journal().batches()[0]
    assert info.state == "cancelled" and info.counts == {"done": 1, "cancelled": 2}


# -- the last-moment re-check --------------------------------------------------------------------


def _modify(p, keeper):
    with open(p, "ab") as fh:
        fh.write(b"\0")


def _touch(p, keeper):
    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _delete(p, keeper):
    os.unlink(p)


def _replace_same_size_and_time(p, keeper):
    # Another file swapped in under the same name, with size and mtime forged to match.
    st = os.stat(p)
    data = bytearray(open(p, "rb").read())
    data[-3] ^= 0xFF
    tmp = p + ".new"
    open(tmp, "wb").write(bytes(data))
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, p)


def _symlink_elsewhere(p, keeper):
    os.replace(p, p + ".real")
    os.symlink(p + ".real", p)


def _keeper_deleted(p, keeper):
    os.unlink(keeper)


def _keeper_modified(p, keeper):
    with open(keeper, "ab") as fh:
        fh.write(b"\0")


def _keeper_replaced_by_folder(p, keeper):
    os.unlink(keeper)
    os.mkdir(keeper)


SABOTAGE = {
    "file modified": (_modify, "changed since scan"),
    "file touched": (_touch, "changed since scan"),
    "file deleted": (_delete, "no longer exists"),
    "file replaced": (_replace_same_size_and_time, "replaced"),
    "file became a symlink": (_symlink_elsewhere, "symbolic link"),
    "keeper deleted": (_keeper_deleted, "kept file no longer exists"),
    "keeper modified": (_keeper_modified, "kept file changed"),
    "keeper not a file": (_keeper_replaced_by_folder, "kept file is no longer a regular file"),
}


@pytest.mark.parametrize("action", [Action.TRASH, Action.MOVE, Action.HARDLINK, Action.DELETE])
@pytest.mark.parametrize("name", list(SABOTAGE))
def test_nothing_is_touched_when_any_safety_check_fails(lib, tmp_path, name, action):
    sabotage, reason = SABOTAGE[name]
    res = lib["result"]
    plan = plan_duplicates(res, action, tiers=[Tier.EXACT], move_to=str(tmp_path / "dups"))
    plan = Plan(plan.action, plan.items[:1], (), plan.protected, plan.move_to)
    item = plan.items[0]
    sabotage(item.path, item.keeper.path)
    before = {
        p: (os.lstat(p).st_ino, open(p, "rb").read() if os.path.isfile(p) else None)
        for p in (item.path, item.keeper.path)
        if os.path.lexists(p)
    }
    report = execute(plan, allow_permanent=True)
    (outcome,) = report.outcomes
    assert outcome.status is Status.SKIPPED and reason in outcome.reason
    after = {
        p: (os.lstat(p).st_ino, open(p, "rb").read() if os.path.isfile(p) else None)
        for p in (item.path, item.keeper.path)
        if os.path.lexists(p)
    }
    assert after == before
    assert kit.trash_entries(tmp_path / "xdg-data") == []
    assert not (tmp_path / "dups").exists()


def test_recheck_refuses_protected_paths_and_the_keeper_itself(lib, tmp_path):
    plan = plan_duplicates(lib["result"], Action.TRASH, tiers=[Tier.EXACT])
    protected = Plan(plan.action, plan.items, (), (str(lib["root"] / "backup"),))
    assert {o.reason for o in execute(protected).outcomes} == {"inside a protected folder"}
    item = plan.items[0]
    os.unlink(item.path)
    os.link(item.keeper.path, item.path)  # the "duplicate" is now the kept file under another name
    st = os.stat(item.path)
    forged = PlanItem(
        item.group_id, item.tier, kit.record(item.path).file, item.content_hash, item.keeper, item.keeper_hash
    )
    assert forged.file.ino == st.st_ino
    (outcome,) = execute(Plan(Action.TRASH, (forged,))).outcomes
    assert outcome.status is Status.SKIPPED and outcome.reason == "it is the kept file"
    assert kit.trash_entries(tmp_path / "xdg-data") == []


def test_the_last_copy_of_a_group_is_never_removed_even_if_kept_files_overlap(lib, tmp_path):
    """Two groups whose keepers are each other's duplicates (a GUI regroup race): the second
    item's keeper was removed by the first, so it must be skipped."""
    res = lib["result"]
    a = res.records[lib["idx"]["trip/a.jpg"]]
    copy = res.records[lib["idx"]["backup/a copy.jpg"]]
    first = PlanItem(1, "exact", copy.file, copy.content_hash, a.file, a.content_hash)
    second = PlanItem(2, "exact", a.file, a.content_hash, copy.file, copy.content_hash)
    with pytest.raises(UnsafePlan):
        execute(Plan(Action.TRASH, (first, second)))
    report = execute(Plan(Action.TRASH, (first,)))
    assert report.outcomes[0].status is Status.DONE
    (outcome,) = execute(Plan(Action.TRASH, (second,))).outcomes
    assert outcome.status is Status.SKIPPED and "kept file no longer exists" in outcome.reason
    assert os.path.exists(a.path)


def test_plan_marked_uses_the_unmarked_file_as_keeper(lib):
    res = lib["result"]
    marks = Marks(res.records, res.groups)
    g = res.groups[0]
    keep_first, second, third = g.indices
    marks.mark(g.id, keep_first)
    marks.mark(g.id, second)
    plan = plan_marked(res, marks, Action.TRASH)
    assert {i.path for i in plan.items} == {res.records[keep_first].path, res.records[second].path}
    assert {i.keeper.path for i in plan.items} == {res.records[third].path}
    report = execute(plan)
    assert report.count(Status.DONE) == 2 and os.path.exists(res.records[third].path)


def test_overlapping_groups_never_remove_each_others_keepers(lib):
    """If a regrouping ever puts one file in two groups, the plan still leaves a copy of each."""
    res = lib["result"]
    n = lib["idx"]
    a, copy, deep = n["trip/a.jpg"], n["backup/a copy.jpg"], n["backup/deep/a (1).jpg"]
    policy = KeeperPolicy.parse("shortest")
    overlapping = kit.result(
        res.records, [(Tier.EXACT, [a, copy]), (Tier.EXACT, [copy, deep])], [lib["root"]], rules="shortest"
    )
    marks = Marks(overlapping.records, overlapping.groups, policy)
    assert marks.mark(1, copy) is None and marks.keeper(1) == a
    assert marks.mark(2, deep) is None and marks.keeper(2) == copy
    plan = plan_marked(overlapping, marks, Action.TRASH)
    assert [i.path for i in plan.items] == [res.records[copy].path]
    (refused,) = plan.refused
    assert refused.path == res.records[deep].path and "planned for removal in another group" in refused.reason
    report = execute(plan)
    assert os.path.exists(res.records[a].path)
    assert all(os.path.exists(o.item.keeper.path) for o in report.outcomes)


def test_hardlink_is_refused_across_volumes(lib):
    from dataclasses import replace

    res = lib["result"]
    copy = lib["idx"]["backup/a copy.jpg"]
    records = list(res.records)
    records[copy] = replace(records[copy], file=replace(records[copy].file, dev=records[copy].file.dev + 1))
    elsewhere = replace(res, records=tuple(records))
    plan = plan_duplicates(elsewhere, Action.HARDLINK, tiers=[Tier.EXACT])
    assert [rel(lib, i.path) for i in plan.items] == ["backup/deep/a (1).jpg"]
    assert [(rel(lib, r.path), r.reason) for r in plan.refused] == [
        ("backup/a copy.jpg", "on another volume than the kept file: cannot hard-link")
    ]
