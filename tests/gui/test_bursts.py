"""Burst stacks in the app: the header names the suggested best shot, and "Keep the best shot,
trash the rest" marks the rest of that one burst, trashes it after the usual confirmation,
and undo puts it back. Mark by rule never touches a burst."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import ImageDraw, ImageFilter
from PySide6.QtWidgets import QMenu

from photofind.core.cleanup.executor import Status
from photofind.core.types import Tier
from photofind.gui.group_model import Roles
from tests import imagefactory as factory
from tests.gui.conftest import edit_and_wait, scan_and_wait

BEST_SHOT = "Keep the best shot, trash the rest"


@pytest.fixture
def burst_library(tmp_path: Path) -> dict[str, Path]:
    """Three frames a second apart from one camera, a subject moving across one scene (so the
    pixel check calls them different photos); the middle frame is crisp, the others shaken.
    Plus an exact copy pair, so the grid holds a duplicate group too."""
    root = tmp_path / "photos"
    scene = factory.make_scene(7)
    paths = {}
    for k in range(3):
        frame = scene.copy()
        ImageDraw.Draw(frame).ellipse((120 + 40 * k, 120, 220 + 40 * k, 220), fill=(240, 200, 40))
        if k != 1:
            frame = frame.filter(ImageFilter.GaussianBlur(3))
        taken = f"2024:05:01 10:00:0{k}"
        paths[f"frame{k}"] = factory.with_exif(frame, root / "burst" / f"frame{k}.jpg", taken, "Acme", "Snap")
    paths["d"] = factory.save(factory.make_scene(44), root / "misc" / "d.jpg")
    paths["d_copy"] = factory.copy(paths["d"], root / "backup" / "d.jpg")
    return paths


def burst_row(window) -> int:
    model = window.model
    return next(r for r in range(model.rowCount()) if model.best_shot(model.group(r)) is not None)


def menu_action(window, row: int, label: str):
    """The action `label` of the grid's context menu on the header of group `row`."""
    window.review.context_menu(window.grid.visualRect(window.model.index(row, 0)).center())
    menu = window.grid.findChildren(QMenu)[-1]
    menu.close()
    return next((a for a in menu.actions() if a.text() == label), None)


def test_burst_header_suggests_the_sharpest_frame(qtbot, window, burst_library):
    window.add_folders([str(burst_library["d"].parent.parent)])
    scan_and_wait(qtbot, window)
    model = window.model
    header = model.index(burst_row(window), 0)
    assert header.data(Roles.TIER) == Tier.SIMILAR.value
    assert header.data() == "Burst \u00b7 3 photos"
    assert header.data(Roles.WHY).endswith("best shot: frame1.jpg (sharpest)")
    group = model.group(burst_row(window))
    assert model.records()[model.keeper_of(group)].path == str(burst_library["frame1"])
    duplicates = next(r for r in range(model.rowCount()) if r != burst_row(window))
    assert menu_action(window, duplicates, BEST_SHOT) is None  # offered on bursts only
    # Mark by rule, even over every tier, leaves bursts alone.
    edit_and_wait(qtbot, window, lambda: window.review.mark_by_rule({Tier.EXACT, Tier.PIXELS, Tier.NEAR}))
    assert not model.review.marked(group.id)


def test_keep_the_best_shot_trashes_the_rest_of_that_burst_after_confirming(
    qtbot, window, burst_library, monkeypatch
):
    window.add_folders([str(burst_library["d"].parent.parent)])
    scan_and_wait(qtbot, window)
    model, review = window.model, window.model.review
    answers, asked = [False, True], []

    def confirm(*args, **kw):  # what the user is asked, and what is marked while asked
        asked.append((args, {model.records()[i].path for i in review.marked_records()}))
        return answers.pop(0)

    monkeypatch.setattr(window.review, "confirm", confirm)
    rest = [burst_library["frame0"], burst_library["frame2"]]
    expected_bytes = sum(os.path.getsize(p) for p in rest)
    # The user says no: nothing is trashed and the marks the action made are taken back.
    assert not window.review.keep_best_shot(burst_row(window))
    assert review.count == 0 and all(os.path.exists(p) for p in burst_library.values())
    with qtbot.waitSignal(window.controller.trashFinished, timeout=30_000) as done:
        menu_action(window, burst_row(window), BEST_SHOT).trigger()
    # The rest of this burst only: the duplicate pair is not touched.
    assert asked == [((2, expected_bytes, 1, "trash"), {str(p) for p in rest})] * 2
    assert done.args[0].count(Status.DONE) == 2
    assert not any(p.exists() for p in rest)
    assert (
        burst_library["frame1"].exists() and burst_library["d"].exists() and burst_library["d_copy"].exists()
    )
    with qtbot.waitSignal(window.controller.scanFinished, timeout=60_000):  # undo rescans
        window.actions.undo.trigger()
    assert all(p.exists() for p in rest)
    assert model.best_shot(model.group(burst_row(window))) is not None  # the burst is back
