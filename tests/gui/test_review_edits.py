"""Edits of every group (mark by rule, clear all marks, a keeper rule, protecting a folder) are
made on a worker against a copy of the review state and adopted on the GUI thread
(photofind.gui.review_edits): driven here through the real menu and folder list, each must
run off the GUI thread, show its result everywhere the grid shows marks (cells, group
headers, the summary, the actions), and lose no change the user made while it ran."""

from __future__ import annotations

import dataclasses
import os
import threading

import pytest

from photofind.core.cleanup.marks import Marks
from photofind.gui.group_model import Roles
from photofind.gui.text import human_bytes
from tests.gui.conftest import scan_and_wait

ALL_DUPLICATES = "Copies in all duplicate groups (not similar)"


@pytest.fixture
def scanned(qtbot, window, library):
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    return window


@pytest.fixture
def threads(monkeypatch) -> dict[str, list[bool]]:
    """Per Marks method that passes over every group: for each call, whether it ran on the
    GUI thread."""
    seen: dict[str, list[bool]] = {}
    for name in ("mark_duplicates", "clear", "set_policy"):
        real = getattr(Marks, name)

        def recorded(self, *args, _real=real, _name=name, **kwargs):
            seen.setdefault(_name, []).append(threading.current_thread() is threading.main_thread())
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Marks, name, recorded)
    return seen


def menu_action(menu, label: str):
    return next(a for a in menu.actions() if a.text() == label)


def record_of(window, path) -> int:
    return next(i for i, r in enumerate(window.model.records()) if r.path == str(path))


def marked_paths(window) -> set[str]:
    return {window.model.records()[i].path for i in window.model.marked()}


def freed(model, group) -> int:
    keep, records = model.keeper_of(group), model.records()
    return sum(records[i].file.size for i in group.indices if i != keep and records[i].file.nlink <= 1)


def assert_grid_shows_the_review(window) -> None:
    """Every cell, group header and the summary line agree with the review state."""
    model, review = window.model, window.model.review
    for row in range(model.rowCount()):
        header = model.index(row, 0)
        group = model.group(row)
        assert header.data(Roles.MARKED_COUNT) == len(review.marked(group.id))
        assert header.data(Roles.RECLAIMABLE) == freed(model, group)
        for k, member in enumerate(group.members):
            cell = model.index(k, 0, header)
            assert cell.data(Roles.IS_MARKED) == review.is_marked(group.id, member.index)
            assert cell.data(Roles.IS_KEEPER) == (member.index == review.keeper(group.id))
    groups = [model.group(r) for r in range(model.rowCount())]
    free = human_bytes(sum(freed(model, g) for g in groups))
    summary = window.summary.text()
    assert f"<b>{free}</b> can be freed" in summary
    if review.count:
        assert f"<b>{review.count:,}</b> marked ({human_bytes(review.bytes)})" in summary
    else:
        assert "marked" not in summary
    assert window.actions.trash.isEnabled() == bool(review.count)


def test_mark_by_rule_from_the_menu_is_made_on_a_worker_and_shown(qtbot, scanned, library, threads):
    window = scanned
    action = menu_action(window.actions.mark_menu, ALL_DUPLICATES)
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000) as applied:
        action.trigger()
        # Until the marks land, neither another rule nor the trash may act on them.
        assert not window.actions.mark.isEnabled() and not window.actions.trash.isEnabled()
        assert window.model.marked() == frozenset()
    assert applied.args == [5]  # 8 grouped photos, 3 keepers
    assert threads["mark_duplicates"] == [False]
    keepers = {window.model.records()[window.model.keeper_of(g)].path for g in window.model.groups()}
    grouped = {p for group in library["expected_groups"] for p in map(str, group)}
    assert marked_paths(window) == grouped - keepers
    assert window.actions.mark.isEnabled()
    assert window.status_label.text().startswith("Marked 5 photos in exact, pixels, near groups")
    assert_grid_shows_the_review(window)


