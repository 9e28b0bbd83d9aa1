"""The review state (photofind.core.cleanup.marks.Marks): the one place the mark rule, the
keeper and the user's chosen keepers live, for the CLI's plans and the GUI's views alike."""

from __future__ import annotations

import random

from photofind.core.cleanup.actions import Action, plan_marked
from photofind.core.cleanup.keep import KEEP_PRESETS, KeeperPolicy, parse_rules
from photofind.core.cleanup.marks import MARK_RULES, SAFE_TIERS, Marks, Refusal
from photofind.core.types import Group, Member, Tier
from tests import cleanupkit as kit

# 0-2: one photo three times (0 is the engine's keeper), 3-4: a near pair, 5-6: similar photos.
RECORDS = (
    kit.fake_record("/p/trip/a.jpg", width=400, size=4000),
    kit.fake_record("/p/backup/a copy.jpg", width=400, size=4000),
    kit.fake_record("/p/phone/a.jpg", width=200, size=1000),
    kit.fake_record("/p/trip/b.jpg", width=400, size=3000),
    kit.fake_record("/p/web/b.jpg", width=100, size=500),
    kit.fake_record("/p/burst/c1.jpg", size=2000),
    kit.fake_record("/p/burst/c2.jpg", size=2000),
)


def group(gid: int, tier: Tier, indices: list[int]) -> Group:
    return Group(
        gid, tier, tuple(Member(i, 1.0 if n == 0 else 0.95) for n, i in enumerate(indices)), 0.95, 0.95
    )


GROUPS = (group(1, Tier.EXACT, [0, 1, 2]), group(2, Tier.NEAR, [3, 4]), group(3, Tier.SIMILAR, [5, 6]))


def test_a_group_always_keeps_one_unmarked_file_and_the_keeper_is_never_marked():
    marks = Marks(RECORDS, GROUPS)
    assert marks.keeper(1) == 0  # the engine's keeper until something changes
    assert marks.mark(1, 0) is None and marks.mark(1, 2) is None
    assert marks.keeper(1) == 1  # the last unmarked file is what stays
    assert marks.mark(1, 1) is Refusal.LAST_UNMARKED
    assert marks.refusal(1, 1) is Refusal.LAST_UNMARKED and marks.marked(1) == {0, 2}
    marks.unmark(1, 0)
    assert marks.keeper(1) == 0 and marks.marked_records() == {2}
    assert marks.mark(1, 3) is Refusal.NOT_IN_GROUP and marks.mark(9, 0) is Refusal.UNKNOWN_GROUP
    assert (
        Refusal.LAST_UNMARKED.value
        == "every other file of this group is marked: at least one file must be kept"
    )


def test_a_chosen_keeper_is_unmarked_kept_and_moves_on_when_marked():
    marks = Marks(RECORDS, GROUPS)
    assert marks.mark(1, 2) is None
    assert marks.choose_keeper(1, 2) is None
    assert marks.keeper(1) == 2 and not marks.is_marked(1, 2)
    assert marks.reclaimable(1) == 4000 + 4000
    assert marks.mark_duplicates([Tier.EXACT]) == []
    assert marks.marked(1) == {0, 1}
    marks.unmark(1, 0)
    assert marks.mark(1, 2) is None  # marking the chosen keeper hands the role back
    assert marks.keeper(1) == 0
    assert marks.choose_keeper(1, 4) is Refusal.NOT_IN_GROUP


def test_protected_files_are_never_marked_and_win_the_keeper():
    marks = Marks(RECORDS, GROUPS, KeeperPolicy.parse("", ["/p/backup"]))
    assert marks.is_protected(1) and not marks.is_protected(0)
    assert marks.keeper(1) == 1  # a protected copy beats the engine's pick
    assert marks.mark(1, 1) is Refusal.PROTECTED
    refused = marks.mark_duplicates()
    assert marks.marked(1) == {0, 2} and refused == []
    assert marks.marked(2) == {4} and not marks.marked(3)  # similar groups only when asked


def test_protecting_a_folder_later_drops_its_marks():
    marks = Marks(RECORDS, GROUPS)
    marks.mark_duplicates()
    assert marks.marked(1) == {1, 2}
    marks.set_protected(["/p/phone"])
    assert marks.marked(1) == {1} and marks.keeper(1) == 2
    assert marks.mark(1, 2) is Refusal.PROTECTED


def test_marks_and_chosen_keepers_follow_their_files_into_new_groups():
    marks = Marks(RECORDS, GROUPS)
    marks.mark(1, 1)
    marks.choose_keeper(2, 4)
    marks.mark(2, 3)
    # A regroup: 3 and 4 now sit with the a-photos, 1 is no longer grouped.
    marks.set_groups([group(7, Tier.NEAR, [0, 2, 3, 4])])
    assert marks.marked_records() == {3} and marks.keeper(7) == 4
    assert marks.group(1) is None and marks.mark(1, 1) is Refusal.UNKNOWN_GROUP


def test_carried_marks_obey_the_rule_in_the_new_groups():
    marks = Marks(RECORDS, GROUPS)
    marks.mark(1, 0)
    marks.mark(1, 1)
    marks.set_groups([group(1, Tier.EXACT, [0, 1])])  # 2 left the group: one of 0, 1 must stay
    assert len(marks.marked(1)) == 1 and marks.keeper(1) not in marks.marked(1)


