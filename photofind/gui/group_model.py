"""A thin two-level Qt model over the engine's immutable groups: groups, then their photos.

The model owns only the user's review state (which photos are marked, which keeper the user
chose, which folders are protected) plus a filtered, sorted view of the groups. Everything
else is read straight from the ImageRecord/Group tuples. Changes are signalled as narrowly
as Qt allows: one dataChanged per touched row, a reset only when the set of rows changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from enum import Enum, IntEnum
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from photofind.core.types import Group, ImageRecord, Tier
from photofind.gui import text

_ROOT = 0  # internalId of group rows; photo rows carry (group row + 1)
_TIER_RANK = {t: t.rank for t in Tier}  # Tier.rank walks the enum on every call


class Roles(IntEnum):
    KIND = Qt.ItemDataRole.UserRole + 1  # "group" or "photo"
    GROUP_ID = Qt.ItemDataRole.UserRole + 2
    TIER = Qt.ItemDataRole.UserRole + 3  # Tier value: "exact", "pixels", "near", "similar"
    COUNT = Qt.ItemDataRole.UserRole + 4
    MIN_SIMILARITY = Qt.ItemDataRole.UserRole + 5
    MEAN_SIMILARITY = Qt.ItemDataRole.UserRole + 6
    RECLAIMABLE = Qt.ItemDataRole.UserRole + 7  # bytes freed by keeping only the keeper
    WHY = Qt.ItemDataRole.UserRole + 8
    MARKED_COUNT = Qt.ItemDataRole.UserRole + 9
    RECORD_INDEX = Qt.ItemDataRole.UserRole + 10  # position in ScanResult.records
    PATH = Qt.ItemDataRole.UserRole + 11
    SIMILARITY = Qt.ItemDataRole.UserRole + 12  # cosine to the group's keeper
    WIDTH = Qt.ItemDataRole.UserRole + 13
    HEIGHT = Qt.ItemDataRole.UserRole + 14
    BYTES = Qt.ItemDataRole.UserRole + 15
    FORMAT = Qt.ItemDataRole.UserRole + 16
    TAKEN = Qt.ItemDataRole.UserRole + 17
    CAMERA = Qt.ItemDataRole.UserRole + 18
    IS_KEEPER = Qt.ItemDataRole.UserRole + 19
    IS_MARKED = Qt.ItemDataRole.UserRole + 20
    IS_PROTECTED = Qt.ItemDataRole.UserRole + 21


class SortKey(str, Enum):
    RECLAIMABLE = "reclaimable"
    SIZE = "size"
    SIMILARITY = "similarity"


class GroupModel(QAbstractItemModel):
    markRefused = Signal(str)  # why a mark/keeper change was refused, in words
    reviewChanged = Signal()  # marks or keepers changed: summaries should refresh

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: tuple[ImageRecord, ...] = ()
        self._groups: tuple[Group, ...] = ()
        self._rows: list[int] = []  # visible group rows -> position in self._groups
        self._row_of_group: dict[int, int] = {}  # position in self._groups -> visible row
        self._group_of_record: dict[int, int] = {}  # record index -> position in self._groups
        self._tiers: set[Tier] = set(Tier)
        self._sort = SortKey.RECLAIMABLE
        self._marked: set[int] = set()
        self._keepers: set[int] = set()  # record indices the user chose as keeper
        self._protected_roots: tuple[str, ...] = ()
        self._protected_cache: dict[int, bool] = {}
        self._reclaimable: dict[int, int] = {}  # group id -> bytes freed; dropped when its review changes

    # -- Qt model interface ------------------------------------------------------------------

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update({int(r): r.name.lower().encode() for r in Roles})
        return names

    def index(self, row: int, column: int = 0, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        if column != 0 or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, 0, _ROOT) if row < len(self._rows) else QModelIndex()
        if parent.internalId() != _ROOT or parent.row() >= len(self._rows):
            return QModelIndex()
        if row >= len(self._group_at(parent.row()).members):
            return QModelIndex()
        return self.createIndex(row, 0, parent.row() + 1)

    def parent(self, index: QModelIndex | None = None) -> Any:  # type: ignore[override]
        if index is None:
            return QObject.parent(self)
        if not index.isValid() or index.internalId() == _ROOT:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, _ROOT)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._rows)
        if parent.internalId() == _ROOT and parent.column() == 0:
            return len(self._group_at(parent.row()).members)
        return 0

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 1

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == _ROOT:
            return self._group_data(self._group_at(index.row()), role)
        group = self._group_at(index.internalId() - 1)
        return self._photo_data(group, group.members[index.row()], role)

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        record = self.record_index(index)
        if record is None:
            return False
        if role == Roles.IS_MARKED:
            return self.set_marked(record, bool(value))
        if role == Roles.IS_KEEPER and value:
            return self.set_keeper(record)
        return False

    # -- data per kind -----------------------------------------------------------------------

    def _group_data(self, group: Group, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{text.TIER_LABELS[group.tier]} \u00b7 {len(group.members)} photos"
        if role == Qt.ItemDataRole.ToolTipRole:
            return text.TIER_HELP[group.tier]
        if role == Roles.KIND:
            return "group"
        if role == Roles.GROUP_ID:
            return group.id
        if role == Roles.TIER:
            return group.tier.value
        if role == Roles.COUNT:
            return len(group.members)
        if role == Roles.MIN_SIMILARITY:
            return group.min_similarity
        if role == Roles.MEAN_SIMILARITY:
            return group.mean_similarity
        if role == Roles.RECLAIMABLE:
            return self.reclaimable(group)
        if role == Roles.WHY:
            return ", ".join(group.why)
        if role == Roles.MARKED_COUNT:
            return sum(1 for m in group.members if m.index in self._marked)
        return None

    def _photo_data(self, group: Group, member, role: int) -> Any:
        r = self._records[member.index]
        if role == Qt.ItemDataRole.DisplayRole:
            return r.file.name
        if role == Qt.ItemDataRole.ToolTipRole:
            camera = f"\n{r.facts.camera}" if r.facts.camera else ""
            return (
                f"{r.path}\n{text.resolution(r.facts.width, r.facts.height)} \u00b7 "
                f"{text.human_bytes(r.file.size)} \u00b7 {r.facts.format}{camera}"
            )
        getter = _PHOTO_GETTERS.get(role)
        return getter(self, group, member, r) if getter else None

    # -- loading and view options ------------------------------------------------------------

    def set_groups(self, records: Sequence[ImageRecord], groups: Sequence[Group]) -> None:
        """Show new groups. Review state survives when the records are the same (a regroup);
        a new scan result starts clean."""
        records = tuple(records)
        same_library = records is self._records or (
            len(records) == len(self._records)
            and all(
                a.path == b.path and a.content_hash == b.content_hash for a, b in zip(records, self._records)
            )
        )
        self.beginResetModel()
        if not same_library:
            self._marked.clear()
            self._keepers.clear()
            self._protected_cache.clear()
        self._records = tuple(records)
        self._groups = tuple(groups)
        self._reclaimable = {}
        self._group_of_record = {m.index: pos for pos, g in enumerate(self._groups) for m in g.members}
        self._keepers &= set(self._group_of_record)
        self._marked = {i for i in self._marked if self._markable(i) is None}
        self._rebuild_rows()
        self.endResetModel()
        self.reviewChanged.emit()

    def set_tier_filter(self, tiers: Iterable[Tier]) -> None:
        tiers = set(tiers)
        if tiers != self._tiers:
            self.beginResetModel()
            self._tiers = tiers
            self._rebuild_rows()
            self.endResetModel()

    def set_sort(self, key: SortKey) -> None:
        key = SortKey(key)
        if key != self._sort:
            self.beginResetModel()
            self._sort = key
            self._rebuild_rows()
            self.endResetModel()

    def set_protected_roots(self, roots: Iterable[str]) -> None:
        roots = tuple(os.path.normpath(os.path.abspath(r)) for r in roots)
        if roots == self._protected_roots:
            return
        self._protected_roots = roots
        self._protected_cache.clear()
        self._reclaimable.clear()  # protected photos lose their marks, in any group
        unmarked = {i for i in self._marked if self.is_protected(i)}
        self._marked -= unmarked
        self._emit_all_photos_changed()
        self.reviewChanged.emit()

    def tier_filter(self) -> set[Tier]:
        return set(self._tiers)

    def sort_key(self) -> SortKey:
        return self._sort

    def _rebuild_rows(self) -> None:
        keys = {
            SortKey.RECLAIMABLE: lambda g: (-self.reclaimable(g), _TIER_RANK[g.tier], g.id),
            SortKey.SIZE: lambda g: (-len(g.members), _TIER_RANK[g.tier], g.id),
            SortKey.SIMILARITY: lambda g: (-g.mean_similarity, _TIER_RANK[g.tier], g.id),
        }
        key = keys[self._sort]
        shown = [pos for pos, g in enumerate(self._groups) if g.tier in self._tiers]
        shown.sort(key=lambda pos: key(self._groups[pos]))
        self._rows = shown
        self._row_of_group = {pos: row for row, pos in enumerate(shown)}

    # -- lookups -----------------------------------------------------------------------------

    def _group_at(self, row: int) -> Group:
        return self._groups[self._rows[row]]

    def group(self, row: int) -> Group:
        """The group shown at top-level `row`."""
        return self._group_at(row)

    def groups(self) -> tuple[Group, ...]:
        return self._groups

    def records(self) -> tuple[ImageRecord, ...]:
        return self._records

    def member_counts(self) -> list[int]:
        """Photos per shown group, by top-level row: a view's layout in one call."""
        groups = self._groups
        return [len(groups[pos].members) for pos in self._rows]

    def visible_groups(self) -> list[Group]:
        return [self._groups[pos] for pos in self._rows]

    def group_of_record(self, record: int) -> Group | None:
        pos = self._group_of_record.get(record)
        return None if pos is None else self._groups[pos]

    def record_index(self, index: QModelIndex | QPersistentModelIndex) -> int | None:
        if not index.isValid() or index.internalId() == _ROOT:
            return None
        return self._group_at(index.internalId() - 1).members[index.row()].index

    def group_row(self, index: QModelIndex) -> int | None:
        """Top-level row of the group that `index` (a group or a photo) belongs to."""
        if not index.isValid():
            return None
        return index.row() if index.internalId() == _ROOT else index.internalId() - 1

    def index_of_record(self, record: int) -> QModelIndex:
        pos = self._group_of_record.get(record)
        row = self._row_of_group.get(pos) if pos is not None else None
        if row is None:
            return QModelIndex()
        members = self._groups[pos].members
        child = next(k for k, m in enumerate(members) if m.index == record)
        return self.index(child, 0, self.index(row, 0))

    def tier_counts(self) -> dict[Tier, int]:
        counts = {t: 0 for t in Tier}
        for g in self._groups:
            counts[g.tier] += 1
        return counts

    # -- review state ------------------------------------------------------------------------

    def keeper_of(self, group: Group) -> int:
        """The photo this group keeps: the user's choice, else the engine's, unless marked;
        then the best unmarked one (one always stays unmarked)."""
        if not self._keepers and not self._marked:  # the common case, asked per painted cell
            return group.keep_index
        for m in group.members:
            if m.index in self._keepers and m.index not in self._marked:
                return m.index
        if group.keep_index not in self._marked:
            return group.keep_index
        return next(m.index for m in group.members if m.index not in self._marked)

    def reclaimable(self, group: Group) -> int:
        """Bytes freed by keeping only the keeper. Remembered per group until its review
        changes: sorting and the summary ask for every group at once."""
        freed = self._reclaimable.get(group.id)
        if freed is None:
            keep = self.keeper_of(group)
            freed = sum(self._records[m.index].file.size for m in group.members if m.index != keep)
            self._reclaimable[group.id] = freed
        return freed

    def is_protected(self, record: int) -> bool:
        cached = self._protected_cache.get(record)
        if cached is None:
            path = os.path.normpath(os.path.abspath(self._records[record].path))
            cached = any(
                path == root or path.startswith(root.rstrip(os.sep) + os.sep)
                for root in self._protected_roots
            )
            self._protected_cache[record] = cached
        return cached

    def marked(self) -> frozenset[int]:
        return frozenset(self._marked)

    def marked_bytes(self) -> int:
        return sum(self._records[i].file.size for i in self._marked)

    def _markable(self, record: int) -> str | None:
        """None when `record` may be marked, else the reason it may not."""
        group = self.group_of_record(record)
        if group is None:
            return "this photo is not in a group"
        if self.is_protected(record):
            return "this photo is in a protected folder"
        others = [m.index for m in group.members if m.index != record]
        if all(i in self._marked for i in others):
            return "at least one photo of every group stays"
        return None

    def set_marked(self, record: int, marked: bool) -> bool:
        if marked == (record in self._marked):
            return True
        if marked:
            reason = self._markable(record)
            if reason is not None:
                self.markRefused.emit(reason)
                return False
            self._marked.add(record)
        else:
            self._marked.discard(record)
        # Marking the keeper hands the role to another photo, so the whole group may change.
        self._emit_group_changed(self.group_of_record(record), [Roles.IS_MARKED, Roles.IS_KEEPER])
        self.reviewChanged.emit()
        return True

    def toggle_marked(self, record: int) -> bool:
        return self.set_marked(record, record not in self._marked)

    def set_keeper(self, record: int) -> bool:
        group = self.group_of_record(record)
        if group is None:
            return False
        if record == self.keeper_of(group):
            return True
        self._keepers -= {m.index for m in group.members}
        self._keepers.add(record)
        self._marked.discard(record)  # a kept photo is not marked
        self._emit_group_changed(group, [Roles.IS_KEEPER, Roles.IS_MARKED])
        self.reviewChanged.emit()
        return True

    def apply_keepers(self, keepers: Iterable[int]) -> None:
        """Make these records the keepers of their groups (a keeper rule's picks); they are
        unmarked, and every group's row is told once."""
        chosen = {k for k in keepers if k in self._group_of_record}
        touched = {self._group_of_record[k] for k in chosen}
        self._keepers = {k for k in self._keepers if self._group_of_record.get(k) not in touched} | chosen
        self._marked -= chosen
        for pos in touched:
            self._emit_group_changed(self._groups[pos], [Roles.IS_KEEPER, Roles.IS_MARKED])
        if touched:
            self.reviewChanged.emit()

    def mark_all_but_keeper(self, tiers: Iterable[Tier] | None = None) -> int:
        """Mark every member except the keeper (and protected photos) in the shown groups of
        `tiers`; returns how many photos were newly marked."""
        tiers = set(Tier) if tiers is None else set(tiers)
        added = 0
        for pos in self._rows:
            group = self._groups[pos]
            if group.tier not in tiers:
                continue
            keep = self.keeper_of(group)
            new = [
                m.index
                for m in group.members
                if m.index != keep and m.index not in self._marked and not self.is_protected(m.index)
            ]
            if new:
                self._marked.update(new)
                added += len(new)
                self._emit_group_changed(group, [Roles.IS_MARKED, Roles.IS_KEEPER])
        if added:
            self.reviewChanged.emit()
        return added

    def apply_marks(self, records: Iterable[int]) -> int:
        """Mark the given records where allowed (a rule's choice); returns how many were."""
        added = 0
        touched: dict[int, Group] = {}
        for record in records:
            if record not in self._marked and self._markable(record) is None:
                self._marked.add(record)
                added += 1
                group = self.group_of_record(record)
                touched[group.id] = group
        for group in touched.values():
            self._emit_group_changed(group, [Roles.IS_MARKED, Roles.IS_KEEPER])
        if added:
            self.reviewChanged.emit()
        return added

    def clear_marks(self) -> None:
        if not self._marked:
            return
        touched = {self._group_of_record[i] for i in self._marked if i in self._group_of_record}
        self._marked.clear()
        for pos in touched:
            self._emit_group_changed(self._groups[pos], [Roles.IS_MARKED, Roles.IS_KEEPER])
        self.reviewChanged.emit()

    # -- change signals ----------------------------------------------------------------------

    def _emit_group_changed(self, group: Group, roles: list[int]) -> None:
        self._reclaimable.pop(group.id, None)  # every review change of a group passes here
        row = self._row_of_group.get(self._group_of_record.get(group.members[0].index, -1))
        if row is None:
            return
        parent = self.index(row, 0)
        first, last = self.index(0, 0, parent), self.index(len(group.members) - 1, 0, parent)
        self.dataChanged.emit(first, last, roles)
        self.dataChanged.emit(parent, parent, [Roles.MARKED_COUNT, Roles.RECLAIMABLE])

    def _emit_all_photos_changed(self) -> None:
        for row in range(len(self._rows)):
            self._emit_group_changed(
                self._group_at(row), [Roles.IS_PROTECTED, Roles.IS_MARKED, Roles.IS_KEEPER]
            )