def test_a_change_made_while_the_rule_runs_is_kept_and_the_rule_made_again(qtbot, scanned, library, threads):
    window, model = scanned, scanned.model
    a_copy = record_of(window, library["paths"]["A_copy"])
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000) as applied:
        menu_action(window.actions.mark_menu, ALL_DUPLICATES).trigger()  # its copy is taken now
        assert model.set_keeper(a_copy)  # then the user picks another keeper in group A
    # The first result was refused (it predates the choice) and the rule made again with it.
    assert threads["mark_duplicates"] == [False, False]
    assert applied.args == [5]
    a_group = model.group_of_record(a_copy)
    assert model.keeper_of(a_group) == a_copy
    assert model.review.marked(a_group.id) == set(a_group.indices) - {a_copy}
    assert str(library["paths"]["A_copy"]) not in marked_paths(window)
    assert_grid_shows_the_review(window)


def test_groups_shown_while_the_rule_runs_are_the_ones_it_marks(qtbot, scanned, threads):
    window, model = scanned, scanned.model
    regrouped = [dataclasses.replace(g, id=g.id + 100) for g in model.groups()]  # new ids
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000) as applied:
        menu_action(window.actions.mark_menu, ALL_DUPLICATES).trigger()  # for the groups shown now
        model.set_groups(model.records(), regrouped)  # then new groups are shown (as a regroup's)
    assert threads["mark_duplicates"] == [False, False]  # made again, for the new groups
    assert applied.args == [5]
    assert all(len(model.review.marked(g.id)) == len(g.members) - 1 for g in regrouped)
    assert_grid_shows_the_review(window)


def test_clear_all_marks_from_the_menu(qtbot, scanned, threads):
    window = scanned
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000):
        menu_action(window.actions.mark_menu, ALL_DUPLICATES).trigger()
    assert window.model.marked()
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000):
        menu_action(window.actions.mark_menu, "Clear all marks").trigger()
    assert threads["clear"] == [False]
    assert window.model.marked() == frozenset() and window.status_label.text() == "Every mark is cleared."
    assert_grid_shows_the_review(window)


def test_protecting_a_folder_unmarks_its_photos_and_makes_one_the_keeper(qtbot, scanned, library, threads):
    window, model = scanned, scanned.model
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000):
        menu_action(window.actions.mark_menu, ALL_DUPLICATES).trigger()
    web = str(library["root"] / "web")
    assert any(p.startswith(web + os.sep) for p in marked_paths(window))
    window.add_folders([web])  # the folder list changes; protection does not: no edit
    assert not window.review.edits.busy
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000):
        window.folders.model.set_protected(1, True)  # the lock toggle in the folder list
    assert threads["set_policy"] == [False]
    assert not any(p.startswith(web + os.sep) for p in marked_paths(window))
    b_group = model.group_of_record(record_of(window, library["paths"]["B"]))
    assert model.records()[model.keeper_of(b_group)].path.startswith(web + os.sep)
    assert model.index_of_record(record_of(window, library["paths"]["B_q40"])).data(Roles.IS_PROTECTED)
    assert_grid_shows_the_review(window)


def test_a_keeper_rule_from_the_menu_picks_every_keeper_on_a_worker(qtbot, scanned, library, threads):
    window, model = scanned, scanned.model
    keep_menu = menu_action(window.actions.mark_menu, "Keep in each group").menu()
    label = "Original names: no 'copy', '(1)' or '-edited'"
    with qtbot.waitSignal(window.review.edits.applied, timeout=30_000):
        menu_action(keep_menu, label).trigger()
    assert threads["set_policy"] == [False]
    a_group = model.group_of_record(record_of(window, library["paths"]["A"]))
    assert "copy" not in os.path.basename(model.records()[model.keeper_of(a_group)].path)
    assert window.prefs.keep_rules == "unedited,resolution,complete,format,size,oldest,mtime,shortest"
    assert window.status_label.text().startswith("Keeping: original names")
    assert_grid_shows_the_review(window)
