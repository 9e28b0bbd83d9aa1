"""The grid's new groups are made ready on a worker (photofind.core.cleanup.ready) and only
swapped in on the GUI thread: what it shows must be what it computed in place before, and no
review change may be lost on the way, not even one made while the worker ran."""

from __future__ import annotations

import threading

from photofind.core.cleanup.ready import make_ready
from photofind.core.types import Tier
from photofind.gui import controller as controller_module
from photofind.gui import group_model as group_model_module
from photofind.gui.group_model import Roles, SortKey
from tests.gui.conftest import scan_and_wait

_RANK = {t: k for k, t in enumerate(Tier)}


def freed(model, group) -> int:
    """Bytes this group's clean-up frees, from the keeper the grid shows: the rule, plainly."""
    keep, records = model.keeper_of(group), model.records()
    return sum(records[i].file.size for i in group.indices if i != keep and records[i].file.nlink <= 1)


def in_place_rows(model, key: SortKey) -> list[int]:
    """The group ids in the order the grid sorted them on the GUI thread before."""
    keys = {
        SortKey.RECLAIMABLE: lambda g: (-freed(model, g), _RANK[g.tier], g.id),
        SortKey.SIZE: lambda g: (-len(g.members), _RANK[g.tier], g.id),
        SortKey.SIMILARITY: lambda g: (-g.mean_similarity, _RANK[g.tier], g.id),
    }
    shown = (g for g in model.groups() if g.tier in model.tier_filter())
    return [g.id for g in sorted(shown, key=keys[key])]


def assert_shown_as_in_place(window) -> None:
    model = window.model
    for key in SortKey:
        window.filters.set_sort_key(key)
        rows = [model.index(r, 0) for r in range(model.rowCount())]
        assert [r.data(Roles.GROUP_ID) for r in rows] == in_place_rows(model, key), key
        assert [r.data(Roles.RECLAIMABLE) for r in rows] == [freed(model, model.group(r.row())) for r in rows]
    groups = [model.group(r) for r in range(model.rowCount())]
    assert model.shown_totals() == (
        len(groups),
        sum(len(g.members) for g in groups),
        sum(freed(model, g) for g in groups),
    )


def group_holding(model, path: str):
    return next(g for g in model.groups() if any(model.records()[i].path == path for i in g.indices))


def test_groups_from_a_scan_and_a_regroup_show_in_the_in_place_order_and_keep_the_marks(
    qtbot, window, library
):
    paths = {k: str(p) for k, p in library["paths"].items()}
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    model = window.model
    assert model.rowCount() == 3
    assert_shown_as_in_place(window)
    record = {r.path: i for i, r in enumerate(model.records())}
    # A keeper chosen in one group and a copy marked in another: the order by space changes.
    assert model.set_keeper(record[paths["A_rot"]])
    assert model.set_marked(record[paths["B_q40"]], True)
    marked_before = model.marked()
    assert_shown_as_in_place(window)  # the sums follow each change

    with qtbot.waitSignal(window.controller.groupsChanged, timeout=30_000):
        window.filters.slider.setValue(window.filters.slider.value() - 50)  # looser: a regroup
    assert model.marked() == marked_before
    assert model.keeper_of(group_holding(model, paths["A"])) == record[paths["A_rot"]]
    assert model.index_of_record(record[paths["B_q40"]]).data(Roles.IS_MARKED) is True
    assert_shown_as_in_place(window)


def test_a_mark_made_while_the_regroup_runs_is_not_lost_and_the_carry_over_is_redone_on_a_worker(
    qtbot, window, library, monkeypatch
):
    paths = {k: str(p) for k, p in library["paths"].items()}
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    model = window.model
    record = {r.path: i for i, r in enumerate(model.records())}
    on_gui_thread = []  # per carry-over of the review: whether it ran on the GUI thread

    def recorded(*args):
        on_gui_thread.append(threading.current_thread() is threading.main_thread())
        return make_ready(*args)

    monkeypatch.setattr(controller_module, "make_ready", recorded)
    monkeypatch.setattr(group_model_module, "make_ready", recorded)
    with qtbot.waitSignal(window.controller.groupsChanged, timeout=30_000) as arrived:
        window.controller.regroup(window.scan_settings().thresholds)  # its copy of the review is taken now
        assert model.set_marked(record[paths["C_crop"]], True)  # then the user marks
        with_the_mark = model.review.version
    # The groups made ready against the review before the mark were made ready again, against
    # the review with it, and both times on a worker.
    assert on_gui_thread == [False, False]
    assert arrived.args[0].base_version == with_the_mark
    assert model.marked() == {record[paths["C_crop"]]}
    assert model.index_of_record(record[paths["C_crop"]]).data(Roles.IS_MARKED) is True
    assert_shown_as_in_place(window)
