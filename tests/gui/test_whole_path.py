"""The whole path a user takes, in the real main window, by signals only: pick a photo in the
Library, see photos like it, walk on to a result, come Back, compare from the panel, mark a
copy in the duplicates grid, move it to the trash, and undo."""

from __future__ import annotations

import os

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

    # The duplicates grid: select the half-size copy of B and mark it with Space.
    window.tabs.setCurrentIndex(0)
    grid, model = window.grid, window.model
    qtbot.waitExposed(grid)
    record = next(i for i, r in enumerate(model.records()) if r.path == str(paths["B_half"]))
    cell = model.index_of_record(record)
    with qtbot.waitSignal(model.reviewChanged):
        click(qtbot, grid, cell)
        qtbot.keyClick(grid.viewport(), Qt.Key.Key_Space)
    assert model.marked() == {record} and cell.data(Roles.IS_MARKED)

    # Trash, after the confirmation (answered yes), then undo puts it back.
    size = os.path.getsize(paths["B_half"])
    asked = []
    monkeypatch.setattr(window.review, "confirm", lambda *args, **kw: asked.append(args) or True)
    with qtbot.waitSignal(window.controller.trashFinished, timeout=30_000):
        window.actions.trash.trigger()
    assert asked == [(1, size, 1, "trash")]
    assert not paths["B_half"].exists() and paths["B"].exists()
    with qtbot.waitSignal(window.controller.scanFinished, timeout=60_000):  # undo rescans
        window.actions.undo.trigger()
    assert paths["B_half"].exists()
    back_in_grid = [i for i, r in enumerate(model.records()) if r.path == str(paths["B_half"])]
    assert back_in_grid and model.group_of_record(back_in_grid[0]) is not None
