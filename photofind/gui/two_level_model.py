"""Qt's tree plumbing for the grid's models: top-level rows (duplicate groups, library
sections), each with its photos as child rows. A top-level row's internalId is ROOT; a photo
row's is its parent's row + 1, so no index needs an object behind it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt

ROOT = 0


class TwoLevelModel(QAbstractItemModel):
    """Subclasses say how many top-level rows there are and how many photos each holds."""

    def top_count(self) -> int:
        raise NotImplementedError

    def child_count(self, row: int) -> int:
        raise NotImplementedError

    def index(self, row: int, column: int = 0, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        if column != 0 or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, 0, ROOT) if row < self.top_count() else QModelIndex()
        if parent.internalId() != ROOT or parent.row() >= self.top_count():
            return QModelIndex()
        if row >= self.child_count(parent.row()):
            return QModelIndex()
        return self.createIndex(row, 0, parent.row() + 1)

    def parent(self, index: QModelIndex | None = None) -> Any:  # type: ignore[override]
        if index is None:
            return QObject.parent(self)
        if not index.isValid() or index.internalId() == ROOT:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, ROOT)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return self.top_count()
        if parent.internalId() == ROOT and parent.column() == 0 and parent.row() < self.top_count():
            return self.child_count(parent.row())
        return 0

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 1

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
