"""Small panels and confirmations around a scan: the skipped-files panel, the missing-model banner
and the clean-up confirmation (with a second question before anything is deleted for good)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from photofind.core.cleanup.actions import Action
from photofind.core.types import Skipped
from photofind.gui.text import headline, human_bytes  # one unit system across the app

_Index = QModelIndex | QPersistentModelIndex


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# ---- skipped files ---------------------------------------------------------------------------------
class SkippedModel(QAbstractTableModel):
    """Read-only table over the scan's immutable Skipped tuples."""

    PathRole = Qt.ItemDataRole.UserRole + 1
    ReasonRole = Qt.ItemDataRole.UserRole + 2
    DetailRole = Qt.ItemDataRole.UserRole + 3
    COLUMNS = ("File", "Reason", "Detail")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: tuple[Skipped, ...] = ()

    def set_skipped(self, skipped: Sequence[Skipped]) -> None:
        self.beginResetModel()  # one reset per scan: the whole list changes at once
        self._rows = tuple(skipped)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        item = self._rows[index.row()]
        reason = _reason_text(item)
        if role == Qt.ItemDataRole.DisplayRole:
            return (item.path, reason, item.detail)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{item.path}\n{reason}: {item.detail}" if item.detail else f"{item.path}\n{reason}"
        if role == self.PathRole:
            return item.path
        if role == self.ReasonRole:
            return reason
        if role == self.DetailRole:
            return item.detail
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names[self.PathRole] = QByteArray(b"path")
        names[self.ReasonRole] = QByteArray(b"reason")
        names[self.DetailRole] = QByteArray(b"detail")
        return names


def _reason_text(item: Skipped) -> str:
    return item.reason.value


class SkippedPanel(QWidget):
    """Every file the scan could not use, with its reason and detail, filterable by reason."""

    ALL = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("skippedPanel")
        self.model = SkippedModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterRole(SkippedModel.ReasonRole)
        self.proxy.setFilterKeyColumn(1)

        self.summary = QLabel("No files were skipped.")
        self.summary.setObjectName("skippedSummary")
        self.reason_filter = QComboBox()
        self.reason_filter.setObjectName("skippedReasonFilter")
        self.reason_filter.currentIndexChanged.connect(self._apply_filter)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        # Unsorted until the user clicks a header: the scan's order, folder by folder.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # the file name is at the end
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)

        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.reason_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self.set_skipped(())

    def set_skipped(self, skipped: Sequence[Skipped]) -> None:
        self.model.set_skipped(skipped)
        counts = Counter(_reason_text(s) for s in skipped)
        self.reason_filter.blockSignals(True)
        self.reason_filter.clear()
        self.reason_filter.addItem(f"All reasons ({len(skipped):,})", self.ALL)
        for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            self.reason_filter.addItem(f"{reason} ({n:,})", reason)
        self.reason_filter.setCurrentIndex(0)
        self.reason_filter.blockSignals(False)
        self.reason_filter.setEnabled(len(counts) > 1)
        self._apply_filter()
        if skipped:
            self.summary.setText(
                f"{_plural(len(skipped), 'file')} could not be used and "
                f"{'was' if len(skipped) == 1 else 'were'} skipped."
            )
        else:
            self.summary.setText("No files were skipped.")

    def set_reason_filter(self, reason: str) -> None:
        """Show only files skipped for `reason` (its JSON value, e.g. 'corrupt'); '' shows all."""
        position = self.reason_filter.findData(reason)
        self.reason_filter.setCurrentIndex(max(0, position))

    def visible_paths(self) -> list[str]:
        return [self.proxy.index(r, 0).data(SkippedModel.PathRole) for r in range(self.proxy.rowCount())]

    def _apply_filter(self) -> None:
        reason = self.reason_filter.currentData() or self.ALL
        # Fixed string, whole value: "corrupt" must not also match a longer reason.
        self.proxy.setFilterRegularExpression(f"^{QRegularExpression.escape(reason)}$" if reason else "")


# ---- missing model banner ----------------------------------------------------------------------
_BANNER_HINT = (
    "Exact duplicates are still found. Choose a ResNet-34 weights file "
    "to find resized, re-encoded and similar photos too."
)


