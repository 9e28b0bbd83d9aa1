"""New groups made ready away from the GUI thread (photofind.core.cleanup.ready): the order
and the bytes to free must be what the grid computed in place before, and the review state
must carry over on a copy exactly as it would on the original."""

from __future__ import annotations

import random
from itertools import combinations

import pytest

from photofind.core.cleanup.keep import KeeperPolicy
from photofind.core.cleanup.marks import Marks
from photofind.core.cleanup.ready import SortKey, make_ready
from photofind.core.scan.companions import Companion, Kind
from photofind.core.types import FileRef, Group, ImageFacts, ImageRecord, Member, Tier

_RANK = {t: k for k, t in enumerate(Tier)}


def library(n: int, seed: int, root: str = "/lib") -> tuple[ImageRecord, ...]:
    """Records in four folders, sizes with ties, one in seven with a second hard link."""
    rng = random.Random(seed)
    return tuple(
        ImageRecord(
            FileRef(
                f"{root}/f{k % 4}/p{k:04d}.jpg",
                rng.choice([1000, 2000, 3000, 5000]),
                k,
                nlink=1 + (k % 7 == 0),
            ),
            f"h{k}",
            ImageFacts(rng.choice([640, 800]), 480, "JPEG", None),
        )
        for k in range(n)
    )


def random_groups(n_records: int, seed: int, first_id: int = 1) -> tuple[Group, ...]:
    """Groups of 2-5 photos each, no photo in two; similarities with ties."""
    rng = random.Random(seed)
    photos = list(range(n_records))
    rng.shuffle(photos)
    groups, gid = [], first_id
    while len(photos) >= 5:
        size = rng.randint(2, 5)
        members = [photos.pop() for _ in range(size)]
        sims = [1.0] + [rng.choice([0.97, 0.95, 0.9]) for _ in members[1:]]
        tier = rng.choice(list(Tier))
        groups.append(
            Group(
                gid,
                tier,
                tuple(Member(i, s) for i, s in zip(members, sims)),
                min(sims[1:]),
                sum(sims[1:]) / (size - 1),
            )
        )
        gid += 1
    return tuple(groups)


def review(records, groups, seed: int) -> Marks:
    """A review state as a user leaves it: protected folder, marks (keepers too), chosen keepers."""
    marks = Marks(records, groups, KeeperPolicy.parse("oldest", ["/lib/f3"]))
    rng = random.Random(seed)
    for g in rng.sample(groups, len(groups) // 2):
        for i in g.indices[: rng.randint(1, len(g.members) - 1)]:
            marks.mark(g.id, i)
    for g in rng.sample(groups, len(groups) // 5):
        marks.choose_keeper(g.id, g.indices[-1])
    return marks


def freed(marks: Marks, group: Group) -> int:
    """What the clean-up of this group frees, from its keeper: the rule, worked out plainly."""
    keep = marks.keeper(group.id)
    return sum(
        marks.records[i].file.size for i in group.indices if i != keep and marks.records[i].file.nlink == 1
    )


def in_place_order(marks: Marks, groups, key: SortKey, tiers) -> list[int]:
    """The grid's order as it was computed on the GUI thread before: a Python sort."""
    keys = {
        SortKey.RECLAIMABLE: lambda g: (-marks.reclaimable(g.id), _RANK[g.tier], g.id),
        SortKey.SIZE: lambda g: (-len(g.members), _RANK[g.tier], g.id),
        SortKey.SIMILARITY: lambda g: (-g.mean_similarity, _RANK[g.tier], g.id),
    }
    return [g.id for g in sorted((g for g in groups if g.tier in tiers), key=keys[key])]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_order_and_the_bytes_to_free_are_the_in_place_ones(seed):
    records = library(400, seed)
    before = random_groups(400, seed)
    marks = review(records, before, seed)
    after = random_groups(400, seed + 100, first_id=500)  # a regroup: other groups, same photos
    ready = make_ready(records, after, None, marks.detached())
    in_place = marks.detached()
    in_place.set_groups(after)
    table = ready.table
    assert [int(b) for b in table.reclaimable] == [freed(in_place, g) for g in after]
    assert any(
        table.reclaimable[p] != sum(records[i].file.size for i in g.indices[1:]) for p, g in enumerate(after)
    )
    tier_sets = [set(Tier), {Tier.EXACT}, {Tier.NEAR, Tier.SIMILAR}, set()] + [
        set(c) for c in combinations(Tier, 3)
    ]
    for key in SortKey:
        for tiers in tier_sets:
            shown = [after[p].id for p in table.order(key, tiers).tolist()]
            assert shown == in_place_order(in_place, after, key, tiers), (key, tiers)
    assert table.tier_counts() == {t: sum(g.tier is t for g in after) for t in Tier}
    assert all(after[table.position_of_record[i]].id == g.id for g in after for i in g.indices)
    assert all(after[table.position_of_id[g.id]] is g for g in after)


def test_a_copy_carries_the_review_over_as_the_original_would_and_is_adopted_whole():
    records = library(200, 7)
    before = random_groups(200, 7)
    marks = review(records, before, 7)
    pair = marks.pair(before[0].keep_index, before[1].keep_index, 0.9)
    version, marked = marks.version, marks.marked_records()
    after = random_groups(200, 8, first_id=300)

    ready = make_ready(records, after, None, marks.detached())
    assert ready.same_library and ready.base_version == version
    # The work on the copy left the original alone.
    assert (
        marks.version == version
        and marks.marked_records() == marked
        and marks.group(before[0].id) is not None
    )

    in_place = marks.detached()
    in_place.set_groups(after)
    marks.adopt(ready.marks, ready.base_version)
    assert marks.version != version
    assert marks.marked_records() == in_place.marked_records() and marks.count == in_place.count
    for g in (*after, pair):
        assert marks.keeper(g.id) == in_place.keeper(g.id)
        assert marks.marked(g.id) == in_place.marked(g.id)
        assert marks.reclaimable(g.id) == in_place.reclaimable(g.id)
    assert marks.group(before[0].id) is None and marks.group(pair.id) == pair  # pairs stay


def test_a_copy_of_a_review_that_changed_since_is_refused():
    records = library(40, 3)
    groups = random_groups(40, 3)
    marks = Marks(records, groups)
    version = marks.version
    (
        marks.keeper(groups[0].id),
        marks.reclaimable(groups[0].id),
        marks.marked_records(),
    )  # reading changes nothing
    assert marks.version == version
    ready = make_ready(records, random_groups(40, 4, first_id=90), None, marks.detached())
    marks.mark(groups[0].id, groups[0].indices[1])  # the user marks while the regroup runs
    assert marks.version != ready.base_version
    with pytest.raises(ValueError, match="changed since"):
        marks.adopt(ready.marks, ready.base_version)
    assert marks.group(groups[0].id) is groups[0] and marks.is_marked(groups[0].id, groups[0].indices[1])


def test_a_new_library_starts_without_marks_under_the_same_rules():
    records = library(40, 5)
    marks = review(records, random_groups(40, 5), 5)
    assert marks.count
    other = library(40, 6, root="/other")
    live = {other[0].path: (Companion("/other/f0/p0000.mov", Kind.LIVE),)}
    ready = make_ready(other, random_groups(40, 6), live, marks.detached())
    assert not ready.same_library and ready.marks.count == 0 and ready.marks.records is ready.records
    assert (
        ready.marks.policy.rules == marks.policy.rules
        and ready.marks.policy.protected == marks.policy.protected
    )
    assert ready.marks.policy.unit_kinds == {other[0].path: frozenset({Kind.LIVE})}
