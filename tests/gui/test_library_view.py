"""The library page: every scanned photo by folder or date, filtered by name; a click or
*Choose photo…* asks for the photos like it."""

from __future__ import annotations

from PySide6.QtCore import Qt

from photofind.core.library import SectionBy
from photofind.gui.library_model import LibraryModel
from photofind.gui.library_view import LibraryView
from tests.cleanupkit import fake_record

RECORDS = [
    fake_record("/pics/trip/IMG_2.jpg", taken="2023-05-02T10:00:00"),
    fake_record("/pics/home/b.png"),
    fake_record("/pics/trip/IMG_1.jpg", taken="2023-05-01T09:00:00"),
]


def _titles(model: LibraryModel) -> list[str]:
    return [model.index(r, 0).data() for r in range(model.rowCount())]


def test_the_model_is_sound_and_regroups_and_filters(qtmodeltester):
    model = LibraryModel()
    model.set_records(RECORDS)
    qtmodeltester.check(model)
    assert _titles(model) == ["/pics/home", "/pics/trip"]
    trip = model.index(1, 0)
    assert [model.index(r, 0, trip).data() for r in range(model.rowCount(trip))] == ["IMG_1.jpg", "IMG_2.jpg"]
    model.set_section_by(SectionBy.DATE)
    assert _titles(model) == ["May 2023", "No date taken"]
    model.set_name_filter("b.")
    assert _titles(model) == ["No date taken"] and model.photo_count() == 1
    qtmodeltester.check(model)


def test_library_photos_have_no_marks(qtbot):
    model = LibraryModel()
    model.set_records(RECORDS)
    photo = model.index(0, 0, model.index(0, 0))
    assert model.record_index(photo) == 1  # /pics/home/b.png
    assert model.toggle_marked(1) is False and model.set_keeper(1) is False
    from photofind.gui.group_model import Roles

    assert photo.data(Roles.IS_MARKED) is None  # the delegate draws no mark toggle


def test_clicking_a_photo_and_choosing_a_file_ask_for_similar_photos(qtbot, monkeypatch):
    view = LibraryView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    view.set_records(RECORDS)
    assert view.count.text() == "3 photos"
    photo = view.model.index(1, 0, view.model.index(1, 0))  # /pics/trip/IMG_2.jpg
    with qtbot.waitSignal(view.photoChosen) as chosen:
        qtbot.mouseClick(
            view.grid.viewport(), Qt.MouseButton.LeftButton, pos=view.grid.visualRect(photo).center()
        )
    assert chosen.args == ["/pics/trip/IMG_2.jpg"]
    monkeypatch.setattr(view, "ask_photo_path", lambda: "/elsewhere/query.jpg")
    with qtbot.waitSignal(view.photoChosen) as chosen:
        qtbot.mouseClick(view.choose_button, Qt.MouseButton.LeftButton)
    assert chosen.args == ["/elsewhere/query.jpg"]
    view.name_filter.setText("nothing")
    assert view.count.text() == "0 photos" and view.model.rowCount() == 0


def test_a_big_library_is_sectioned_off_the_gui_thread_and_only_the_last_request_shows(qtbot, qtmodeltester):
    model = LibraryModel(background_from=0)  # every library counts as big here
    with qtbot.waitSignal(model.sectionsReady, timeout=5000):
        model.set_records(RECORDS, roots=["/pics"])
    assert _titles(model) == ["pics/home", "pics/trip"] and not model.is_building()
    assert model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole) == "/pics/home"  # the full path
    # Three requests in a row, as typing does: one reset, with the last one's sections.
    resets = []
    model.modelReset.connect(lambda: resets.append(_titles(model)))
    with qtbot.waitSignal(model.sectionsReady, timeout=5000):
        model.set_name_filter("i")
        model.set_name_filter("im")
        model.set_section_by(SectionBy.DATE)
        assert model.is_building() and _titles(model) == ["pics/home", "pics/trip"]  # the old ones meanwhile
    assert resets == [["May 2023"]] and model.photo_count() == 2 and not model.is_building()
    qtmodeltester.check(model)
