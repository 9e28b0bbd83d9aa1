"""The library's folders: a small list model (path + protected flag) and the side panel that
adds folders by dialog or drag and drop, removes them, and toggles protection.

Protected folders are still scanned (their photos can be keepers), but nothing in them is
ever marked for deletion.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QEvent, QModelIndex, QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QFont, QFontMetrics, QMouseEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from photofind.gui import assets

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
PROTECTED_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class Folder:
    path: str
    protected: bool = False


def normalise(path: str) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


class FolderModel(QAbstractListModel):
    """Folders in the order the user added them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._folders: list[Folder] = []

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update({PATH_ROLE: b"path", PROTECTED_ROLE: b"protected"})
        return names

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._folders)

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._folders):
            return None
        folder = self._folders[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(folder.path) or folder.path
        if role == Qt.ItemDataRole.ToolTipRole:
            state = (
                "Protected: nothing here is ever marked for deletion."
                if folder.protected
                else "Click the lock to protect this folder."
            )
            return f"{folder.path}\n{state}"
        if role == PATH_ROLE:
            return folder.path
        if role == PROTECTED_ROLE:
            return folder.protected
        return None

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != PROTECTED_ROLE or not index.isValid():
            return False
        return self.set_protected(index.row(), bool(value))

    # -- editing ---------------------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        return list(self._folders)

    def paths(self) -> list[str]:
        return [f.path for f in self._folders]

    def protected_paths(self) -> list[str]:
        return [f.path for f in self._folders if f.protected]

    def add(self, path: str, protected: bool = False) -> bool:
        """Add a folder; False (and nothing changes) if it is not a folder or is already listed."""
        path = normalise(path)
        if not os.path.isdir(path) or path in self.paths():
            return False
        row = len(self._folders)
        self.beginInsertRows(QModelIndex(), row, row)
        self._folders.append(Folder(path, protected))
        self.endInsertRows()
        return True

    def remove_rows(self, rows: Iterable[int]) -> None:
        for row in sorted(set(rows), reverse=True):
            if 0 <= row < len(self._folders):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._folders[row]
                self.endRemoveRows()

    def set_protected(self, row: int, protected: bool) -> bool:
        if not 0 <= row < len(self._folders):
            return False
        if self._folders[row].protected != protected:
            self._folders[row] = Folder(self._folders[row].path, protected)
            index = self.index(row)
            self.dataChanged.emit(index, index, [PROTECTED_ROLE, Qt.ItemDataRole.ToolTipRole])
        return True

    # -- persistence (a JSON string, so every QSettings backend stores it the same way) --------

    def to_json(self) -> str:
        return json.dumps([{"path": f.path, "protected": f.protected} for f in self._folders])

    def load_json(self, raw: str | None) -> None:
        """Restore a saved list; folders that no longer exist are kept out."""
        try:
            items = json.loads(raw) if raw else []
        except (TypeError, ValueError):
            items = []
        self.beginResetModel()
        self._folders = []
        seen: set[str] = set()
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                path = normalise(item["path"])
                if os.path.isdir(path) and path not in seen:
                    seen.add(path)
                    self._folders.append(Folder(path, bool(item.get("protected"))))
        self.endResetModel()


def local_dirs(urls: Sequence[Any]) -> list[str]:
    """The local folders among dropped URLs (files are ignored: a library is folders)."""
    return [u.toLocalFile() for u in urls if u.isLocalFile() and os.path.isdir(u.toLocalFile())]


class _FolderDelegate(QStyledItemDelegate):
    """Folder name, its parent path underneath, and a lock toggle on the right."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._icons = {
            True: assets.icon("lock"),
            False: assets.icon("unlock"),
            "folder": assets.icon("folder"),
        }

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(option.rect.width(), 2 * QFontMetrics(option.font).height() + 14)

    @staticmethod
    def lock_rect(rect: QRect) -> QRect:
        return QRect(rect.right() - 30, rect.center().y() - 12, 24, 24)

    def paint(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect
        if option.state & QStyle.StateFlag.State_Selected:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#2c3a52"))
            p.drawRoundedRect(rect.adjusted(2, 1, -2, -1), 6, 6)
        protected = bool(index.data(PROTECTED_ROLE))
        self._icons["folder"].paint(p, QRect(rect.left() + 8, rect.center().y() - 10, 20, 20))
        fm = QFontMetrics(option.font)
        text_rect = rect.adjusted(36, 6, -40, -6)
        bold = QFont(option.font)
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(QColor("#e8eaed"))
        name = QFontMetrics(bold).elidedText(
            index.data() or "", Qt.TextElideMode.ElideRight, text_rect.width()
        )
        p.drawText(
            text_rect.adjusted(0, 0, 0, -fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            name,
        )
        p.setFont(option.font)
        p.setPen(QColor("#e0a030") if protected else QColor("#9aa0a8"))
        parent = os.path.dirname(index.data(PATH_ROLE) or "")
        sub = "protected \u00b7 " + parent if protected else parent
        p.drawText(
            text_rect.adjusted(0, fm.height(), 0, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(sub, Qt.TextElideMode.ElideMiddle, text_rect.width()),
        )
        p.setOpacity(1.0 if protected else 0.45)
        self._icons[protected].paint(p, self.lock_rect(rect).adjusted(3, 3, -3, -3))
        p.restore()

    def editorEvent(self, event: QEvent, model, option: QStyleOptionViewItem, index: QModelIndex) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and self.lock_rect(option.rect).contains(event.position().toPoint())
        ):
            model.setData(index, not index.data(PROTECTED_ROLE), PROTECTED_ROLE)
            return True
        return False


class FoldersPanel(QWidget):
    """Side panel: the folder list with Add / Remove, accepting folders dropped on it."""

    foldersChanged = Signal()

    def __init__(self, model: FolderModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("foldersPanel")
        self.model = model or FolderModel(self)
        self.setAcceptDrops(True)
        title = QLabel("Folders")
        title.setObjectName("sectionTitle")
        self.view = QListView()
        self.view.setObjectName("folderList")
        self.view.setModel(self.model)
        self.view.setItemDelegate(_FolderDelegate(self.view))
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setMouseTracking(True)
        self.view.setMinimumHeight(90)
        self.add_button = QPushButton(assets.icon("folder-add"), "Add folder\u2026")
        self.add_button.setObjectName("addFolderButton")
        self.remove_button = QPushButton(assets.icon("remove"), "Remove")
        self.remove_button.setEnabled(False)
        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.add_button, 1)
        buttons.addWidget(self.remove_button)
        self.hint = QLabel("Drop folders here. Click the lock to protect a folder.")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        for signal in (
            self.model.rowsInserted,
            self.model.rowsRemoved,
            self.model.modelReset,
            self.model.dataChanged,
        ):
            signal.connect(self.foldersChanged)

    def add_folders(self, paths: Iterable[str]) -> int:
        return sum(self.model.add(p) for p in paths)

    def choose_folder(self) -> None:
        start = self.model.paths()[-1] if self.model.paths() else os.path.expanduser("~")
        path = QFileDialog.getExistingDirectory(self, "Add a folder to the library", start)
        if path:
            self.model.add(path)

    def remove_selected(self) -> None:
        self.model.remove_rows(i.row() for i in self.view.selectionModel().selectedRows())

    def _selection_changed(self, *_args) -> None:
        self.remove_button.setEnabled(self.view.selectionModel().hasSelection())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and local_dirs(event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.add_folders(local_dirs(event.mimeData().urls())):
            event.acceptProposedAction()