# Photo roles -> value, one function each: data() runs for every role of every painted cell,
# so it looks one up instead of building a table of closures per call.
_PHOTO_GETTERS: dict[int, Any] = {
    Roles.KIND: lambda model, group, member, r: "photo",
    Roles.GROUP_ID: lambda model, group, member, r: group.id,
    Roles.TIER: lambda model, group, member, r: group.tier.value,
    Roles.RECORD_INDEX: lambda model, group, member, r: member.index,
    Roles.PATH: lambda model, group, member, r: r.path,
    Roles.SIMILARITY: lambda model, group, member, r: member.similarity,
    Roles.WIDTH: lambda model, group, member, r: r.facts.width,
    Roles.HEIGHT: lambda model, group, member, r: r.facts.height,
    Roles.BYTES: lambda model, group, member, r: r.file.size,
    Roles.FORMAT: lambda model, group, member, r: r.facts.format,
    Roles.TAKEN: lambda model, group, member, r: r.facts.taken or "",
    Roles.CAMERA: lambda model, group, member, r: r.facts.camera or "",
    Roles.IS_KEEPER: lambda model, group, member, r: member.index == model.keeper_of(group),
    Roles.IS_MARKED: lambda model, group, member, r: member.index in model._marked,
    Roles.IS_PROTECTED: lambda model, group, member, r: model.is_protected(member.index),
}
