"""Near-duplicate groups that the pixels confirm: every member is verified against the keeper.

Candidate pairs (from the pHash index and the CNN) only say where to look. The largest photo
not yet grouped becomes a group's centre; every candidate of the centre that `pixel_check`
confirms joins it, and so, one hop further, may the candidates of those members, each again
verified against the centre itself. So two crops of one photo that do not contain each
other still meet in their original's group, while a chain of look-alikes (burst frames) never
merges: nothing joins without a direct check against the centre.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from photofind.core.match import verify
from photofind.core.progress import NULL_PROGRESS, Progress, check_cancel
from photofind.core.types import ImageRecord, Tier

PHASE = "verifying"


@dataclass(frozen=True)
class VerifiedGroup:
    centre: int  # record index of the photo every member was checked against
    members: tuple[int, ...]  # centre first
    reasons: dict[int, str]  # member -> how it differs from the centre ("resized", ...)
    tier: Tier  # EXACT, PIXELS or NEAR: the weakest link to the centre

    @property
    def why(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.reasons[m] for m in self.members[1:]))


def centre_order(records: Sequence[ImageRecord]) -> list[int]:
    """Most pixels first (a crop or a thumbnail never outranks its original), then bytes."""
    return sorted(
        range(len(records)), key=lambda i: (-records[i].facts.pixels, -records[i].file.size, records[i].path)
    )


def verified_groups(
    records: Sequence[ImageRecord],
    thumbs: np.ndarray,
    candidates: Iterable[tuple[int, int]],
    *,
    rotations: bool = False,
    hops: int = 2,
    progress: Progress = NULL_PROGRESS,
) -> list[VerifiedGroup]:
    """Groups of 2+ photos confirmed the same picture; each photo in at most one group."""
    neighbours: dict[int, set[int]] = defaultdict(set)
    for i, j in candidates:
        if i != j:
            neighbours[int(i)].add(int(j))
            neighbours[int(j)].add(int(i))
    assigned: set[int] = set()
    groups: list[VerifiedGroup] = []
    order = [i for i in centre_order(records) if i in neighbours]
    for done, centre in enumerate(order):
        if centre in assigned:
            continue
        check_cancel(progress)
        reasons: dict[int, str] = {}
        rejected: set[int] = set()
        frontier = {centre}
        for _ in range(hops):
            todo = (
                set().union(*(neighbours[f] for f in frontier))
                - assigned
                - rejected
                - set(reasons)
                - {centre}
            )
            frontier = set()
            for j in sorted(todo):
                why = verify.pixel_check(
                    records[centre], records[j], thumbs[centre], thumbs[j], rotations=rotations
                )
                if why is None:
                    rejected.add(j)
                else:
                    reasons[j] = why
                    frontier.add(j)
            if not frontier:
                break
        if reasons:
            members = (centre, *sorted(reasons))
            assigned.update(members)
            groups.append(
                VerifiedGroup(centre, members, reasons, _tier(records, thumbs, centre, members[1:]))
            )
        progress.update(PHASE, done + 1, len(order))
    return groups


def _tier(records, thumbs, centre: int, others: Sequence[int]) -> Tier:
    c = records[centre]
    if all(records[o].content_hash == c.content_hash for o in others):
        return Tier.EXACT
    if all(verify.same_pixels(c, records[o], thumbs[centre], thumbs[o]) for o in others):
        return Tier.PIXELS
    return Tier.NEAR
