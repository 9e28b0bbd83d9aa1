"""The skipped-files panel, the missing-model banner and the clean-up confirmations."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from photofind.core.scan.imageio import decode_file
from photofind.core.types import Skipped, SkipReason
from photofind.gui import dialogs
from photofind.gui.dialogs import ModelBanner, SkippedModel, SkippedPanel, cleanup_box, confirm_cleanup
from photofind.gui.text import human_bytes
from tests import imagefactory as factory


@pytest.fixture
def skipped(tmp_path: Path) -> list[Skipped]:
    """Real skips from the engine's decoder, plus one permission problem it cannot fake here."""
    good = factory.save(factory.make_scene(5, (64, 48)), tmp_path / "good.jpg").read_bytes()
    files = {
        "empty.jpg": b"",
        "notes.jpg": b"just text, named like a photo\n",
        "cut.jpg": good[: len(good) // 3],
        "cut-too.jpg": good[: len(good) // 2],
    }
    out = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        result = decode_file(str(tmp_path / name))
        assert isinstance(result, Skipped)
        out.append(result)
    out.append(
        Skipped(str(tmp_path / "private.jpg"), SkipReason.PERMISSION, "no permission to read the file")
    )
    return out


def _table(panel: SkippedPanel) -> list[list[str]]:
    proxy = panel.proxy
    return [[proxy.index(r, c).data() for c in range(3)] for r in range(proxy.rowCount())]


def test_skipped_panel_lists_path_reason_and_detail(qtbot, qtmodeltester, skipped, tmp_path):
    panel = SkippedPanel()
    qtbot.addWidget(panel)
    panel.set_skipped(skipped)
    qtmodeltester.check(panel.model)

    rows = _table(panel)
    assert [r[0] for r in rows] == [s.path for s in skipped]
    assert rows[0] == [str(tmp_path / "empty.jpg"), "zero-byte", "the file is empty (0 bytes)"]
    assert rows[1][1] == "not-an-image"
    assert [r[1] for r in rows[2:4]] == ["truncated", "truncated"]
    assert rows[4] == [str(tmp_path / "private.jpg"), "permission-denied", "no permission to read the file"]
    assert panel.model.index(4, 0).data(SkippedModel.ReasonRole) == "permission-denied"
    assert panel.summary.text() == "5 files could not be used and were skipped."
    # The filter lists each reason with its count, the most frequent first.
    items = [panel.reason_filter.itemText(i) for i in range(panel.reason_filter.count())]
    assert items[:2] == ["All reasons (5)", "truncated (2)"]
    assert set(items[2:]) == {"zero-byte (1)", "not-an-image (1)", "permission-denied (1)"}


def test_skipped_panel_filters_by_reason(qtbot, skipped, tmp_path):
    panel = SkippedPanel()
    qtbot.addWidget(panel)
    panel.set_skipped(skipped)

    panel.set_reason_filter("truncated")
    assert panel.visible_paths() == [str(tmp_path / "cut.jpg"), str(tmp_path / "cut-too.jpg")]
    panel.set_reason_filter("zero-byte")
    assert panel.visible_paths() == [str(tmp_path / "empty.jpg")]
    panel.set_reason_filter("")
    assert len(panel.visible_paths()) == 5

    panel.set_skipped([])  # a clean rescan empties the panel and resets the filter
    assert panel.visible_paths() == []
    assert panel.summary.text() == "No files were skipped."
    assert not panel.reason_filter.isEnabled()


def test_model_banner_hidden_without_a_problem(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    banner = ModelBanner(host)
    host.show()
    assert not banner.isVisible()
    banner.set_problem("weights not found: no file at ~/.cache/torch/resnet34.pth and downloads are off")
    assert banner.isVisible()
    banner.set_problem(None)
    assert not banner.isVisible()


def test_model_banner_states_the_reason_and_emits_choices(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    banner = ModelBanner(host)
    host.show()
    reason = "ResNet-34 weights are missing and the computer is offline"
    banner.set_problem(reason)
    assert banner.reason.text() == reason + "."
    assert banner.problem == reason
    assert not banner.details_button.isVisible()  # nothing more to tell

    with qtbot.waitSignal(banner.chooseWeightsRequested, timeout=1000):
        qtbot.mouseClick(banner.choose_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(banner.continueWithoutModelRequested, timeout=1000):
        qtbot.mouseClick(banner.continue_button, Qt.MouseButton.LeftButton)
    # Continuing never hides why matching is off.
    assert banner.isVisible()
    assert banner.reason.text() == reason + "."
    assert "exact duplicates only" in banner.hint.text()


def test_model_banner_says_one_line_and_keeps_paths_and_error_behind_details(qtbot):
    from photofind.core.model.weights import _missing_message

    host = QWidget()
    qtbot.addWidget(host)
    banner = ModelBanner(host)
    host.show()
    cached = "/home/u/.cache/torch/hub/checkpoints/resnet34-b627a593.pth"
    problem = _missing_message(
        Path(cached), "download failed: <urlopen error [Errno -2] Name or service not known>"
    )
    banner.set_problem(problem)
    line = banner.reason.text()
    assert line == "ResNet-34 ImageNet weights are not available, so visual similarity is off."
    assert "urlopen" not in line and cached not in line and "\n" not in line
    assert banner.details_button.isVisible() and not banner.details.isVisible()
    qtbot.mouseClick(banner.details_button, Qt.MouseButton.LeftButton)
    assert banner.details.isVisible()
    assert "<urlopen error [Errno -2]" in banner.details.text() and cached in banner.details.text()
    assert banner.problem == problem
    qtbot.mouseClick(banner.details_button, Qt.MouseButton.LeftButton)
    assert not banner.details.isVisible()


def test_trash_confirmation_states_files_bytes_and_what_stays(qtbot):
    box = cleanup_box(None, 3, 4_500_000, 2, "trash")
    qtbot.addWidget(box)
    assert box.text() == f"Move 3 files ({human_bytes(4_500_000)}) to the trash?"
    assert "At least one file of each of the 2 groups stays untouched." in box.informativeText()
    assert "restore" in box.informativeText()
    assert box.defaultButton().text() == "Move to Trash"

    single = cleanup_box(None, 1, 1000, 1, "trash")
    qtbot.addWidget(single)
    assert single.text() == f"Move 1 file ({human_bytes(1000)}) to the trash?"
    assert "At least one file of the group stays untouched." in single.informativeText()


def test_permanent_delete_defaults_to_cancel(qtbot):
    box = cleanup_box(None, 12, 30_000_000, 5, "delete")
    qtbot.addWidget(box)
    assert box.text().startswith("Delete 12 files")
    assert "cannot be restored" in box.informativeText()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)


def _answer_next_box(accept: bool, seen: list[str]) -> None:
    """Click a button of the next modal box once it is open (exec runs the event loop)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(0, click)
            return
        seen.append(box.objectName())
        button = (
            next(b for b in box.buttons() if b.objectName() == "confirmButton")
            if accept
            else box.button(QMessageBox.StandardButton.Cancel)
        )
        button.click()

    QTimer.singleShot(0, click)


def test_confirm_cleanup_returns_the_users_answer(qtbot):
    seen: list[str] = []
    _answer_next_box(True, seen)
    assert confirm_cleanup(None, 2, 2_000, 1, "trash") is True
    _answer_next_box(False, seen)
    assert confirm_cleanup(None, 2, 2_000, 1, "trash") is False
    assert seen == ["confirmCleanup", "confirmCleanup"]


def test_permanent_delete_asks_a_second_time(qtbot, monkeypatch):
    from photofind.core.cleanup.actions import Action

    asked: list[QMessageBox] = []
    answers = iter([True, True, False, False])

    def fake_accept(box: QMessageBox) -> bool:
        asked.append(box)
        return next(answers)

    monkeypatch.setattr(dialogs, "_accepted", fake_accept)
    assert confirm_cleanup(None, 4, 8_000_000, 2, Action.TRASH) is True
    assert [b.objectName() for b in asked] == ["confirmCleanup"]

    asked.clear()
    assert confirm_cleanup(None, 4, 8_000_000, 2, Action.DELETE) is False  # second answer: no
    assert [b.objectName() for b in asked] == ["confirmCleanup", "confirmPermanentDelete"]
    assert asked[1].text() == f"Really delete 4 files ({human_bytes(8_000_000)}) for good?"

    asked.clear()
    assert confirm_cleanup(None, 4, 8_000_000, 2, "delete") is False  # first answer: no
    assert [b.objectName() for b in asked] == ["confirmCleanup"]

    asked.clear()
    assert confirm_cleanup(None, 0, 0, 0, "trash") is False  # nothing to do: nothing asked
    assert asked == []


def test_the_confirmation_offers_to_carry_metadata_and_says_what_is_written(qtbot):
    box = cleanup_box(None, 3, 4_500_000, 2, "trash", offer_carry=True)
    qtbot.addWidget(box)
    check = box.checkBox()
    assert check.objectName() == "carryMetadata" and not check.isChecked()  # opt-in
    for words in ("date taken", "GPS position", "rating", "keywords", "description", "XMP sidecar"):
        assert words in box.detailedText()
    assert "never changed" in box.detailedText()
    plain = cleanup_box(None, 3, 4_500_000, 2, "trash")
    qtbot.addWidget(plain)
    assert plain.checkBox() is None
    assert "companion" not in box.informativeText()
    units = cleanup_box(None, 3, 4_500_000, 2, "trash", companions=2)
    qtbot.addWidget(units)
    assert (
        "Their 2 companion files (Live Photo videos, RAW, sidecars) go with them" in units.informativeText()
    )
    links = cleanup_box(None, 3, 4_500_000, 2, "hardlink", offer_carry=True)
    qtbot.addWidget(links)
    assert links.checkBox() is None  # a hard link loses nothing to carry


def test_ask_cleanup_returns_the_answer_and_the_box(qtbot):
    from photofind.gui.dialogs import ask_cleanup

    def tick_and_accept() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(0, tick_and_accept)
            return
        box.checkBox().setChecked(True)
        next(b for b in box.buttons() if b.objectName() == "confirmButton").click()

    QTimer.singleShot(0, tick_and_accept)
    assert ask_cleanup(None, 2, 2_000, 1, "trash", offer_carry=True) == (True, True)
    _answer_next_box(True, [])
    assert ask_cleanup(None, 2, 2_000, 1, "trash", offer_carry=True) == (True, False)
