"""A thin two-level Qt model over the library's sections: section headers, then their photos.

It speaks the grid's roles (photofind.gui.group_model.Roles), so the virtualised GroupGridView
and its delegate show it as they show duplicate groups. The library is for browsing: it has no
marks or keepers, and the delegate draws no mark toggle for it (IS_MARKED is None).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from photofind.core.library import Section, SectionBy, sections
from photofind.core.types import ImageRecord
from photofind.gui.group_model import Roles
from photofind.gui.two_level_model import ROOT, TwoLevelModel


class LibraryModel(TwoLevelModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: Sequence[ImageRecord] = ()
        self._sections: list[Section] = []
        self._by = SectionBy.FOLDER
        self._filter = ""

    # -- what is shown -----------------------------------------------------------------------

    def set_records(self, records: Sequence[ImageRecord]) -> None:
        self._records = records
        self._rebuild()

    def set_section_by(self, by: SectionBy) -> None:
        if by is not self._by:
            self._by = by
            self._rebuild()

    def set_name_filter(self, needle: str) -> None:
        if needle != self._filter:
            self._filter = needle
            self._rebuild()

    def section_by(self) -> SectionBy:
        return self._by

    def member_counts(self) -> list[int]:
        """Photos per section, by top-level row: the grid's layout in one call."""
        return [len(s.members) for s in self._sections]

    def photo_count(self) -> int:
        return sum(len(s.members) for s in self._sections)

    def _rebuild(self) -> None:
        self.beginResetModel()
        self._sections = sections(self._records, self._by, self._filter)
        self.endResetModel()

    # -- Qt model interface ------------------------------------------------------------------

    def top_count(self) -> int:
        return len(self._sections)

    def child_count(self, row: int) -> int:
        return len(self._sections[row].members)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == ROOT:
            return self._section_data(self._sections[index.row()], role)
        record = self.record_index(index)
        return None if record is None else self._photo_data(self._records[record], record, role)

    def _section_data(self, section: Section, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return section.title
        if role == Roles.KIND:
            return "group"
        if role == Roles.COUNT:
            return len(section.members)
        if role == Qt.ItemDataRole.ToolTipRole:
            return section.key or section.title
        return None  # no tier: the delegate draws a plain section header

    def _photo_data(self, r: ImageRecord, record: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return r.file.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.path
        if role == Roles.KIND:
            return "photo"
        if role == Roles.RECORD_INDEX:
            return record
        if role == Roles.PATH:
            return r.path
        if role == Roles.WIDTH:
            return r.facts.width
        if role == Roles.HEIGHT:
            return r.facts.height
        if role == Roles.BYTES:
            return r.file.size
        if role == Roles.FORMAT:
            return r.facts.format
        if role == Roles.TAKEN:
            return r.facts.taken
        if role == Roles.CAMERA:
            return r.facts.camera
        if role in (Roles.IS_KEEPER, Roles.IS_PROTECTED):
            return False
        return None

    # -- the grid's questions ----------------------------------------------------------------

    def record_index(self, index: QModelIndex | QPersistentModelIndex) -> int | None:
        if not index.isValid() or index.internalId() == ROOT:
            return None
        section = index.internalId() - 1
        if section >= len(self._sections) or index.row() >= len(self._sections[section].members):
            return None
        return self._sections[section].members[index.row()]

    def path_at(self, index: QModelIndex) -> str | None:
        record = self.record_index(index)
        return None if record is None else self._records[record].path

    def group_row(self, index: QModelIndex) -> int | None:
        return None  # browsing only: Enter and double-click open no compare view here

    def marked(self) -> frozenset[int]:
        return frozenset()

    def set_marked(self, record: int, marked: bool) -> bool:
        return False

    def toggle_marked(self, record: int) -> bool:
        return False

    def set_keeper(self, record: int) -> bool:
        return False
