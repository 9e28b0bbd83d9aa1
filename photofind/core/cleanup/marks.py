"""The review state: which files the user marked for clean-up and which keeper they chose, per
group. The one place the rule lives: a mark that would leave a group with nothing kept, or that
touches a protected folder, is refused with a reason instead of applied. The CLI's plans, the
GUI's grid, its compare dialog, its similar page and its trash action all read and change this
one object.

Besides the engine's groups it holds pairs the user put together (`pair`): a photo and a photo
the similar page found like it, outside any group. A pair is a group of two with the searched
photo as its kept file, so the same rules guard it and a plan treats it like any group."""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum

from photofind.core.cleanup.keep import DEFAULT_POLICY, KeeperPolicy, derivations_of, in_protected
from photofind.core.types import Group, ImageRecord, Member, Tier

# Tiers whose members are the same photo. `similar` is a different photo of the same scene:
# never acted on unless the caller names it explicitly.
SAFE_TIERS: tuple[Tier, ...] = (Tier.EXACT, Tier.PIXELS, Tier.NEAR)

# The "mark by rule" choices: a label and the tiers whose groups lose everything but the keeper.
MARK_RULES: tuple[tuple[str, frozenset[Tier]], ...] = (
    ("Copies in exact groups", frozenset({Tier.EXACT})),
    ("Copies in exact and same-pixel groups", frozenset({Tier.EXACT, Tier.PIXELS})),
    ("Copies in all duplicate groups (not similar)", frozenset(SAFE_TIERS)),
    ("Everything but the keeper, in every shown group", frozenset(Tier)),
)


# Every change of any Marks takes the next number, so a version names one state of one object:
# a copy handed to another thread (`detached`) can tell, on its way back, whether its source
# is still in that state (`adopt`).
_VERSIONS = itertools.count(1)


class Refusal(str, Enum):
    """Why a mark or a keeper choice was not applied. The value is the sentence to show."""

    LAST_UNMARKED = "every other file of this group is marked: at least one file must be kept"
    PROTECTED = "the file is inside a protected folder"
    NOT_IN_GROUP = "the file is not a member of this group"
    UNKNOWN_GROUP = "there is no such group"


