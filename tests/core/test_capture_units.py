"""Clean-up acts on capture units: companions travel with their photo, come back with undo,
are never orphaned, and a companion with no copy beside the kept photo is never lost."""

import os
from dataclasses import replace

import pytest

from photofind.core.cleanup.actions import Action, plan_as_json, plan_duplicates
from photofind.core.cleanup.decisions import apply_for_scan
from photofind.core.cleanup.executor import Status, execute
from photofind.core.cleanup.journal import Journal
from photofind.core.cleanup.restore import UndoStatus, undo
from photofind.core.scan.companions import find_companions
from photofind.core.types import Tier
from tests import cleanupkit as kit

XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


@pytest.fixture(autouse=True)
def _home_on_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))


def mov(path, seed=0):
    """A tiny MOV stand-in: an ftyp box of a QuickTime file and some payload."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  " + bytes([seed]) * 64)
    return path


def xmp(path, rating):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(XMP.format(rating=rating), encoding="utf-8")
    return path


def library(root, *, keeper_has_video=True, dup_xmp_rating=None, keeper_xmp_rating=None):
    """A/IMG_0001.jpg (kept, larger) and B/IMG_0001.jpg (a smaller copy), each a Live Photo."""
    kit.photo(root / "A" / "IMG_0001.jpg", 1, (96, 72))
    kit.photo(root / "B" / "IMG_0001.jpg", 1, (48, 36))
    if keeper_has_video:
        mov(root / "A" / "IMG_0001.MOV")
    mov(root / "B" / "IMG_0001.MOV")
    if keeper_xmp_rating is not None:
        xmp(root / "A" / "IMG_0001.xmp", keeper_xmp_rating)
    if dup_xmp_rating is not None:
        xmp(root / "B" / "IMG_0001.xmp", dup_xmp_rating)
    return scan_of(root)


def scan_of(root, rules=""):
    paths = sorted(str(p) for p in root.rglob("*.jpg"))
    records = [kit.record(p) for p in paths]
    res = kit.result(records, [(Tier.NEAR, list(range(len(records))))], [root], rules=rules)
    return replace(res, companions=find_companions(paths))


def test_trash_takes_the_companions_along_and_undo_brings_them_back_byte_for_byte(tmp_path):
    root = tmp_path / "photos"
    res = library(root, dup_xmp_rating=5, keeper_xmp_rating=5)
    before = kit.snapshot(root)
    plan = plan_duplicates(res, Action.TRASH)
    assert [(os.path.relpath(i.path, root), i.kind) for i in plan.items] == [
        ("B/IMG_0001.jpg", ""),
        ("B/IMG_0001.MOV", "live"),
        ("B/IMG_0001.xmp", "xmp"),
    ]
    assert plan.companions == 2 and "with 2 companions" in plan.summary()
    assert plan_as_json(plan)["items"][1]["companion_of"] == str(root / "B" / "IMG_0001.jpg")
    report = execute(plan)
    assert report.count(Status.DONE) == 3
    assert sorted(kit.snapshot(root)) == ["A/IMG_0001.MOV", "A/IMG_0001.jpg", "A/IMG_0001.xmp"]
    assert kit.trash_entries(tmp_path / "xdg-data") == ["IMG_0001.MOV", "IMG_0001.jpg", "IMG_0001.xmp"]
    details = Journal().batch(report.batch_id).details
    assert [row[1] for row in details["companions"]] == ["live", "xmp"]
    restored = undo()
    assert restored.count(UndoStatus.RESTORED) == 3
    assert kit.snapshot(root) == before


@pytest.mark.parametrize("action", [Action.MOVE, Action.DELETE])
def test_move_and_delete_act_on_the_whole_unit(tmp_path, action):
    root = tmp_path / "photos"
    res = library(root)
    before = kit.snapshot(root)
    dest = tmp_path / "dups"
    plan = plan_duplicates(res, action, move_to=str(dest) if action is Action.MOVE else None)
    report = execute(plan, allow_permanent=True)
    assert report.count(Status.DONE) == 2
    assert sorted(kit.snapshot(root)) == ["A/IMG_0001.MOV", "A/IMG_0001.jpg"]
    if action is Action.MOVE:
        assert sorted(kit.snapshot(dest)) == ["B/IMG_0001.MOV", "B/IMG_0001.jpg"]
        undo()
        assert kit.snapshot(root) == before
        assert not dest.exists() or kit.snapshot(dest) == {}


def test_a_moved_photo_renamed_at_its_destination_takes_its_companion_to_the_same_name(tmp_path):
    root = tmp_path / "photos"
    res = library(root)
    dest = tmp_path / "dups"
    kit.photo(dest / "B" / "IMG_0001.jpg", 9)  # already there: the photo becomes "IMG_0001 (1).jpg"
    plan = plan_duplicates(res, Action.MOVE, move_to=str(dest))
    assert [os.path.basename(i.target) for i in plan.items] == ["IMG_0001 (1).jpg", "IMG_0001 (1).MOV"]


def test_hardlink_leaves_the_companions_with_the_linked_name(tmp_path):
    root = tmp_path / "photos"
    kit.photo(root / "A" / "IMG_0001.jpg", 1)
    kit.factory.copy(root / "A" / "IMG_0001.jpg", root / "B" / "IMG_0001.jpg")
    mov(root / "A" / "IMG_0001.MOV", seed=1)
    mov(root / "B" / "IMG_0001.MOV", seed=7)  # unique, but the photo's name stays
    plan = plan_duplicates(scan_of(root), Action.HARDLINK)
    assert [os.path.relpath(i.path, root) for i in plan.items] == ["B/IMG_0001.jpg"]
    assert execute(plan).count(Status.DONE) == 1
    assert (root / "B" / "IMG_0001.MOV").is_file() and (root / "B" / "IMG_0001.jpg").is_file()


def test_a_live_video_the_keeper_lacks_is_never_lost(tmp_path):
    root = tmp_path / "photos"
    res = library(root, keeper_has_video=False)
    before = kit.snapshot(root)
    plan = plan_duplicates(res, Action.TRASH)
    assert plan.items == ()
    assert "Live Photo video IMG_0001.MOV has no copy beside the kept photo" in plan.refused[0].reason
    execute(plan)
    assert kit.snapshot(root) == before


def test_a_video_with_other_bytes_is_unique_content(tmp_path):
    root = tmp_path / "photos"
    res = library(root)
    mov(root / "B" / "IMG_0001.MOV", seed=3)
    plan = plan_duplicates(scan_of(root), Action.TRASH)
    assert plan.items == () and "no copy beside the kept photo" in plan.refused[0].reason
    assert res.companions  # the first scan saw the units too


def test_a_sidecar_with_a_rating_the_keeper_lacks_keeps_its_photo(tmp_path):
    root = tmp_path / "photos"
    res = library(root, dup_xmp_rating=5, keeper_xmp_rating=1)
    plan = plan_duplicates(res, Action.TRASH)
    assert plan.items == ()
    assert "XMP sidecar IMG_0001.xmp has no copy" in plan.refused[0].reason


def test_the_keeper_rule_prefers_the_complete_unit(tmp_path):
    root = tmp_path / "photos"
    kit.photo(root / "A" / "IMG_0001.jpg", 1, (96, 72))
    kit.factory.copy(root / "A" / "IMG_0001.jpg", root / "B" / "IMG_0001.jpg")
    mov(root / "B" / "IMG_0001.MOV")  # only the copy in B is a Live Photo
    res = scan_of(root)
    # The scan picks each group's keeper with the default chain, which ranks `complete` after
    # resolution; the plan keeps the keeper the scan chose.
    groups, _notes = apply_for_scan(res.groups, res.records, None, res.settings, companions=res.companions)
    plan = plan_duplicates(replace(res, groups=groups), Action.TRASH)
    assert [os.path.relpath(i.path, root) for i in plan.items] == ["A/IMG_0001.jpg"]
    assert plan.items[0].keeper.path == str(root / "B" / "IMG_0001.jpg")


def test_a_companion_that_fails_its_recheck_keeps_its_photo_too(tmp_path):
    root = tmp_path / "photos"
    res = library(root)
    plan = plan_duplicates(res, Action.TRASH)
    with open(root / "B" / "IMG_0001.MOV", "ab") as fh:
        fh.write(b"changed")  # after the plan, before acting
    report = execute(plan)
    assert [o.status for o in report.outcomes] == [Status.SKIPPED, Status.SKIPPED]
    assert "its companion IMG_0001.MOV changed since scan" in report.outcomes[0].reason
    assert report.outcomes[1].reason == "its photo was left alone"
    assert (root / "B" / "IMG_0001.jpg").is_file() and (root / "B" / "IMG_0001.MOV").is_file()


def test_a_photo_that_fails_its_recheck_keeps_its_companions(tmp_path):
    root = tmp_path / "photos"
    res = library(root)
    plan = plan_duplicates(res, Action.TRASH)
    os.utime(root / "B" / "IMG_0001.jpg", ns=(1, 1))
    report = execute(plan)
    assert [o.status for o in report.outcomes] == [Status.SKIPPED, Status.SKIPPED]
    assert sorted(kit.snapshot(root)) == [
        "A/IMG_0001.MOV",
        "A/IMG_0001.jpg",
        "B/IMG_0001.MOV",
        "B/IMG_0001.jpg",
    ]


def test_a_companion_shared_with_a_photo_that_stays_is_left_with_it(tmp_path):
    root = tmp_path / "photos"
    kit.photo(root / "A" / "IMG_0001.jpg", 1, (96, 72))
    kit.photo(root / "A" / "IMG_0001.png", 1, (48, 36))  # a smaller export beside it, same stem
    mov(root / "A" / "IMG_0001.MOV")
    paths = [str(root / "A" / "IMG_0001.jpg"), str(root / "A" / "IMG_0001.png")]
    records = [kit.record(p) for p in paths]
    res = replace(kit.result(records, [(Tier.NEAR, [0, 1])], [root]), companions=find_companions(paths))
    plan = plan_duplicates(res, Action.TRASH)
    assert [os.path.basename(i.path) for i in plan.items] == ["IMG_0001.png"]
    execute(plan)
    assert sorted(kit.snapshot(root)) == ["A/IMG_0001.MOV", "A/IMG_0001.jpg"]


def test_cancel_never_stops_between_a_photo_and_its_companions(tmp_path):
    from photofind.core.progress import CancelToken

    root = tmp_path / "photos"
    res = library(root)
    token = CancelToken()

    class StopAfterFirst:
        def update(self, phase, done, total):
            if done >= 1:
                token.cancel()

        def is_cancelled(self):
            return token.is_cancelled()

    report = execute(plan_duplicates(res, Action.TRASH), progress=StopAfterFirst())
    assert [o.status for o in report.outcomes] == [Status.DONE, Status.DONE]


def test_a_companion_two_removed_photos_share_goes_once_and_comes_back(tmp_path):
    root = tmp_path / "photos"
    kit.photo(root / "A" / "IMG_0001.jpg", 1, (96, 72))
    mov(root / "A" / "IMG_0001.MOV")
    kit.photo(root / "B" / "IMG_0001.jpg", 1, (48, 36))
    kit.photo(root / "B" / "IMG_0001.png", 1, (48, 36))
    mov(root / "B" / "IMG_0001.MOV")  # claimed by both photos in B
    before = kit.snapshot(root)
    paths = sorted(str(p) for p in root.rglob("*") if p.suffix in (".jpg", ".png"))
    records = [kit.record(p) for p in paths]
    res = replace(kit.result(records, [(Tier.NEAR, [0, 1, 2])], [root]), companions=find_companions(paths))
    plan = plan_duplicates(res, Action.TRASH)
    assert sorted(os.path.relpath(i.path, root) for i in plan.items) == [
        "B/IMG_0001.MOV",
        "B/IMG_0001.jpg",
        "B/IMG_0001.png",
    ]
    assert execute(plan).count(Status.DONE) == 3
    assert sorted(kit.snapshot(root)) == ["A/IMG_0001.MOV", "A/IMG_0001.jpg"]
    undo()
    assert kit.snapshot(root) == before