class ModelBanner(QWidget):
    """Says why the similarity model is unavailable and offers the two ways forward.

    The reason stays on screen as long as the problem exists: choosing to continue does not
    hide it, only `set_problem(None)` does.
    """

    chooseWeightsRequested = Signal()
    continueWithoutModelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        # Own colours, so the warning reads as one in any theme; the app style sheet may refine it.
        self.setStyleSheet(
            "#modelBanner { background: #3a3220; border: 1px solid #7a6330; border-radius: 8px; }"
            "#modelBanner QLabel { color: #f3e3b5; background: transparent; }"
        )
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(28, 28))
        self.title = QLabel("<b>Similar-photo matching is off</b>")
        # One line says what is wrong; the paths and the raw error wait behind Details.
        self.reason = QLabel()
        self.reason.setObjectName("modelBannerReason")
        self.details_button = QPushButton("Details")
        self.details_button.setObjectName("modelBannerDetails")
        self.details_button.setCheckable(True)
        self.details_button.setFlat(True)
        self.details = QLabel()
        self.details.setObjectName("modelBannerDetailsText")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.hide()
        self.details_button.toggled.connect(self.details.setVisible)
        self.hint = QLabel(_BANNER_HINT)
        self.hint.setWordWrap(True)
        self.choose_button = QPushButton("Choose weights file…")
        self.choose_button.setObjectName("chooseWeightsButton")
        self.choose_button.setDefault(True)
        self.continue_button = QPushButton("Continue with exact duplicates only")
        self.continue_button.setObjectName("continueWithoutModelButton")
        self.choose_button.clicked.connect(self.chooseWeightsRequested)
        self.continue_button.clicked.connect(self._on_continue)

        reason_line = QHBoxLayout()
        reason_line.setSpacing(6)
        reason_line.addWidget(self.reason)
        reason_line.addWidget(self.details_button)
        reason_line.addStretch(1)
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addLayout(reason_line)
        text.addWidget(self.details)
        text.addWidget(self.hint)
        buttons = QVBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.continue_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(12)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        layout.addLayout(buttons)
        self._problem: str | None = None
        self.set_problem(None)

    def set_problem(self, text: str | None) -> None:
        """Show the banner with `text` as the reason, or hide it when there is no problem."""
        self._problem = text or None
        self.details_button.setChecked(False)
        if text:
            line = headline(text)
            self.reason.setText(line)
            self.reason.setToolTip(text)
            self.details.setText(text)
            self.details_button.setVisible(line.rstrip(".") != text.strip().rstrip("."))
            self.hint.setText(_BANNER_HINT)
            self.continue_button.setEnabled(True)
            self.show()
        else:
            self.reason.clear()
            self.details.clear()
            self.hide()

    @property
    def problem(self) -> str | None:
        """The whole reason, as the engine gave it."""
        return self._problem

    def _on_continue(self) -> None:
        # The reason stays visible; only the hint changes to what the user chose.
        self.hint.setText("Continuing with exact duplicates only. Choose a weights file any time.")
        self.continue_button.setEnabled(False)
        self.continueWithoutModelRequested.emit()


# ---- clean-up confirmation -----------------------------------------------------------------------
_VERBS = {
    "trash": ("Move {files} to the trash?", "Move to Trash"),
    "move": ("Move {files} to another folder?", "Move"),
    "hardlink": ("Replace {files} with hard links to the kept copy?", "Replace with Links"),
    "delete": ("Delete {files} permanently?", "Delete Permanently"),
}


def _action_name(action: Action | str) -> str:
    return Action(action).value


CARRY_TEXT = (
    "Keep what the removed copies know: write the date taken, GPS position, rating, keywords "
    "or description that a kept photo lacks into its XMP sidecar (name.ext.xmp). The photos "
    "themselves are never changed; Undo removes what was written."
)