class Marks:
    """Marks and chosen keepers per group, over immutable scan data. Not thread-safe: owned by
    one thread (the GUI thread, or the CLI command). Work too slow for that thread (new groups
    at 100k photos) is done on a `detached` copy elsewhere, which the owner then `adopt`s.

    The keeper of a group is, in order: the file the user chose, unless marked since; the
    engine's keeper (`Group.keep_index`), unless marked or a protected file could be kept
    instead; else the policy's pick among the unmarked files."""

    def __init__(
        self, records: Sequence[ImageRecord], groups: Sequence[Group], policy: KeeperPolicy = DEFAULT_POLICY
    ) -> None:
        self.records = records
        self.policy = policy
        self._groups: dict[int, Group] = {}
        # Frozen sets, replaced on change: a detached copy shares them instead of copying
        # 20k sets at 100k photos on the GUI thread.
        self._marked: dict[int, frozenset[int]] = {}
        # Record -> in how many groups it is marked (a pair may share a file with a group), and
        # the bytes of the files marked: kept as marks change, so the app's summary and its
        # lookups from a file cost nothing with 50k files marked.
        self._marked_in: dict[int, int] = {}
        self._marked_bytes = 0
        self._chosen: dict[int, int] = {}  # group id -> the keeper the user chose
        self._protected: dict[str, bool] = {}  # folder -> inside a protected folder (cached)
        self._pairs: dict[tuple[int, int], Group] = {}  # (kept, other) -> the pair's group
        self._next_pair_id = -1  # pairs count down: never an engine group's id
        # Group id -> bytes its clean-up frees, until its marks or keeper change: the grid sorts
        # and sums 20k groups by it on every new set of groups.
        self._reclaimable: dict[int, int] = {}
        self.version = next(_VERSIONS)  # see _VERSIONS: changes with every change made here
        self.set_groups(groups)

    # -- questions -------------------------------------------------------------------------

    def group(self, group_id: int) -> Group | None:
        return self._groups.get(group_id)

    def refusal(self, group_id: int, index: int) -> Refusal | None:
        """Why marking this file would be refused, or None if it may be marked."""
        group = self._groups.get(group_id)
        if group is None:
            return Refusal.UNKNOWN_GROUP
        if all(m.index != index for m in group.members):
            return Refusal.NOT_IN_GROUP
        if self.is_protected(index):
            return Refusal.PROTECTED
        marked = self._marked.get(group_id, frozenset())
        if index not in marked and len(marked) + 1 >= len(group.members):
            return Refusal.LAST_UNMARKED
        return None

    def is_protected(self, index: int) -> bool:
        if not self.policy.protected:
            return False
        # Protection is by folder, so one answer serves every file in it.
        path = self.records[index].path
        folder = os.path.dirname(path)
        cached = self._protected.get(folder)
        if cached is None:
            cached = self._protected[folder] = in_protected(path, self.policy.protected)
        return cached

    def is_marked(self, group_id: int, index: int) -> bool:
        return index in self._marked.get(group_id, ())

    def marked_anywhere(self, index: int) -> bool:
        """Marked in some group: the trash would take it."""
        return index in self._marked_in

    def marked(self, group_id: int) -> frozenset[int]:
        return self._marked.get(group_id, frozenset())

    def marked_records(self) -> frozenset[int]:
        """Every marked file, whatever its group."""
        return frozenset(self._marked_in)

    def keeper(self, group_id: int) -> int:
        """The file kept in this group (see the class docstring); never a marked one."""
        group = self._groups[group_id]
        marked = self._marked.get(group_id, frozenset())
        chosen = self._chosen.get(group_id)
        if chosen is not None and chosen not in marked:
            return chosen
        engine = group.keep_index
        if engine not in marked and (
            not self.policy.protected
            or self.is_protected(engine)
            or not any(self.is_protected(i) for i in group.indices if i not in marked)
        ):
            return engine
        unmarked = [i for i in group.indices if i not in marked]
        return self.policy.pick(self.records, unmarked, derivations_of(group))

    def reclaimable(self, group_id: int) -> int:
        """Bytes freed if everything but the keeper went. A file with another hard link frees
        nothing: the other link keeps its bytes."""
        cached = self._reclaimable.get(group_id)
        if cached is None:
            keep = self.keeper(group_id)
            files = (self.records[m.index].file for m in self._groups[group_id].members if m.index != keep)
            cached = self._reclaimable[group_id] = sum(f.size for f in files if f.nlink <= 1)
        return cached

    def __iter__(self) -> Iterator[tuple[Group, int]]:
        """(group, marked index) pairs, in group order then member order."""
        for gid, group in self._groups.items():
            marked = self._marked.get(gid)
            if marked:
                for i in group.indices:
                    if i in marked:
                        yield group, i

    @property
    def count(self) -> int:
        """Files marked (one marked in a group and in a pair counts once)."""
        return len(self._marked_in)

    @property
    def bytes(self) -> int:
        """The size of the files marked."""
        return self._marked_bytes

    # -- changes ----------------------------------------------------------------------------

    def mark(self, group_id: int, index: int) -> Refusal | None:
        """Mark one file; returns the refusal (and changes nothing) if it may not be marked."""
        why = self.refusal(group_id, index)
        if why is None:
            marked = self._marked.get(group_id, frozenset())
            if index not in marked:
                self._marked[group_id] = marked | {index}
                self._counted(index)
            self._reclaimable.pop(group_id, None)
            self.version = next(_VERSIONS)
        return why

    def unmark(self, group_id: int, index: int) -> None:
        marked = self._marked.get(group_id)
        if marked is not None and index in marked:
            self._marked[group_id] = marked - {index}
            self._uncounted(index)
        self._reclaimable.pop(group_id, None)
        self.version = next(_VERSIONS)

    def toggle(self, group_id: int, index: int) -> Refusal | None:
        if self.is_marked(group_id, index):
            self.unmark(group_id, index)
            return None
        return self.mark(group_id, index)

    def choose_keeper(self, group_id: int, index: int) -> Refusal | None:
        """Keep this file in its group (the user's choice); it is unmarked."""
        group = self._groups.get(group_id)
        if group is None:
            return Refusal.UNKNOWN_GROUP
        if index not in group.indices:
            return Refusal.NOT_IN_GROUP
        self.unmark(group_id, index)
        self._chosen[group_id] = index
        self._reclaimable.pop(group_id, None)
        self.version = next(_VERSIONS)
        return None

    def clear(self, group_id: int | None = None) -> None:
        """Drop the marks (of one group, or all); chosen keepers stay."""
        if group_id is None:
            self._marked.clear()
            self._marked_in.clear()
            self._marked_bytes = 0
            self._reclaimable.clear()
        else:
            for index in self._marked.pop(group_id, ()):
                self._uncounted(index)
            self._reclaimable.pop(group_id, None)
        self.version = next(_VERSIONS)

    def mark_duplicates(
        self, tiers: Iterable[Tier] = SAFE_TIERS, group_ids: Iterable[int] | None = None
    ) -> list[tuple[int, int, Refusal]]:
        """Mark every member except the keeper in groups of the given tiers (marks already
        made stay). Returns the (group id, index, refusal) of the members not marked."""
        wanted = set(tiers)
        ids = list(self._groups) if group_ids is None else list(group_ids)
        refused = []
        for gid in ids:
            group = self._groups.get(gid)
            if group is None or group.tier not in wanted:
                continue
            keep = self.keeper(gid)
            for i in group.indices:
                if i != keep and not self.is_marked(gid, i):
                    why = self.mark(gid, i)
                    if why is not None:
                        refused.append((gid, i, why))
        return refused

    def pair(self, keep: int, other: int, similarity: float = 0.0, tier: Tier = Tier.SIMILAR) -> Group:
        """The group of two made of `keep` (its kept file) and `other`, a photo the user found
        like it outside any group (the app's similar page). Made on first use; it stays
        through regroups until `forget` drops one of its files."""
        if keep == other:
            raise ValueError("a pair needs two different files")
        group = self._pairs.get((keep, other))
        if group is None:
            members = (Member(keep, 1.0), Member(other, similarity))
            group = Group(self._next_pair_id, tier, members, similarity, similarity, ("found alike",))
            self._next_pair_id -= 1
            self._pairs[(keep, other)] = self._groups[group.id] = group
            self.version = next(_VERSIONS)
        return group

    def forget(self, records: Iterable[int]) -> None:
        """These files left the library (cleaned up): no longer marked, and the pairs they
        were in are gone. The engine's groups without them come through `set_groups`."""
        gone = set(records)
        for key, group in list(self._pairs.items()):
            if gone.intersection(key):
                del self._pairs[key]
                for index in self._marked.pop(group.id, ()):
                    self._uncounted(index)
                for held in (self._groups, self._chosen):
                    held.pop(group.id, None)
        for gid, marked in list(self._marked.items()):
            left = marked - gone
            if len(left) < len(marked):
                for index in marked - left:
                    self._uncounted(index)
                self._marked[gid] = left
        self._reclaimable.clear()
        self.version = next(_VERSIONS)

    def set_groups(self, groups: Sequence[Group]) -> None:
        """New groups over the same records (a regroup, or files cleaned up): a file stays
        marked, and a chosen keeper stays chosen, in the group that holds it now, as far as
        the rule allows. Pairs stay."""
        marked = self.marked_records()
        chosen = set(self._chosen.values())
        self._groups = {g.id: g for g in groups}
        self._groups.update((g.id, g) for g in self._pairs.values())
        self._marked, self._chosen = {}, {}
        self._marked_in, self._marked_bytes = {}, 0
        self._reclaimable.clear()
        for gid, group in self._groups.items():
            for member in group.members:
                i = member.index
                if i in chosen:
                    self._chosen[gid] = i
                if i in marked:
                    self.mark(gid, i)
        self.version = next(_VERSIONS)

    def set_policy(self, policy: KeeperPolicy) -> None:
        """Pick keepers with `policy` from now on (where the user chose none). Files in its
        protected folders win the keeper choice and lose their marks."""
        self.policy = policy
        self._protected.clear()
        self._reclaimable.clear()
        for gid, marked in list(self._marked.items()):
            protected = [i for i in marked if self.is_protected(i)]
            if protected:
                self._marked[gid] = marked.difference(protected)
            for index in protected:
                self._uncounted(index)
        self.version = next(_VERSIONS)

    def set_protected(self, folders: Iterable[str]) -> None:
        """Protect these folders (and no others) from now on; see set_policy."""
        self.set_policy(
            dataclasses.replace(self.policy, protected=KeeperPolicy.parse("", tuple(folders)).protected)
        )

    def _counted(self, index: int) -> None:
        """`index` was just marked in one more group."""
        times = self._marked_in.get(index, 0)
        if not times:
            self._marked_bytes += self.records[index].file.size
        self._marked_in[index] = times + 1

    def _uncounted(self, index: int) -> None:
        """`index` was just unmarked in one of the groups it was marked in."""
        times = self._marked_in.pop(index) - 1
        if times:
            self._marked_in[index] = times
        else:
            self._marked_bytes -= self.records[index].file.size

    # -- work done on another thread ----------------------------------------------------------

    def detached(self) -> Marks:
        """A copy that shares nothing mutable with this one, for another thread to work on
        (give it new groups, fill its sums: photofind.core.cleanup.ready). It keeps this one's
        version until it is changed, so `adopt` knows which state it came from."""
        copy = Marks.__new__(Marks)
        vars(copy).update(vars(self))
        copy._groups = dict(self._groups)
        copy._marked = dict(self._marked)
        copy._marked_in = dict(self._marked_in)
        copy._chosen = dict(self._chosen)
        copy._protected = dict(self._protected)
        copy._pairs = dict(self._pairs)
        copy._reclaimable = dict(self._reclaimable)
        return copy

    def adopt(self, worked: Marks, since: int) -> None:
        """Take over the whole state of `worked`, a `detached` copy of this object made at
        version `since` and changed on another thread since: a swap, however many groups.
        Nothing may have changed here in the meantime (the caller checks `version` first and
        otherwise redoes the work here); `worked` is not used again."""
        if since != self.version:
            raise ValueError("the review state changed since this copy was made")
        vars(self).update(vars(worked))
        self.version = next(_VERSIONS)
