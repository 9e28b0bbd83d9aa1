"""Edits of every group made on a detached copy (photofind.core.cleanup.edits): adopted, the
review must be exactly what the same edit made in place leaves, the sums must be that review's,
and the owner must not change before it adopts."""

from __future__ import annotations

import pytest

from photofind.core.cleanup import edits
from photofind.core.cleanup.keep import KeeperPolicy, derivations_of, is_under, parse_rules
from photofind.core.cleanup.marks import Marks
from photofind.core.cleanup.ready import GroupTable
from photofind.core.types import Tier
from tests.core.test_ready import freed, library, random_groups, review

RECORDS = library(300, 11)
GROUPS = random_groups(300, 11)
IDS = [g.id for g in GROUPS]

EDITS = {
    "mark every tier": lambda: edits.mark_by_rule(set(Tier), IDS),
    "mark exact, half the groups": lambda: edits.mark_by_rule({Tier.EXACT}, IDS[::2]),
    "clear": edits.clear_marks,
    "protect": lambda: edits.protect(["/lib/f1", "/lib/f2"]),
    "unprotect": lambda: edits.protect([]),
    "use rules": lambda: edits.use_rules(parse_rules("newest,shortest")),
    "keep by rule": lambda: edits.keep_by_rule(parse_rules("shortest"), GROUPS),
}


@pytest.mark.parametrize("name", EDITS)
def test_an_edit_made_on_a_copy_and_adopted_is_the_edit_made_in_place(name):
    owner = review(RECORDS, GROUPS, 11)
    in_place = owner.detached()
    expected = EDITS[name]()(in_place)
    table = GroupTable.build(GROUPS, owner)
    version, marked = owner.version, owner.marked_records()

    edited = edits.edit_detached(owner.detached(), table, EDITS[name]())
    assert owner.version == version and owner.marked_records() == marked  # untouched until adopted
    assert edited.base_version == version and edited.outcome == expected
    owner.adopt(edited.marks, edited.base_version)

    assert (owner.count, owner.bytes, owner.policy) == (in_place.count, in_place.bytes, in_place.policy)
    for g in GROUPS:
        assert owner.marked(g.id) == in_place.marked(g.id) and owner.keeper(g.id) == in_place.keeper(g.id)
    assert edited.reclaimable.tolist() == [freed(owner, g) for g in GROUPS]


def test_mark_by_rule_marks_all_but_the_keeper_and_says_how_many_it_marked():
    owner = review(RECORDS, GROUPS, 12)
    before = owner.marked_records()
    added = edits.mark_by_rule({Tier.NEAR, Tier.EXACT}, IDS)(owner)
    assert added == len(owner.marked_records() - before) > 0
    for g in GROUPS:
        unmarked = set(g.indices) - owner.marked(g.id)
        if g.tier in (Tier.NEAR, Tier.EXACT):
            protected = {i for i in g.indices if owner.is_protected(i)}
            assert unmarked == {owner.keeper(g.id)} | protected
        assert unmarked  # never a whole group


def test_keep_by_rule_makes_the_rules_pick_every_keeper_and_counts_the_changes():
    owner = review(RECORDS, GROUPS, 13)
    keepers = {g.id: owner.keeper(g.id) for g in GROUPS}
    rules = parse_rules("shortest")
    changed = edits.keep_by_rule(rules, GROUPS)(owner)
    policy = KeeperPolicy(rules, owner.policy.protected)
    picks = {g.id: policy.pick(RECORDS, g.indices, derivations_of(g)) for g in GROUPS}
    assert changed == sum(1 for g in GROUPS if keepers[g.id] != picks[g.id]) > 0
    assert all(owner.keeper(g.id) == picks[g.id] and picks[g.id] not in owner.marked(g.id) for g in GROUPS)
    assert owner.policy.rules == rules


def test_protecting_drops_the_marks_inside_and_they_win_the_keeper():
    owner = Marks(RECORDS, GROUPS)  # no keeper chosen by the user, which would win
    edits.mark_by_rule(set(Tier), IDS)(owner)
    assert any(is_under(RECORDS[i].path, "/lib/f0") for i in owner.marked_records())
    edits.protect(["/lib/f0"])(owner)
    assert not any(is_under(RECORDS[i].path, "/lib/f0") for i in owner.marked_records())
    for g in GROUPS:
        inside = [i for i in g.indices if is_under(RECORDS[i].path, "/lib/f0")]
        if inside:
            assert owner.keeper(g.id) in inside
