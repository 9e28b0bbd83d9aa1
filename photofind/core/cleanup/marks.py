"""Which files the user marked for clean-up. A mark that would leave a group with nothing
kept, or that touches a protected folder, is refused with a reason instead of applied."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from enum import Enum

from photofind.core.cleanup.keep import DEFAULT_POLICY, KeeperPolicy, derivations_of, in_protected
from photofind.core.types import Group, ImageRecord, Tier

# Tiers whose members are the same photo. `similar` is a different photo of the same scene:
# never acted on unless the caller names it explicitly.
SAFE_TIERS: tuple[Tier, ...] = (Tier.EXACT, Tier.PIXELS, Tier.NEAR)


class Refusal(str, Enum):
    """Why a mark was not applied. The value is the sentence to show."""

    LAST_UNMARKED = "every other file of this group is marked: at least one file must be kept"
    PROTECTED = "the file is inside a protected folder"
    NOT_IN_GROUP = "the file is not a member of this group"
    UNKNOWN_GROUP = "there is no such group"


class Marks:
    """Marks per group, over immutable scan data. Not thread-safe: owned by one thread."""

    def __init__(
        self, records: Sequence[ImageRecord], groups: Sequence[Group], policy: KeeperPolicy = DEFAULT_POLICY
    ) -> None:
        self.records = records
        self.policy = policy
        self._groups = {g.id: g for g in groups}
        self._marked: dict[int, set[int]] = {}

    # -- questions -------------------------------------------------------------------------

    def refusal(self, group_id: int, index: int) -> Refusal | None:
        """Why marking this file would be refused, or None if it may be marked."""
        group = self._groups.get(group_id)
        if group is None:
            return Refusal.UNKNOWN_GROUP
        if index not in group.indices:
            return Refusal.NOT_IN_GROUP
        if in_protected(self.records[index].path, self.policy.protected):
            return Refusal.PROTECTED
        marked = self._marked.get(group_id, set())
        if index not in marked and len(marked) + 1 >= len(group.members):
            return Refusal.LAST_UNMARKED
        return None

    def is_marked(self, group_id: int, index: int) -> bool:
        return index in self._marked.get(group_id, ())

    def marked(self, group_id: int) -> frozenset[int]:
        return frozenset(self._marked.get(group_id, ()))

    def keeper(self, group_id: int) -> int:
        """The file kept in this group: the policy's choice among the unmarked members."""
        group = self._groups[group_id]
        marked = self._marked.get(group_id, set())
        unmarked = [i for i in group.indices if i not in marked]
        return self.policy.pick(self.records, unmarked, derivations_of(group))

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
        return sum(len(m) for m in self._marked.values())

    @property
    def bytes(self) -> int:
        return sum(self.records[i].file.size for _g, i in self)

    # -- changes ----------------------------------------------------------------------------

    def mark(self, group_id: int, index: int) -> Refusal | None:
        """Mark one file; returns the refusal (and changes nothing) if it may not be marked."""
        why = self.refusal(group_id, index)
        if why is None:
            self._marked.setdefault(group_id, set()).add(index)
        return why

    def unmark(self, group_id: int, index: int) -> None:
        self._marked.get(group_id, set()).discard(index)

    def toggle(self, group_id: int, index: int) -> Refusal | None:
        if self.is_marked(group_id, index):
            self.unmark(group_id, index)
            return None
        return self.mark(group_id, index)

    def clear(self, group_id: int | None = None) -> None:
        if group_id is None:
            self._marked.clear()
        else:
            self._marked.pop(group_id, None)

    def mark_duplicates(
        self, tiers: Iterable[Tier] = SAFE_TIERS, group_ids: Iterable[int] | None = None
    ) -> list[tuple[int, int, Refusal]]:
        """Mark every member except the keeper in groups of the given tiers. Returns the
        (group id, index, refusal) of the members that could not be marked."""
        wanted = set(tiers)
        ids = list(self._groups) if group_ids is None else list(group_ids)
        refused = []
        for gid in ids:
            group = self._groups.get(gid)
            if group is None or group.tier not in wanted:
                continue
            self._marked.pop(gid, None)
            keep = self.keeper(gid)
            for i in group.indices:
                if i != keep:
                    why = self.mark(gid, i)
                    if why is not None:
                        refused.append((gid, i, why))
        return refused
