"""A thin two-level Qt model over the engine's immutable groups: groups, then their photos.

The user's review state (which photos are marked, which keeper the user chose, which folders
are protected) lives in one `photofind.core.cleanup.marks.Marks`, the object the compare dialog
and the trash action use too; the model shows it and tells views when it changes. Everything
else is read straight from the ImageRecord/Group tuples. Changes are signalled as narrowly
as Qt allows: one dataChanged per touched row, a reset only when the set of rows changes.

New groups arrive made ready on a worker (`photofind.core.cleanup.ready`): the review state
carried over, every group's bytes to free and the lookups already worked out, so `show` only
swaps them in; sorting and filtering are numpy over the group table. An edit of every group
(mark by rule, a keeper rule chain, protected folders: `photofind.core.cleanup.edits`) is made
the same way: `edit_job` on a worker, then `adopt_edit` here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import Any, TypeVar

import numpy as np
from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from photofind.core.cleanup.edits import Edit, EditedReview, edit_detached
from photofind.core.cleanup.marks import Marks
from photofind.core.cleanup.ready import GroupTable, ReadyGroups, SortKey, make_ready
from photofind.core.scan.companions import Companion, Companions
from photofind.core.types import Group, ImageRecord, Tier
from photofind.gui import text
from photofind.gui.two_level_model import ROOT, TwoLevelModel

T = TypeVar("T")


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
    UNIT = Qt.ItemDataRole.UserRole + 22  # badges of the photo's capture unit: ("LIVE", "XMP"), or ()


class GroupModel(TwoLevelModel):
    markRefused = Signal(str)  # why a mark/keeper change was refused, in words
    reviewChanged = Signal()  # marks or keepers changed: summaries should refresh

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._records: tuple[ImageRecord, ...] = ()
        self._groups: tuple[Group, ...] = ()
        self._review = Marks((), ())
        self._table = GroupTable.build((), self._review)  # per group: sums and lookups
        self._rows: list[int] = []  # visible group rows -> position in self._groups
        self._row_of_group = np.empty(0, np.int64)  # position in self._groups -> visible row, or -1
        self._tiers: set[Tier] = set(Tier)
        self._sort = SortKey.RECLAIMABLE
        self._companions: Companions = {}

    # -- Qt model interface ------------------------------------------------------------------

    def top_count(self) -> int:
        return len(self._rows)

    def child_count(self, row: int) -> int:
        return len(self._group_at(row).members)

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update({int(r): r.name.lower().encode() for r in Roles})
        return names

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == ROOT:
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
        best = self.best_shot(group)
        if role == Qt.ItemDataRole.DisplayRole:
            kind = "Burst" if best is not None else text.TIER_LABELS[group.tier]
            return f"{kind} \u00b7 {len(group.members)} photos"
        if role == Qt.ItemDataRole.ToolTipRole:
            return text.BURST_HELP if best is not None else text.TIER_HELP[group.tier]
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
            why = ", ".join(group.why)
            if best is not None:  # which frame the burst suggests keeping, and why
                why += f" \u00b7 best shot: {self._records[best].file.name} ({group.best_shot_reason})"
            return why
        if role == Roles.MARKED_COUNT:
            return len(self._review.marked(group.id))
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

    def set_groups(
        self, records: Sequence[ImageRecord], groups: Sequence[Group], companions: Companions | None = None
    ) -> None:
        """Show new groups, made ready here on the calling thread (the app makes them ready on
        a worker and calls `show`). Review state survives when the records are the same (a
        regroup); a new scan result starts clean. `companions`: the scan's capture units
        (ScanResult.companions)."""
        self.show(make_ready(records, groups, companions, self._review.detached()))

    def show(self, ready: ReadyGroups) -> None:
        """Show groups made ready by `make_ready` from a `detached` copy of `review`: a swap
        and a model reset. The review must not have changed since that copy was taken (a mark
        made while a regroup ran): the caller makes such groups ready again, on a worker
        (ScanController), so no change is lost and the carry-over never runs here."""
        if ready.base_version != self._review.version:
            raise ValueError("groups made ready against an older review state: make them ready again")
        if ready.same_library:
            self._review.adopt(ready.marks, ready.base_version)
        else:
            self._review = ready.marks  # a new library: a new review, as a new scan's
        self.beginResetModel()
        self._records = ready.records
        self._groups = ready.groups
        self._companions = ready.companions
        self._table = ready.table
        self._rebuild_rows()
        self.endResetModel()
        self.reviewChanged.emit()

    def companions_of(self, record_index: int) -> tuple[Companion, ...]:
        """The files that travel with this photo (Live Photo video, RAW, sidecars)."""
        return self._companions.get(self._records[record_index].path, ())

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

    def tier_filter(self) -> set[Tier]:
        return set(self._tiers)

    def sort_key(self) -> SortKey:
        return self._sort

    def _rebuild_rows(self) -> None:
        shown = self._table.order(self._sort, self._tiers)
        self._rows = shown.tolist()
        self._row_of_group = np.full(len(self._groups), -1, np.int64)
        self._row_of_group[shown] = np.arange(len(shown))

    def _row_of_position(self, pos: int | None) -> int | None:
        row = -1 if pos is None else int(self._row_of_group[pos])
        return None if row < 0 else row

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

    def shown_group_ids(self) -> list[int]:
        """The ids of the shown groups, by top-level row."""
        return self._table.ids[self._rows].tolist()

    def member_counts(self) -> list[int]:
        """Photos per shown group, by top-level row: a view's layout in one call."""
        return self._table.sizes[self._rows].tolist()

    def shown_totals(self) -> tuple[int, int, int]:
        """(groups, photos, bytes to free) of the shown groups: the summary line."""
        rows = self._rows
        return len(rows), int(self._table.sizes[rows].sum()), int(self._table.reclaimable[rows].sum())

    def group_of_record(self, record: int) -> Group | None:
        pos = self._table.position_of_record.get(record)
        return None if pos is None else self._groups[pos]

    def record_index(self, index: QModelIndex | QPersistentModelIndex) -> int | None:
        if not index.isValid() or index.internalId() == ROOT:
            return None
        return self._group_at(index.internalId() - 1).members[index.row()].index

    def group_row(self, index: QModelIndex) -> int | None:
        """Top-level row of the group that `index` (a group or a photo) belongs to."""
        if not index.isValid():
            return None
        return index.row() if index.internalId() == ROOT else index.internalId() - 1

    def index_of_record(self, record: int) -> QModelIndex:
        pos = self._table.position_of_record.get(record)
        row = self._row_of_position(pos)
        if pos is None or row is None:
            return QModelIndex()
        members = self._groups[pos].members
        child = next(k for k, m in enumerate(members) if m.index == record)
        return self.index(child, 0, self.index(row, 0))

    def tier_counts(self) -> dict[Tier, int]:
        return self._table.tier_counts()

    # -- review state (kept by photofind.core.cleanup.marks.Marks) ---------------------------

    @property
    def review(self) -> Marks:
        """The review state itself, for views that change it directly (the compare dialog);
        they call `review_edited` afterwards."""
        return self._review

    def best_shot(self, group: Group) -> int | None:
        """A burst's suggested frame (photofind.core.match.bursts); None for other groups."""
        return group.best_shot if group.best_shot in group.indices else None

    def keeper_of(self, group: Group) -> int:
        """The photo this group keeps: never a marked one (see Marks.keeper)."""
        return self._review.keeper(group.id)

    def reclaimable(self, group: Group) -> int:
        return self._review.reclaimable(group.id)

    def is_protected(self, record: int) -> bool:
        return self._review.is_protected(record)

    def marked(self) -> frozenset[int]:
        return self._review.marked_records()

    def set_marked(self, record: int, marked: bool) -> bool:
        group = self.group_of_record(record)
        if group is None:
            return False
        if marked == self._review.is_marked(group.id, record):
            return True
        if marked:
            why = self._review.mark(group.id, record)
            if why is not None:
                self.markRefused.emit(why.value)
                return False
        else:
            self._review.unmark(group.id, record)
        self.review_edited(group.id)
        return True

    def toggle_marked(self, record: int) -> bool:
        group = self.group_of_record(record)
        return group is not None and self.set_marked(record, not self._review.is_marked(group.id, record))

    def set_keeper(self, record: int) -> bool:
        group = self.group_of_record(record)
        if group is None:
            return False
        if record != self.keeper_of(group):
            self._review.choose_keeper(group.id, record)
            self.review_edited(group.id)
        return True

    # -- edits of every group (photofind.core.cleanup.edits) --------------------------------

    def edit_job(self, edit: Edit[T]) -> Callable[[], EditedReview[T]]:
        """`edit` made ready to run on a worker: against a copy of the review state and the
        shown groups' table, taken now. Its result goes to `adopt_edit`."""
        review, table = self._review.detached(), self._table
        return lambda: edit_detached(review, table, edit)

    def adopt_edit(self, edited: EditedReview) -> bool:
        """Take over the review state an `edit_job` left, with the bytes every group frees
        after it: a swap, then one signal for the views. False (nothing changes) if the
        review changed since the job was made (a mark, new groups): make a new job."""
        if edited.base_version != self._review.version:
            return False
        self._review.adopt(edited.marks, edited.base_version)
        self._table.reclaimable = edited.reclaimable
        self._emit_all_changed()
        self.reviewChanged.emit()
        return True

    def apply(self, edit: Edit[T]) -> T:
        """Make `edit` here and now, on this thread: for a review with no groups yet (the
        settings restored at start) or a few."""
        edited = self.edit_job(edit)()
        self.adopt_edit(edited)
        return edited.outcome

    def forget_records(self, records: Iterable[int]) -> None:
        """These files left the library (cleaned up): see Marks.forget."""
        self._review.forget(records)

    def review_edited(self, group_id: int) -> None:
        """The review state of this group changed (here, in the compare dialog or on the
        similar page)."""
        self._review_edited([group_id])

    def _review_edited(self, group_ids: Iterable[int]) -> None:
        group_ids = set(group_ids)
        if not group_ids:
            return
        # A pair from the similar page (Marks.pair) has no row here, but the summary counts it.
        position_of_id = self._table.position_of_id
        positions = {position_of_id[gid] for gid in group_ids if gid in position_of_id}
        for pos in positions:
            self._table.refresh(pos, self._review)
            # Marking the keeper hands the role to another photo: the whole group may change.
            self._emit_group_changed(self._groups[pos], [Roles.IS_MARKED, Roles.IS_KEEPER])
        self.reviewChanged.emit()

    # -- change signals ----------------------------------------------------------------------

    def _emit_group_changed(self, group: Group, roles: list[int]) -> None:
        row = self._row_of_position(self._table.position_of_record.get(group.members[0].index))
        if row is None:
            return
        parent = self.index(row, 0)
        first, last = self.index(0, 0, parent), self.index(len(group.members) - 1, 0, parent)
        self.dataChanged.emit(first, last, roles)
        self.dataChanged.emit(parent, parent, [Roles.MARKED_COUNT, Roles.RECLAIMABLE])

    def _emit_all_changed(self) -> None:
        """Any photo and group may show differently (marks, keepers, protection, sums), and
        no row moved: one layout change instead of two dataChanged per group (at 20k groups
        those signals alone held the GUI thread for seconds)."""
        self.layoutAboutToBeChanged.emit()
        self.layoutChanged.emit()


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
    Roles.IS_MARKED: lambda model, group, member, r: model.review.is_marked(group.id, member.index),
    Roles.IS_PROTECTED: lambda model, group, member, r: model.is_protected(member.index),
    Roles.UNIT: lambda model, group, member, r: tuple(
        dict.fromkeys(c.kind.label for c in model.companions_of(member.index))
    ),
}
