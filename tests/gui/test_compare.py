"""The compare dialog: metadata with differences, keyboard decisions, previews, synced zoom and pan."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QDialog

from photofind.core.cleanup.keep import KeeperPolicy
from photofind.core.cleanup.marks import Marks
from photofind.core.scan.companions import Companion, Kind
from photofind.core.scan.imageio import decode_file
from photofind.core.types import FileRef, Group, ImageRecord, Member, Tier
from photofind.gui.compare import CompareDialog, DiffRole, RecordRole
from tests import imagefactory as factory


def _record(path: Path) -> ImageRecord:
    decoded = decode_file(str(path))
    st = os.stat(path)
    return ImageRecord(FileRef(str(path), st.st_size, st.st_mtime_ns), "hash-" + path.name, decoded.facts)


@pytest.fixture
def records(tmp_path: Path) -> list[ImageRecord]:
    """One photo three ways: the camera original with EXIF, a half-size web copy, and a phone
    copy stored sideways with EXIF orientation 6."""
    scene = factory.make_scene(7)
    original = factory.with_exif(scene, tmp_path / "trip" / "a.jpg", "2021:07:04 10:22:01", "Canon", "EOS R6")
    small = factory.save(scene.resize((240, 180)), tmp_path / "web" / "a_small.jpg")
    rotated = factory.exif_rotated_copy(scene, tmp_path / "phone" / "a_rot.jpg")
    return [_record(p) for p in (original, small, rotated)]


def _review(records, indices=(0, 1, 2), keeper=0, marked=(), protected=()) -> Marks:
    """The review state of one group (id 1) of `indices`, `keeper` first, with the folders of
    the `protected` records protected and `marked` marked."""
    members = (Member(keeper, 1.0), *(Member(i, 0.9) for i in indices if i != keeper))
    folders = [os.path.dirname(records[i].path) for i in protected]
    review = Marks(records, [Group(1, Tier.NEAR, members, 0.9, 0.9)], KeeperPolicy.parse("", folders))
    for i in marked:
        assert review.mark(1, i) is None
    return review


def _dialog(qtbot, records, indices=(0, 1, 2), keeper=0, marked=(), protected=(), **kwargs) -> CompareDialog:
    dialog = CompareDialog(_review(records, indices, keeper, marked, protected), 1, **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def _cells(dialog: CompareDialog, label: str) -> list[tuple[str, bool]]:
    table = dialog.table
    row = next(r for r in range(table.rowCount()) if table.verticalHeaderItem(r).text() == label)
    return [
        (table.item(row, c).text(), table.item(row, c).data(DiffRole)) for c in range(table.columnCount())
    ]


def test_metadata_shows_facts_and_highlights_differences_from_the_keeper(qtbot, records):
    dialog = _dialog(qtbot, records, similarities={0: 1.0, 1: 0.97, 2: 0.995})

    assert _cells(dialog, "Resolution") == [
        ("480 × 360 (0.17 MP)", False),
        ("240 × 180 (0.04 MP)", True),
        ("480 × 360 (0.17 MP)", False),
    ]
    assert _cells(dialog, "Date taken") == [("2021-07-04  10:22:01", False), ("—", True), ("—", True)]
    assert _cells(dialog, "Camera") == [("Canon EOS R6", False), ("—", True), ("—", True)]
    assert _cells(dialog, "Format") == [("JPEG", False)] * 3
    sizes = _cells(dialog, "File size")
    assert all(diff for _, diff in sizes[1:]) and not sizes[0][1]
    assert [t for t, _ in _cells(dialog, "Folder")] == [os.path.dirname(r.path) for r in records]
    assert _cells(dialog, "Similarity") == [("100%", False), ("97.0%", False), ("99.5%", False)]
    headers = [dialog.table.horizontalHeaderItem(c).text() for c in range(3)]
    assert headers == ["Keeper · a.jpg", "a_small.jpg", "a_rot.jpg"]
    assert [dialog.table.item(0, c).data(RecordRole) for c in range(3)] == [0, 1, 2]


def test_no_similarity_row_without_similarities(qtbot, records):
    dialog = _dialog(qtbot, records, indices=(0, 1))
    labels = [dialog.table.verticalHeaderItem(r).text() for r in range(dialog.table.rowCount())]
    assert "Similarity" not in labels and "Resolution" in labels


def test_highlights_follow_a_new_keeper(qtbot, records):
    dialog = _dialog(qtbot, records)
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    with qtbot.waitSignal(dialog.keeperChanged, timeout=1000) as blocker:
        qtbot.keyClick(dialog, Qt.Key.Key_K)
    assert blocker.args == [1]
    assert dialog.keeper == 1
    assert [diff for _, diff in _cells(dialog, "Resolution")] == [True, False, True]
    assert dialog.table.horizontalHeaderItem(1).text() == "Keeper · a_small.jpg"


def test_arrows_move_space_marks_delete_asks_to_trash_escape_closes(qtbot, records):
    dialog = _dialog(qtbot, records)
    dialog.show()
    assert dialog.current == 0  # starts on the keeper
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.current == 2
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    assert dialog.current == 0  # wraps around
    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    assert dialog.current == 2

    with qtbot.assertNotEmitted(dialog.trashRequested):
        qtbot.keyClick(dialog, Qt.Key.Key_Delete)  # nothing marked yet: says so instead
    assert dialog.notice.isVisible() and "Nothing is marked" in dialog.notice.text()

    with qtbot.waitSignal(dialog.markToggled, timeout=1000) as blocker:
        qtbot.keyClick(dialog, Qt.Key.Key_Space)
    assert blocker.args == [2, True]
    assert dialog.marked == {2}
    assert not dialog.notice.isVisible()
    assert "MARKED" in dialog._captions[2].text()

    with qtbot.waitSignal(dialog.trashRequested, timeout=1000):
        qtbot.keyClick(dialog, Qt.Key.Key_Delete)

    with qtbot.waitSignal(dialog.markToggled, timeout=1000) as blocker:
        qtbot.keyClick(dialog, Qt.Key.Key_Space)
    assert blocker.args == [2, False]
    assert dialog.marked == set()

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert dialog.result() == QDialog.DialogCode.Rejected


def test_marking_the_last_unmarked_photo_is_refused_with_a_reason(qtbot, records):
    dialog = _dialog(qtbot, records, indices=(0, 1), keeper=0)
    dialog.show()
    qtbot.keyClick(dialog, Qt.Key.Key_Right)
    qtbot.keyClick(dialog, Qt.Key.Key_Space)
    assert dialog.marked == {1}

    qtbot.keyClick(dialog, Qt.Key.Key_Left)
    with qtbot.assertNotEmitted(dialog.markToggled), qtbot.assertNotEmitted(dialog.keeperChanged):
        qtbot.keyClick(dialog, Qt.Key.Key_Space)
    assert dialog.marked == {1}
    assert dialog.keeper == 0
    assert dialog.notice.isVisible()
    assert "at least one file must be kept" in dialog.notice.text()


def test_marking_the_keeper_hands_the_keeper_role_to_the_best_unmarked(qtbot, records):
    dialog = _dialog(qtbot, records)
    events: list[tuple] = []
    dialog.keeperChanged.connect(lambda i: events.append(("keeper", i)))
    dialog.markToggled.connect(lambda i, on: events.append(("mark", i, on)))
    qtbot.keyClick(dialog, Qt.Key.Key_Space)  # current is the keeper, photo 0
    # The full-resolution rotated copy beats the half-size one; the keeper moves first, so a
    # listener never sees a marked keeper.
    assert events == [("keeper", 2), ("mark", 0, True)]
    assert dialog.keeper == 2 and dialog.marked == {0}


def test_k_on_a_marked_photo_unmarks_it(qtbot, records):
    dialog = _dialog(qtbot, records, marked={1})
    events: list[tuple] = []
    dialog.keeperChanged.connect(lambda i: events.append(("keeper", i)))
    dialog.markToggled.connect(lambda i, on: events.append(("mark", i, on)))
    dialog.set_current(1)
    qtbot.keyClick(dialog, Qt.Key.Key_K)
    assert events == [("mark", 1, False), ("keeper", 1)]
    assert dialog.marked == set()


def test_protected_photos_are_never_marked(qtbot, records):
    dialog = _dialog(qtbot, records, protected={1})
    dialog.show()
    dialog.set_current(1)
    with qtbot.assertNotEmitted(dialog.markToggled):
        qtbot.keyClick(dialog, Qt.Key.Key_Space)
    assert "protected folder" in dialog.notice.text()
    assert "PROTECTED" in dialog._captions[1].text()


def _wait_previews(qtbot, dialog: CompareDialog) -> None:
    qtbot.waitUntil(lambda: all(p.has_image for p in dialog.panes), timeout=5000)


def test_previews_load_off_the_gui_thread_upright(qtbot, records):
    dialog = _dialog(qtbot, records)
    _wait_previews(qtbot, dialog)
    sizes = [(p.image_size.width(), p.image_size.height()) for p in dialog.panes]
    assert sizes == [(480, 360), (240, 180), (480, 360)]  # the sideways file is shown upright


def test_a_missing_file_shows_why_instead_of_a_photo(qtbot, records):
    os.remove(records[1].path)
    dialog = _dialog(qtbot, records)
    qtbot.waitUntil(lambda: dialog.panes[1].message.startswith("Cannot show"), timeout=5000)
    assert "no longer exists" in dialog.panes[1].message
    qtbot.waitUntil(lambda: dialog.panes[0].has_image, timeout=5000)


def _wheel(widget, pos: QPointF, notches: int) -> None:
    event = QWheelEvent(
        pos,
        widget.mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def _fraction_under(pane, pos: QPointF) -> tuple[float, float]:
    rect = pane.target_rect()
    return ((pos.x() - rect.x()) / rect.width(), (pos.y() - rect.y()) / rect.height())


def test_zoom_and_pan_stay_in_sync_across_panes(qtbot, records):
    dialog = _dialog(qtbot, records)
    dialog.resize(1200, 800)
    dialog.show()
    qtbot.waitExposed(dialog)
    _wait_previews(qtbot, dialog)
    left, right, third = dialog.panes

    spot = QPointF(left.width() * 0.3, left.height() * 0.4)
    before = _fraction_under(left, spot)
    _wheel(left, spot, 3)
    assert left.zoom == pytest.approx(1.25**3)
    # The photo point under the cursor stays under the cursor.
    assert _fraction_under(left, spot) == pytest.approx(before, abs=1e-6)
    for pane in (right, third):
        assert pane.zoom == left.zoom
        assert pane.center == left.center
    assert left.center != QPointF(0.5, 0.5)

    # Dragging in another pane pans all of them by the same part of the photo.
    start = right.center
    qtbot.mousePress(right, Qt.MouseButton.LeftButton, pos=QPoint(300, 200))
    qtbot.mouseMove(right, QPoint(260, 180))
    qtbot.mouseRelease(right, Qt.MouseButton.LeftButton, pos=QPoint(260, 180))
    assert right.center.x() > start.x() and right.center.y() > start.y()
    assert left.center == right.center == third.center
    assert dialog.current == 1  # clicking a pane makes it current

    qtbot.keyClick(dialog, Qt.Key.Key_0)  # back to fit everywhere
    assert [p.zoom for p in dialog.panes] == [1.0, 1.0, 1.0]
    assert left.center == QPointF(0.5, 0.5)


def test_read_preview_scales_and_falls_back_to_pillow_for_heic(qtbot, tmp_path):
    from photofind.gui.preview import PreviewError, read_preview

    big = factory.save(factory.make_scene(9, (1200, 900)), tmp_path / "big.jpg")
    image = read_preview(str(big), 300)
    assert (image.width(), image.height()) == (300, 225)
    sideways = factory.exif_rotated_copy(factory.make_scene(9, (800, 600)), tmp_path / "side.jpg")
    image = read_preview(str(sideways), 400)
    assert (image.width(), image.height()) == (400, 300)  # scaled and turned upright

    pytest.importorskip("pillow_heif")
    heic = factory.save(factory.make_scene(9, (640, 480)), tmp_path / "phone.heic")  # Qt has no HEIC reader
    image = read_preview(str(heic), 320)
    assert (image.width(), image.height()) == (320, 240)

    (tmp_path / "notes.jpg").write_text("not a photo")
    with pytest.raises(PreviewError, match="not an image"):
        read_preview(str(tmp_path / "notes.jpg"), 320)
    with pytest.raises(PreviewError, match="no longer exists"):
        read_preview(str(tmp_path / "gone.jpg"), 320)


def test_the_dialog_shows_changes_made_elsewhere_to_the_review_state(qtbot, records):
    dialog = _dialog(qtbot, records, marked={1})
    review = dialog._review
    review.choose_keeper(1, 2)
    review.unmark(1, 1)
    assert review.mark(1, 0) is None
    with qtbot.assertNotEmitted(dialog.markToggled), qtbot.assertNotEmitted(dialog.reviewEdited):
        dialog.refresh()
    assert dialog.keeper == 2 and dialog.marked == {0}
    assert dialog.table.horizontalHeaderItem(2).text() == "Keeper · a_rot.jpg"
    assert "MARKED" in dialog._captions[0].text() and "MARKED" not in dialog._captions[1].text()


def test_compare_lists_what_travels_with_each_photo_and_flags_a_missing_video(qtbot, records):
    companions = {1: (Companion(records[1].path[:-4] + ".MOV", Kind.LIVE),)}
    dialog = _dialog(qtbot, records, companions=companions)
    assert _cells(dialog, "Travels with") == [("—", False), ("a_small.MOV (LIVE)", True), ("—", False)]
    plain = _dialog(qtbot, records)
    tables = [plain.table.verticalHeaderItem(r).text() for r in range(plain.table.rowCount())]
    assert "Travels with" not in tables


def test_the_original_and_how_each_copy_was_made_are_shown(qtbot, records):
    from photofind.core.types import Derivation

    derivation = (
        Derivation(0, None, (), True, 480 * 360),
        Derivation(1, 0, ("resized 50%", "JPEG q≈75"), False, 240 * 180),
        Derivation(2, 0, (), True, 480 * 360),
    )
    dialog = _dialog(qtbot, records, keeper=2, derivation=derivation)  # columns: keeper first, 2 0 1
    assert [t for t, _ in _cells(dialog, "Made from")] == ["a.jpg", "the original", "a.jpg"]
    assert [t for t, _ in _cells(dialog, "How")] == ["no visible change", "—", "resized 50%, JPEG q≈75"]
    captions = [c.text() for c in dialog._captions]
    assert "ORIGINAL" in captions[1] and "ORIGINAL" not in captions[0] + captions[2]
    assert "KEEP" in captions[0]


def test_no_derivation_rows_without_a_tree(qtbot, records):
    dialog = _dialog(qtbot, records)
    labels = [dialog.table.verticalHeaderItem(r).text() for r in range(dialog.table.rowCount())]
    assert "Made from" not in labels and "How" not in labels
