"""New groups made ready for review away from the GUI thread.

At 100k photos a scan or a slider move hands the app some 20,000 groups. Before the grid can
show them, the review state must carry over (marks and chosen keepers follow their files),
every group's keeper and the bytes its clean-up frees must be worked out (the grid sorts and
sums by them), and lookups from a photo and from a group id to the group are needed: 0.1 to
0.3 s of Python, far over a frame. `make_ready` does all of it on a worker thread, on a
`detached` copy of the review state (`Marks`), so the GUI thread only swaps the result in
(`Marks.adopt`, then a model reset). The one owner of the review state stays the GUI's
`Marks`: a copy whose source changed meanwhile is refused, and the work is redone there.

`GroupTable` holds the numbers per group as arrays, so sorting 20k groups, filtering them by
tier and summing what they free are numpy operations, cheap enough for the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from photofind.core.cleanup.marks import Marks
from photofind.core.scan.companions import Companions
from photofind.core.types import Group, ImageRecord, Tier

_TIER_RANK = {t: t.rank for t in Tier}  # Tier.rank walks the enum on every call


class SortKey(str, Enum):
    """How the grid orders its groups; ties go to the safer tier, then to the older group."""

    RECLAIMABLE = "reclaimable"  # most bytes freed first
    SIZE = "size"  # most photos first
    SIMILARITY = "similarity"  # most alike first


@dataclass(eq=False)
class GroupTable:
    """Per group, by its position in `groups`: what the grid sorts, filters and sums by, and
    the lookups into it. Only `reclaimable` changes after it is made: its owner (the thread
    that owns the Marks) updates it when a group's keeper changes (`refresh`), or swaps in
    new `sums` after an edit of every group."""

    groups: tuple[Group, ...]
    reclaimable: np.ndarray  # int64: bytes freed by keeping only the keeper
    sizes: np.ndarray  # int64: photos in the group
    tier_ranks: np.ndarray  # int64: Tier.rank, the safer tier first
    mean_similarity: np.ndarray  # float64
    ids: np.ndarray  # int64: Group.id
    position_of_id: dict[int, int]  # Group.id -> position
    position_of_record: dict[int, int]  # record index -> position of the group holding it

    @classmethod
    def build(cls, groups: Sequence[Group], marks: Marks) -> GroupTable:
        """The table of `groups` as `marks` sees them (their keepers decide what is freed)."""
        groups = tuple(groups)
        n = len(groups)
        return cls(
            groups=groups,
            reclaimable=_reclaimable(groups, marks),
            sizes=np.fromiter((len(g.members) for g in groups), np.int64, n),
            tier_ranks=np.fromiter((_TIER_RANK[g.tier] for g in groups), np.int64, n),
            mean_similarity=np.fromiter((g.mean_similarity for g in groups), np.float64, n),
            ids=np.fromiter((g.id for g in groups), np.int64, n),
            position_of_id={g.id: pos for pos, g in enumerate(groups)},
            position_of_record={m.index: pos for pos, g in enumerate(groups) for m in g.members},
        )

    def order(self, key: SortKey, tiers: set[Tier]) -> np.ndarray:
        """Positions of the groups of `tiers`, sorted by `key` (then the safer tier, then the
        group id): the grid's rows."""
        primary = {
            SortKey.RECLAIMABLE: -self.reclaimable,
            SortKey.SIZE: -self.sizes,
            SortKey.SIMILARITY: -self.mean_similarity,
        }[SortKey(key)]
        order = np.lexsort((self.ids, self.tier_ranks, primary))  # the last key sorts first
        if len(tiers) < len(Tier):
            allowed = np.zeros(max(_TIER_RANK.values()) + 1, bool)
            allowed[[_TIER_RANK[t] for t in tiers]] = True
            order = order[allowed[self.tier_ranks[order]]]
        return order

    def refresh(self, position: int, marks: Marks) -> None:
        """The group at `position` changed in `marks` (a mark, a keeper): its sum follows."""
        self.reclaimable[position] = marks.reclaimable(int(self.ids[position]))

    def sums(self, marks: Marks) -> np.ndarray:
        """The bytes each group frees as `marks` sees them, in this table's order: a new
        array, worked out where the edit of every group was (photofind.core.cleanup.edits),
        which the owner then swaps in for `reclaimable`."""
        return _reclaimable(self.groups, marks)

    def tier_counts(self) -> dict[Tier, int]:
        counts = np.bincount(self.tier_ranks, minlength=max(_TIER_RANK.values()) + 1)
        return {t: int(counts[_TIER_RANK[t]]) for t in Tier}


def _reclaimable(groups: tuple[Group, ...], marks: Marks) -> np.ndarray:
    return np.fromiter((marks.reclaimable(g.id) for g in groups), np.int64, len(groups))


@dataclass(frozen=True, eq=False)
class ReadyGroups:
    """Groups over `records`, ready to be shown: the review state carried over to them
    (`marks`, made from a copy of the owner's at version `base_version`) and their table.
    `same_library`: the records are the ones the review state was about, so marks carried
    over; otherwise `marks` starts clean (a new library)."""

    records: tuple[ImageRecord, ...]
    groups: tuple[Group, ...]
    companions: Companions
    marks: Marks
    base_version: int
    same_library: bool
    table: GroupTable


def same_library(records: Sequence[ImageRecord], before: Sequence[ImageRecord]) -> bool:
    """The same photos at the same positions (a regroup, or a rescan that found no change)."""
    return records is before or (
        len(records) == len(before)
        and all(a.path == b.path and a.content_hash == b.content_hash for a, b in zip(records, before))
    )


def make_ready(
    records: Sequence[ImageRecord],
    groups: Sequence[Group],
    companions: Companions | None,
    review: Marks,
) -> ReadyGroups:
    """`groups` made ready for review, from `review`: a `detached` copy of the owner's review
    state, which this takes over (runs on any thread; the copy is not used afterwards)."""
    records, groups = tuple(records), tuple(groups)
    base_version = review.version
    same = same_library(records, review.records)
    if same:
        marks = review
        marks.set_groups(groups)  # marks and chosen keepers follow their files
    else:
        marks = Marks(records, groups, review.policy.with_units(companions or {}))
    return ReadyGroups(
        records=records,
        groups=groups,
        companions=companions or {},
        marks=marks,
        base_version=base_version,
        same_library=same,
        table=GroupTable.build(groups, marks),
    )