def cleanup_box(
    parent: QWidget | None,
    files: int,
    bytes: int,  # noqa: A002
    groups: int,
    action: Action | str,
    *,
    offer_carry: bool = False,
    companions: int = 0,
) -> QMessageBox:
    """The first confirmation, built but not shown (tests and callers can inspect it). With
    `offer_carry`, a box (off by default) to carry metadata over into the keepers' sidecars;
    `companions`: how many files travel with the photos (Live Photo videos, RAW, sidecars)."""
    name = _action_name(action)
    question, verb = _VERBS.get(
        name, (f"{name.capitalize() or 'Act on'} {{files}}?", name.capitalize() or "Continue")
    )
    files_text = f"{_plural(files, 'file')} ({human_bytes(bytes)})"
    box = QMessageBox(parent)
    box.setObjectName("confirmCleanup")
    box.setWindowTitle("Clean up duplicates")
    box.setIcon(QMessageBox.Icon.Warning if name == "delete" else QMessageBox.Icon.Question)
    box.setText(question.format(files=files_text))
    stays = (
        f"At least one file of each of the {_plural(groups, 'group')} stays untouched."
        if groups != 1
        else "At least one file of the group stays untouched."
    )
    after = {
        "trash": "You can restore them from the trash or with Undo.",
        "delete": "Deleted files cannot be restored from the trash.",
    }.get(name, "You can reverse this with Undo.")
    along = (
        f"\nTheir {_plural(companions, 'companion file')} (Live Photo videos, RAW, sidecars) go with "
        "them, unless one has no copy beside the kept photo: then that photo stays."
        if companions and name != "hardlink"
        else ""
    )
    box.setInformativeText(f"{stays}{along}\n{after}")
    act = box.addButton(
        verb,
        QMessageBox.ButtonRole.DestructiveRole if name == "delete" else QMessageBox.ButtonRole.AcceptRole,
    )
    act.setObjectName("confirmButton")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel if name == "delete" else act)
    box.setEscapeButton(cancel)
    if offer_carry and name != "hardlink":  # a hard link keeps the name, so nothing is lost
        check = QCheckBox("Also write missing metadata into the kept photos' XMP sidecars", box)
        check.setObjectName("carryMetadata")
        check.setToolTip(CARRY_TEXT)
        box.setCheckBox(check)
        box.setDetailedText(CARRY_TEXT)
    return box


def permanent_delete_box(parent: QWidget | None, files: int, bytes: int) -> QMessageBox:  # noqa: A002
    """The second question before a permanent delete; Cancel is the default."""
    box = QMessageBox(parent)
    box.setObjectName("confirmPermanentDelete")
    box.setWindowTitle("Delete permanently")
    box.setIcon(QMessageBox.Icon.Critical)
    box.setText(f"Really delete {_plural(files, 'file')} ({human_bytes(bytes)}) for good?")
    box.setInformativeText("They will not go to the trash, and Undo cannot bring them back.")
    act = box.addButton("Delete Forever", QMessageBox.ButtonRole.DestructiveRole)
    act.setObjectName("confirmButton")
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    return box


def _accepted(box: QMessageBox) -> bool:
    box.exec()
    clicked = box.clickedButton()
    accepted = clicked is not None and clicked.objectName() == "confirmButton"
    box.deleteLater()  # parented to the window: it would otherwise live as long as the window
    return accepted


def confirm_cleanup(
    parent: QWidget | None, files: int, bytes: int, groups: int, action: Action | str
) -> bool:  # noqa: A002
    """Ask before acting on `files` files of `groups` groups; permanent delete asks twice."""
    return ask_cleanup(parent, files, bytes, groups, action)[0]


def ask_cleanup(
    parent: QWidget | None,
    files: int,
    bytes: int,  # noqa: A002
    groups: int,
    action: Action | str,
    *,
    offer_carry: bool = False,
    companions: int = 0,
) -> tuple[bool, bool]:
    """`confirm_cleanup`, and whether the user ticked the box to carry metadata over."""
    if files <= 0:
        return False, False
    box = cleanup_box(parent, files, bytes, groups, action, offer_carry=offer_carry, companions=companions)
    check = box.checkBox()
    if not _accepted(box):
        return False, False
    carry = check is not None and check.isChecked()
    if _action_name(action) == "delete":
        return _accepted(permanent_delete_box(parent, files, bytes)), carry
    return True, carry


__all__ = [
    "ModelBanner",
    "SkippedModel",
    "SkippedPanel",
    "ask_cleanup",
    "cleanup_box",
    "confirm_cleanup",
    "permanent_delete_box",
]
