"""A RAW+JPEG (or RAW+HEIC) shot is one capture unit, not two duplicates: its RAW travels as a
companion of the JPEG (photofind.core.scan.companions) and never stands in a group of its own
beside it. A lone RAW stays a photo and is grouped with its exports elsewhere as usual."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from photofind.core.scan.companions import Companion, Kind
from photofind.core.types import Group, ImageRecord, Member


def raw_companions(companions: Mapping[str, tuple[Companion, ...]]) -> frozenset[str]:
    """Paths of RAW files that belong to a JPEG or HEIC of the same shot."""
    return frozenset(c.path for items in companions.values() for c in items if c.kind is Kind.RAW)


def fold_raw_companions(
    groups: Sequence[Group], records: Sequence[ImageRecord], companions: Mapping[str, tuple[Companion, ...]]
) -> tuple[Group, ...]:
    """`groups` without the RAW members that are another photo's companion; a group left with
    fewer than two photos is dropped. The keeper is re-picked by the caller's policy."""
    folded = raw_companions(companions)
    if not folded:
        return tuple(groups)
    out: list[Group] = []
    for group in groups:
        members = [m for m in group.members if records[m.index].path not in folded]
        if len(members) == len(group.members):
            out.append(group)
            continue
        if len(members) < 2:
            continue
        if members[0].index != group.keep_index:
            members[0] = Member(members[0].index, 1.0)  # the new first member leads the group
        sims = [m.similarity for m in members[1:]]
        out.append(
            replace(
                group, members=tuple(members), min_similarity=min(sims), mean_similarity=sum(sims) / len(sims)
            )
        )
    return tuple(out)