def test_the_plan_removes_what_is_marked_and_keeps_the_shown_keeper():
    result = kit.result(RECORDS, [(Tier.EXACT, [0, 1, 2])], ["/p"])
    marks = Marks(result.records, result.groups)
    marks.choose_keeper(1, 2)
    marks.mark_duplicates()
    plan = plan_marked(result, marks, Action.TRASH)
    assert sorted(i.path for i in plan.items) == ["/p/backup/a copy.jpg", "/p/trip/a.jpg"]
    assert {i.keeper.path for i in plan.items} == {"/p/phone/a.jpg"}  # the user's keeper


def test_presets_are_valid_rules_and_tiers():
    for _label, chain in KEEP_PRESETS:
        parse_rules(chain)  # raises on an unknown rule
    assert [label for label, _ in KEEP_PRESETS][0].startswith("Best quality")
    assert any(tiers == frozenset(SAFE_TIERS) for _label, tiers in MARK_RULES)
    assert all(Tier.SIMILAR not in tiers for _label, tiers in MARK_RULES[:-1])


def test_a_pair_found_alike_is_a_group_of_two_that_keeps_the_searched_photo():
    # The similar page: 3 (searched) and 5 (a result) share no group; the user marks 5.
    result = kit.result(RECORDS, [(Tier.NEAR, [3, 4]), (Tier.SIMILAR, [5, 6])], ["/p"])
    marks = Marks(result.records, result.groups)
    pair = marks.pair(3, 5, 0.83)
    assert pair.id < 0 and pair.indices == (3, 5) and marks.pair(3, 5) is pair  # made once
    assert marks.group(pair.id) is pair and marks.keeper(pair.id) == 3
    assert marks.mark(pair.id, 5) is None
    assert marks.mark(pair.id, 3) is Refusal.LAST_UNMARKED  # the searched photo stays
    assert marks.marked_records() == {5} and marks.count == 1
    plan = plan_marked(result, marks, Action.TRASH)
    assert [(i.path, i.keeper.path, i.tier) for i in plan.items] == [
        ("/p/burst/c1.jpg", "/p/trip/b.jpg", "similar")
    ]
    # A regroup keeps the pair and its mark; a clean-up of one of its files drops it.
    marks.set_groups(result.groups)
    assert marks.group(pair.id) is pair and marks.is_marked(pair.id, 5)
    marks.forget([5])
    marks.set_groups(result.groups)
    assert marks.group(pair.id) is None and marks.count == 0
    assert marks.pair(3, 5).id != pair.id  # a new pair, never a reused id


def test_a_pair_whose_kept_file_goes_elsewhere_removes_nothing():
    # 3 is marked in its near group (4 kept there); a pair that keeps 3 cannot then remove 5.
    result = kit.result(RECORDS, [(Tier.NEAR, [3, 4])], ["/p"])
    marks = Marks(result.records, result.groups)
    marks.choose_keeper(1, 4)
    marks.mark(1, 3)
    pair = marks.pair(3, 5)
    assert marks.mark(pair.id, 5) is None
    plan = plan_marked(result, marks, Action.TRASH)
    assert [i.path for i in plan.items] == ["/p/trip/b.jpg"]
    assert [(r.path, r.reason) for r in plan.refused] == [
        ("/p/burst/c1.jpg", "its kept file is planned for removal in another group")
    ]


def test_reclaimable_bytes_follow_every_change_of_marks_and_keeper():
    marks = Marks(RECORDS, GROUPS)
    assert marks.reclaimable(1) == 4000 + 1000  # 0 kept
    marks.choose_keeper(1, 2)
    assert marks.reclaimable(1) == 4000 + 4000
    marks.mark(1, 2)  # the chosen keeper marked: the engine's keeper again
    assert marks.reclaimable(1) == 5000
    marks.unmark(1, 2)
    assert marks.reclaimable(1) == 8000
    marks.set_groups([group(1, Tier.EXACT, [0, 2])])
    assert marks.reclaimable(1) == 4000


def test_the_count_and_bytes_of_marked_files_follow_every_change():
    """They are kept as marks change (the app's summary reads them after every change): after
    any sequence of changes they equal what a pass over the marks gives, a file marked in a
    group and in a pair counting once."""
    rng = random.Random(5)
    marks = Marks(RECORDS, GROUPS)
    pairs = [marks.pair(3, 5), marks.pair(0, 6)]

    def some_group() -> Group:
        return rng.choice([*GROUPS, *pairs])

    changes = [
        lambda: marks.mark((g := some_group()).id, rng.choice(g.indices)),
        lambda: marks.unmark((g := some_group()).id, rng.choice(g.indices)),
        lambda: marks.toggle((g := some_group()).id, rng.choice(g.indices)),
        lambda: marks.choose_keeper((g := some_group()).id, rng.choice(g.indices)),
        lambda: marks.clear(some_group().id),
        lambda: marks.mark_duplicates(set(Tier)),
        lambda: marks.set_protected(rng.choice([[], ["/p/web"], ["/p/trip", "/p/burst"]])),
        lambda: marks.set_groups(rng.sample(GROUPS, rng.randint(1, 3))),
    ]
    seen_shared = False
    for _ in range(400):
        rng.choice(changes)()
        files = [i for _group, i in marks]  # every (group, file) marked, by a pass
        seen_shared |= len(files) > len(set(files))
        assert marks.marked_records() == set(files) and marks.count == len(set(files))
        assert marks.bytes == sum(RECORDS[i].file.size for i in set(files))
        assert all(marks.marked_anywhere(i) == (i in files) for i in range(len(RECORDS)))
    assert seen_shared  # a file marked in a group and in a pair at once came up
    marks.forget([5, 0])
    files = {i for _group, i in marks}
    assert marks.count == len(files) and marks.bytes == sum(RECORDS[i].file.size for i in files)
    marks.clear()
    assert (marks.count, marks.bytes, marks.marked_records()) == (0, 0, frozenset())
