"""A thin two-level Qt model over the library's sections: section headers, then their photos.

It speaks the grid's roles (photofind.gui.group_model.Roles), so the virtualised GroupGridView
and its delegate show it as they show duplicate groups. The library is for browsing: it has no
marks or keepers, and the delegate draws no mark toggle for it (IS_MARKED is None).

Sections of a big library are made on a pool thread (reading 100k records and sorting them
takes longer than a frame), then shown in one reset; until then the old ones stay, and a
build that was overtaken by a newer request (the next key typed in the filter) is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)

from photofind.core.library import Library, Section, SectionBy
from photofind.core.types import ImageRecord
from photofind.gui.group_model import Roles
from photofind.gui.two_level_model import ROOT, TwoLevelModel
from photofind.gui.workers import collections_paused, run_in_background

BACKGROUND_FROM = 5_000  # photos: below this, sections are made at once (a few ms)


class _Relay(QObject):
    built = Signal(int, object, object)  # generation, Library, list[Section]


class _SectionsTask(QRunnable):
    """Builds the Library when it is new, then its sections. Holds the relay and the model's
    latest generation (a one-item list), never the model."""

    def __init__(
        self,
        relay: _Relay,
        latest: list[int],
        source: Library | tuple[Sequence[ImageRecord], Sequence[str]],
        by: SectionBy,
        needle: str,
    ) -> None:
        super().__init__()
        self._relay, self._latest, self._generation = relay, latest, latest[0]
        self._source, self._by, self._needle = source, by, needle

    def run(self) -> None:
        if self._latest[0] != self._generation:
            return  # overtaken before it started
        run_in_background()
        source = self._source
        with collections_paused():
            library = source if isinstance(source, Library) else Library(*source)
            sections = library.sections(self._by, self._needle)
        self._relay.built.emit(self._generation, library, sections)


_POOL: QThreadPool | None = None


def _sections_pool() -> QThreadPool:
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(1)  # one build at a time; overtaken ones skip themselves
    return _POOL


class LibraryModel(TwoLevelModel):
    sectionsReady = Signal()  # the sections asked for last are shown

    def __init__(self, parent: QObject | None = None, *, background_from: int = BACKGROUND_FROM) -> None:
        super().__init__(parent)
        self._records: Sequence[ImageRecord] = ()
        self._library: Library | None = Library(())  # None while new records are being read
        self._pending: tuple[Sequence[ImageRecord], Sequence[str]] | None = None  # records to read
        self._sections: list[Section] = []
        self._by = SectionBy.FOLDER
        self._filter = ""
        self._shown = 0  # the generation of the sections shown
        self._background_from = background_from
        self._latest = [0]  # the newest request's generation, shared with the tasks
        self._relay = _Relay(self)
        self._relay.built.connect(self._built)

    # -- what is shown -----------------------------------------------------------------------

    def set_records(self, records: Sequence[ImageRecord], roots: Sequence[str] = ()) -> None:
        """Show these photos; `roots` are the scanned folders the section titles start from."""
        self._library, self._pending = None, (records, tuple(roots))
        self._rebuild()

    def set_library(self, library: Library) -> None:
        """Show the photos of a Library already built; only its sections are made."""
        self._library, self._pending = library, None
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

    def is_building(self) -> bool:
        """Sections asked for are still being made (the old ones are shown meanwhile)."""
        return self._latest[0] != self._shown

    def _rebuild(self) -> None:
        self._latest[0] += 1
        source = self._library or self._pending
        assert source is not None
        if len(source.records if isinstance(source, Library) else source[0]) >= self._background_from:
            task = _SectionsTask(self._relay, self._latest, source, self._by, self._filter)
            # Started once the GUI thread is back in its event loop: the build holds the GIL
            # in turns with it, so it must not overlap the rest of what the caller is doing
            # (a new scan result also resets the group grid).
            QTimer.singleShot(0, self, lambda: _sections_pool().start(task))
            return
        library = source if isinstance(source, Library) else Library(*source)
        self._built(self._latest[0], library, library.sections(self._by, self._filter))

    @Slot(int, object, object)
    def _built(self, generation: int, library: Library, sections: list[Section]) -> None:
        if generation != self._latest[0]:
            return  # a newer request is on its way
        self.beginResetModel()
        self._library, self._pending, self._shown = library, None, generation
        self._records, self._sections = library.records, sections
        self.endResetModel()
        self.sectionsReady.emit()

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
