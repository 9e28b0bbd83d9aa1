"""Browse similar: result order, searching off the GUI thread, re-centring on click, drops."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import QApplication, QPushButton

from photofind.gui.similar_view import SimilarResultsModel, SimilarView
from tests import imagefactory as factory


class FakeSearch:
    """Scores photos by how close their seeds are; answers in a scrambled order on purpose,
    and includes the query itself, as a brute-force search over the library does."""

    def __init__(self, paths: dict[int, str]) -> None:
        self.paths = paths
        self.calls: list[tuple[str, int, int]] = []  # (path, top, thread id)
        self.gate: threading.Event | None = None

    def __call__(self, path: str, top: int) -> list[tuple[str, float, str]]:
        self.calls.append((path, top, threading.get_ident()))
        if self.gate is not None:
            self.gate.wait(5)
        seed = next((s for s, p in self.paths.items() if p == path), 0)
        scored = [
            (p, 1.0 - abs(s - seed) / 10, "near" if abs(s - seed) <= 1 else "similar")
            for s, p in self.paths.items()
        ]
        return scored[::2] + scored[1::2]


@pytest.fixture
def library(tmp_path: Path) -> dict[int, str]:
    return {
        seed: str(factory.save(factory.make_scene(seed, (96, 72)), tmp_path / "lib" / f"p{seed}.jpg"))
        for seed in range(1, 7)
    }


@pytest.fixture
def view(qtbot, library):
    view = SimilarView(FakeSearch(library), top=4)
    qtbot.addWidget(view)
    view.resize(1100, 700)
    view.show()
    qtbot.waitExposed(view)
    return view


def _search(view: SimilarView) -> FakeSearch:
    return view._search


def test_results_best_first_without_the_query_and_searched_off_the_gui_thread(
    qtbot, qtmodeltester, view, library
):
    with qtbot.waitSignal(view.searchFinished, timeout=5000) as blocker:
        view.show_for(library[3])
    assert blocker.args == [library[3], 4]
    # Sorted best first whatever order the search answers in; ties keep the search's order
    # (it answered p1 p3 p5 p2 p4 p6), and the query itself is left out.
    paths = [p for p, *_ in view.results()]
    assert paths == [library[2], library[4], library[1], library[5]]
    assert [s for _, s, *_ in view.results()] == pytest.approx([0.9, 0.9, 0.8, 0.8])
    assert [t for _, _, t, _ in view.results()] == ["near", "near", "similar", "similar"]

    call_path, top, thread = _search(view).calls[0]
    assert (call_path, top) == (library[3], 5)  # one extra: the query usually finds itself
    assert thread != threading.get_ident()

    model = view.model
    qtmodeltester.check(model)
    first = model.index(0, 0)
    assert first.data(SimilarResultsModel.PathRole) == paths[0]
    assert first.data(SimilarResultsModel.SimilarityRole) == pytest.approx(0.9)
    assert first.data() == Path(paths[0]).name
    assert view.query_name.text() == "p3.jpg"
    assert view.status.text() == "4 similar photos, most similar first."


def test_thumbnails_and_the_query_preview_load(qtbot, view, library):
    with qtbot.waitSignal(view.searchFinished, timeout=5000):
        view.show_for(library[1])
    index = view.model.index(0, 0)
    qtbot.waitUntil(lambda: isinstance(index.data(Qt.ItemDataRole.DecorationRole), QPixmap), timeout=5000)
    assert index.data(Qt.ItemDataRole.DecorationRole).width() == 96
    qtbot.waitUntil(
        lambda: view.query_image.pixmap() is not None and not view.query_image.pixmap().isNull(), timeout=5000
    )


def test_clicking_a_result_recentres_and_back_returns(qtbot, view, library):
    with qtbot.waitSignal(view.searchFinished, timeout=5000):
        view.show_for(library[1])
    target = view.results()[1][0]
    rect = view.list.visualRect(view.model.index(1, 0))
    with qtbot.waitSignal(view.searchFinished, timeout=5000) as done:
        with qtbot.waitSignal(view.centred, timeout=1000) as centred:
            qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert centred.args == [target]
    assert done.args[0] == target
    assert view.query == target
    assert _search(view).calls[-1][0] == target
    assert target not in [p for p, *_ in view.results()]
    assert library[1] in [p for p, *_ in view.results()]
    assert view.back_button.isEnabled()

    with qtbot.waitSignal(view.searchFinished, timeout=5000) as blocker:
        view.back()
    assert blocker.args[0] == library[1]
    assert not view.back_button.isEnabled()


def _drag_and_drop(view: SimilarView, mime: QMimeData) -> tuple[bool, bool]:
    pos = QPointF(view.query_image.geometry().center())
    enter = QDragEnterEvent(
        pos.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(view, enter)
    if not enter.isAccepted():
        return False, False
    drop = QDropEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(view, drop)
    return True, drop.isAccepted()


def test_a_photo_dropped_from_outside_becomes_the_query(qtbot, view, library, tmp_path):
    outside = factory.save(
        factory.make_scene(3, (96, 72)).rotate(3), tmp_path / "Downloads" / "from a friend.jpg"
    )
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/not-local.jpg"), QUrl.fromLocalFile(str(outside))])
    with qtbot.waitSignal(view.searchFinished, timeout=5000) as blocker:
        entered, dropped = _drag_and_drop(view, mime)
    assert entered and dropped
    assert blocker.args[0] == str(outside)
    assert view.query == str(outside)
    assert view.query_name.text() == "from a friend.jpg"
    assert len(view.results()) == 4  # the dropped file is not in the library: nothing left out


def test_drops_that_are_not_local_files_are_refused(qtbot, view):
    text = QMimeData()
    text.setText("a caption, not a photo")
    web = QMimeData()
    web.setUrls([QUrl("https://example.com/photo.jpg")])
    with qtbot.assertNotEmitted(view.centred):
        assert _drag_and_drop(view, text) == (False, False)
        assert _drag_and_drop(view, web) == (False, False)
    assert view.query is None


def test_a_failing_search_says_why(qtbot, library):
    def broken(path: str, top: int) -> list:
        raise RuntimeError("the similarity model is not loaded")

    view = SimilarView(broken)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.searchFailed, timeout=5000) as blocker:
        view.show_for(library[2])
    assert blocker.args == [library[2], "the similarity model is not loaded"]
    assert "the similarity model is not loaded" in view.status.text()
    assert view.results() == []


def test_a_newer_query_wins_over_a_slower_older_one(qtbot, view, library):
    search = _search(view)
    search.gate = threading.Event()
    finished: list[str] = []
    view.searchFinished.connect(lambda path, n: finished.append(path))
    view.show_for(library[1])
    qtbot.waitUntil(lambda: len(search.calls) == 1, timeout=5000)  # the first search is running
    view.show_for(library[6])
    search.gate.set()
    qtbot.waitUntil(lambda: finished == [library[6]], timeout=5000)
    assert [c[0] for c in search.calls] == [library[1], library[6]]
    assert library[6] not in [p for p, *_ in view.results()]
    assert view.query_name.text() == "p6.jpg"


def test_the_result_count_control_searches_again_with_the_new_count(qtbot, view, library):
    with qtbot.waitSignal(view.searchFinished, timeout=5000):
        view.show_for(library[3])
    assert len(view.results()) == 4
    with qtbot.waitSignal(view.searchFinished, timeout=5000) as blocker:
        view.count_box.setValue(5)
    assert blocker.args == [library[3], 5]
    assert _search(view).calls[-1][:2] == (library[3], 6)
    assert not view.back_button.isEnabled()  # a new count is not a new place to go back to


def test_without_a_model_it_shows_copies_and_never_claims_no_similar_photos(qtbot, view, library):
    view.set_model_problem("no ResNet-34 weights were found")
    assert view.offline.isVisibleTo(view)
    assert "needs the model" in view.offline_text.text()
    view._search = lambda path, top: []
    with qtbot.waitSignal(view.searchFinished, timeout=5000):
        view.show_for(library[1])
    assert view.status.text() == "No copies of this photo."
    with qtbot.waitSignal(view.chooseWeightsRequested, timeout=1000):
        qtbot.mouseClick(view.findChild(QPushButton, "similarChooseWeights"), Qt.MouseButton.LeftButton)
    view.set_model_problem(None)
    assert not view.offline.isVisibleTo(view)


def test_choose_photo_asks_for_a_file(qtbot, view):
    with qtbot.waitSignal(view.choosePhotoRequested, timeout=1000):
        qtbot.mouseClick(view.choose_button, Qt.MouseButton.LeftButton)


def test_marks_are_asked_for_and_shown_never_made_by_the_view(qtbot, view, library):
    with qtbot.waitSignal(view.searchFinished, timeout=5000):
        view.show_for(library[3])
    marked: set[str] = set()
    view.set_mark_lookup(lambda path: path in marked)
    first = view.model.index(0, 0)
    path = first.data(SimilarResultsModel.PathRole)
    assert first.data(SimilarResultsModel.MarkedRole) is False
    # The round toggle asks to mark this result, for the searched photo; nothing walks on.
    toggle = view.list.itemDelegate().toggle_rect(view.list.visualRect(first))
    with qtbot.waitSignal(view.markToggleRequested) as asked:
        qtbot.mouseClick(view.list.viewport(), Qt.MouseButton.LeftButton, pos=toggle.center())
    assert asked.args == [library[3], [path]] and view.query == library[3]
    assert first.data(SimilarResultsModel.MarkedRole) is False  # the owner decides
    marked.add(path)
    with qtbot.waitSignal(view.model.dataChanged):
        view.marks_changed()
    assert first.data(SimilarResultsModel.MarkedRole) is True
    assert [a.text() for a in view.result_menu(path).actions()][2] == "Unmark"
    # Ctrl+click selects more results without walking on; Space asks for them together.
    second = view.model.index(1, 0)
    for index in (first, second):
        qtbot.mouseClick(
            view.list.viewport(),
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.ControlModifier,
            view.list.visualRect(index).center(),
        )
    assert view.query == library[3] and len(view.list.selectionModel().selectedIndexes()) == 2
    view.list.setFocus()
    with qtbot.waitSignal(view.markToggleRequested) as asked:
        qtbot.keyClick(view.list, Qt.Key.Key_Space)
    assert asked.args == [library[3], [path, second.data(SimilarResultsModel.PathRole)]]
    with qtbot.waitSignal(view.trashRequested):
        qtbot.keyClick(view.list, Qt.Key.Key_Delete)
