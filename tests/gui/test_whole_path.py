"""The whole path a user takes, in the real main window, by signals only: pick a photo in the
Library, see photos like it, walk on to a result, come Back, compare from the panel (a copy in
the searched photo's group, and a photo in no group with it), mark results from the panel and
a copy in the duplicates grid, move them to the trash, and undo."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt

from photofind.gui.group_model import Roles
from photofind.gui.similar_model import SimilarResultsModel
from tests.gui.conftest import scan_and_wait


def library_index(lib, path: str):
    """The Library grid's index of the photo at `path`."""
    model = lib.model
    for s in range(model.rowCount()):
        section = model.index(s, 0)
        for k in range(model.rowCount(section)):
            photo = model.index(k, 0, section)
            if photo.data(Roles.PATH) == path:
                return photo
    raise AssertionError(f"{path} is not in the library")


def model_path(window, record: int) -> str:
    return window.model.records()[record].path


def click(qtbot, view, index) -> None:
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


def test_library_similar_walk_on_back_compare_mark_trash_undo(qtbot, window, library, monkeypatch):
    paths = library["paths"]
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)

    # Library tab: click a photo; the similar page shows photos like it, its copies first.
    lib, similar = window.library, window.similar
    window.tabs.setCurrentWidget(lib)
    qtbot.waitExposed(lib.grid)
    query = str(paths["B"])
    with qtbot.waitSignal(similar.searchFinished, timeout=30_000) as done:
        click(qtbot, lib.grid, library_index(lib, query))
    assert done.args[0] == query and window.tabs.currentWidget() is similar
    first = similar.results()
    assert {p for p, *_ in first[:2]} == {str(paths["B_half"]), str(paths["B_q40"])}
    assert all(relation.startswith("copy") for *_, relation in first[:2])
    assert not similar.back_button.isEnabled()

    # Walk on: click a result that is not a copy; the page now searches with it.
    qtbot.waitExposed(similar.list)
    target_row = next(k for k, (p, *_) in enumerate(first) if p == str(paths["D"]))
    target = similar.model.index(target_row, 0)
    assert target.data(SimilarResultsModel.PathRole) == str(paths["D"])
    with qtbot.waitSignal(similar.searchFinished, timeout=30_000) as walked:
        click(qtbot, similar.list, target)
    assert walked.args[0] == str(paths["D"]) and similar.query == str(paths["D"])
    assert str(paths["D"]) not in [p for p, *_ in similar.results()]
    assert similar.back_button.isEnabled()

    # Back returns to the first photo and its results.
    with qtbot.waitSignal(similar.searchFinished, timeout=30_000) as back:
        qtbot.mouseClick(similar.back_button, Qt.MouseButton.LeftButton)
    assert back.args[0] == query and similar.results() == first
    assert not similar.back_button.isEnabled()

    # Compare from the panel: the side-by-side view of the group the query and its copy share.
    menu = similar.result_menu(str(paths["B_half"]))
    with qtbot.waitSignal(similar.compareRequested):
        next(a for a in menu.actions() if a.text() == "Compare with the searched photo").trigger()
    dialog = window.review.compare_dialog
    assert dialog is not None and dialog.isVisible()
    assert {model_path(window, i) for i in dialog.indices} == {
        query,
        str(paths["B_half"]),
        str(paths["B_q40"]),
    }
    dialog.close()

    # ...and of a result in no group with it: the two photos, the searched one kept.
    menu = similar.result_menu(str(paths["D"]))
    next(a for a in menu.actions() if a.text() == "Compare with the searched photo").trigger()
    dialog = window.review.compare_dialog
    assert dialog is not None and dialog.isVisible()
    assert [model_path(window, i) for i in dialog.indices] == [query, str(paths["D"])]
    assert model_path(window, dialog.keeper) == query
    dialog.close()

    # Mark from the panel: D with its round toggle, the half-size copy with Space.
    model = window.model
    record_of = {r.path: i for i, r in enumerate(model.records())}
    with qtbot.waitSignal(model.reviewChanged):
        d_cell = similar.model.index(row_of(similar, paths["D"]), 0)
        toggle = similar.list.itemDelegate().toggle_rect(similar.list.visualRect(d_cell))
        qtbot.mouseClick(similar.list.viewport(), Qt.MouseButton.LeftButton, pos=toggle.center())
    assert similar.query == query  # the toggle marks; it does not walk on
    assert d_cell.data(SimilarResultsModel.MarkedRole) and model.marked() == {record_of[str(paths["D"])]}
    half_cell = similar.model.index(row_of(similar, paths["B_half"]), 0)
    similar.list.setCurrentIndex(half_cell)
    similar.list.setFocus()
    with qtbot.waitSignal(model.reviewChanged):
        qtbot.keyClick(similar.list, Qt.Key.Key_Space)
    assert half_cell.data(SimilarResultsModel.MarkedRole)
    # The copy is marked in its duplicate group, so the grid shows it marked too.
    half = record_of[str(paths["B_half"])]
    assert model.index_of_record(half).data(Roles.IS_MARKED)
    # Delete on the panel: the usual confirmation, then both go to the trash; B stays.
    sizes = os.path.getsize(paths["B_half"]) + os.path.getsize(paths["D"])
    asked = []
    monkeypatch.setattr(window.review, "confirm", lambda *args, **kw: asked.append(args) or True)
    with qtbot.waitSignal(window.controller.trashFinished, timeout=30_000):
        qtbot.keyClick(similar.list, Qt.Key.Key_Delete)
    assert asked == [(2, sizes, 2, "trash")]
    assert not paths["B_half"].exists() and not paths["D"].exists() and paths["B"].exists()
    assert model.marked() == set() and model.review.count == 0
    with pytest.raises(AssertionError):  # the Library no longer shows the trashed photo
        library_index(lib, str(paths["D"]))
    with qtbot.waitSignal(window.controller.scanFinished, timeout=60_000):  # undo rescans
        window.actions.undo.trigger()
    assert paths["B_half"].exists() and paths["D"].exists()
    back_in_grid = [i for i, r in enumerate(model.records()) if r.path == str(paths["B_half"])]
    assert back_in_grid and model.group_of_record(back_in_grid[0]) is not None


def row_of(similar, path) -> int:
    return next(k for k, (p, *_) in enumerate(similar.results()) if p == str(path))


def test_marking_a_result_of_a_photo_outside_the_library_says_why(qtbot, window, library, tmp_path):
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    outside = tmp_path / "elsewhere" / "b.jpg"
    outside.parent.mkdir()
    outside.write_bytes(library["paths"]["B"].read_bytes())
    similar = window.similar
    with qtbot.waitSignal(similar.searchFinished, timeout=30_000):
        window.library.photoChosen.emit(str(outside))
    result = similar.results()[0][0]
    messages = []
    window.similar_review.statusMessage.connect(messages.append)
    similar.markToggleRequested.emit(str(outside), [result])
    assert window.model.review.count == 0
    assert messages == ["Compare and mark work on photos of the library; this photo is not one of them."]
