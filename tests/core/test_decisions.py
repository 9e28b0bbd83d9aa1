import os

import numpy as np
import pytest

from photofind.core.cleanup.decisions import DecisionIndex, DecisionStore, Kind, apply, default_decisions_path
from photofind.core.cleanup.keep import KeeperPolicy
from photofind.core.pipeline import scan
from photofind.core.types import Group, Member, ScanSettings, Tier
from tests import cleanupkit as kit
from tests.cleanupkit import fake_record as rec


def group(gid, tier, *indices):
    return Group(gid, tier, tuple(Member(i, 1.0 if n == 0 else 0.9) for n, i in enumerate(indices)), 0.9, 0.9)


RECORDS = [
    rec("/p/a.jpg", chash="A"),
    rec("/p/a2.jpg", chash="A"),
    rec("/p/b.jpg", chash="B"),
    rec("/p/c.jpg", chash="C"),
    rec("/p/d.jpg", chash="D"),
    rec("/p/e.jpg", chash="E"),
]


def test_store_add_list_remove_clear_and_reopen(tmp_path):
    path = tmp_path / "d.sqlite3"
    with DecisionStore(path) as store:
        first = store.not_duplicate(RECORDS, [0, 2])
        second = store.keep_all(RECORDS, [3, 4])
        third = store.add(Kind.NOT_DUPLICATE, ["A"], ["/p/a.jpg"])  # one content: nothing to split
    with DecisionStore(path) as store:
        listed = store.list()
        assert [(d.id, d.kind, sorted(d.hashes)) for d in listed] == [
            (first, Kind.NOT_DUPLICATE, ["A", "B"]),
            (second, Kind.KEEP_ALL, ["C", "D"]),
            (third, Kind.KEEP_ALL, ["A"]),
        ]
        assert listed[0].paths == ("/p/a.jpg", "/p/b.jpg")
        assert store.remove(second) and not store.remove(second)
        assert store.clear() == 2 and store.list() == []
    with pytest.raises(ValueError):
        DecisionStore(path).add(Kind.KEEP_ALL, [])


def test_not_a_duplicate_pair_is_split_out_of_its_group():
    index = DecisionIndex()
    groups = [group(1, Tier.NEAR, 0, 1, 2, 3), group(2, Tier.NEAR, 4, 5)]
    assert apply(groups, RECORDS, index=index) == tuple(groups)
    with_store = DecisionIndex([_decision(1, Kind.NOT_DUPLICATE, "A", "B")])
    out = apply(groups, RECORDS, index=with_store)
    # B leaves A's group; the byte copies of A stay together; B cannot form a group alone.
    assert [g.indices for g in out] == [(0, 1, 3), (4, 5)]
    assert [g.id for g in out] == [1, 2]


def test_not_a_duplicate_over_a_whole_group_removes_it_but_keeps_byte_copies():
    index = DecisionIndex([_decision(1, Kind.NOT_DUPLICATE, "A", "B", "C")])
    out = apply([group(1, Tier.NEAR, 0, 1, 2, 3), group(2, Tier.EXACT, 4, 5)], RECORDS, index=index)
    assert [(g.indices, g.tier, g.why) for g in out] == [
        ((0, 1), Tier.EXACT, ("same bytes",)),
        ((4, 5), Tier.EXACT, ()),
    ]


def test_keep_all_hides_the_group_until_new_content_joins_it():
    index = DecisionIndex([_decision(1, Kind.KEEP_ALL, "A", "B")])
    assert apply([group(1, Tier.NEAR, 0, 1, 2)], RECORDS, index=index) == ()
    (shown,) = apply([group(1, Tier.NEAR, 0, 2, 3)], RECORDS, index=index)
    assert shown.indices == (0, 2, 3)


def test_split_parts_get_similarities_to_their_own_keeper_and_the_policy_picks_keepers():
    records = RECORDS[:4] + [rec("/p/x/dd.jpg", chash="D")]
    emb = np.zeros((5, 3), np.float32)
    emb[:, 0] = 1.0
    emb[2] = [0.0, 1.0, 0.0]  # B
    emb[4] = [0.0, 0.6, 0.8]  # D: cosine 0.6 to B
    index = DecisionIndex(
        [_decision(1, Kind.NOT_DUPLICATE, "A", "B"), _decision(2, Kind.NOT_DUPLICATE, "A", "D")]
    )
    g = group(1, Tier.NEAR, 0, 2, 3, 4)
    out = apply([g], records, index=index, embeddings=emb, policy=KeeperPolicy.parse("folder:/p/x"))
    # Greedy in member order: A takes C; B and D (both ruled out with A) form their own group.
    assert [p.indices for p in out] == [(0, 3), (4, 2)]
    assert [p.id for p in out] == [1, 2]
    assert out[1].members[1].similarity == pytest.approx(0.6)
    assert out[1].min_similarity == pytest.approx(0.6)
    assert out[0].members[1].similarity == pytest.approx(0.9)  # A was the keeper all along


def test_decisions_survive_a_rename_and_hide_the_pair_in_later_scans(tmp_path, fake_embedder):
    root = tmp_path / "photos"
    scene = kit.factory.make_scene(2, (96, 72))
    kit.factory.save(scene, root / "b.jpg")
    kit.factory.save(scene.resize((48, 36)), root / "web" / "b_small.jpg")
    kit.factory.copy(root / "b.jpg", root / "b copy.jpg")
    settings = ScanSettings(roots=(str(root),), cache_path=str(tmp_path / "cache.db"))
    first = scan(settings, embedder=fake_embedder)
    (g,) = first.groups
    assert len(g.members) == 3
    small = next(i for i in g.indices if first.records[i].path.endswith("b_small.jpg"))
    big = next(i for i in g.indices if first.records[i].path.endswith("/b.jpg"))
    with DecisionStore() as store:  # the per-user data dir (isolated by conftest)
        store.not_duplicate(first.records, [big, small])
    assert default_decisions_path().is_file()
    os.rename(root / "web" / "b_small.jpg", root / "renamed.jpg")
    os.rename(root / "b copy.jpg", root / "other name.jpg")
    second = scan(settings, embedder=fake_embedder)
    assert len(second.records) == 3
    # The byte copies still group; the pair the user ruled out does not.
    assert [sorted(os.path.basename(second.records[i].path) for i in g.indices) for g in second.groups] == [
        ["b.jpg", "other name.jpg"]
    ]
    assert second.groups[0].tier is Tier.EXACT
    unfiltered = scan(
        ScanSettings(roots=(str(root),), cache_path=str(tmp_path / "cache.db"), use_decisions=False),
        embedder=fake_embedder,
    )
    assert len(unfiltered.groups[0].members) == 3


def test_the_scan_hook_applies_rules_and_protection_and_warns_instead_of_failing(tmp_path):
    root = tmp_path / "photos"
    a = kit.photo(root / "z-originals" / "a.jpg", 1)
    kit.factory.copy(a, root / "a.jpg")
    base = dict(roots=(str(root),), cache_path=str(tmp_path / "c.db"), embed=False)
    plain = scan(ScanSettings(**base))
    assert plain.records[plain.groups[0].keep_index].path == str(root / "a.jpg")
    protected = scan(ScanSettings(**base, protected=(str(root / "z-originals"),)))
    assert protected.records[protected.groups[0].keep_index].path == str(root / "z-originals" / "a.jpg")
    ruled = scan(ScanSettings(**base, keep_rules=f"folder:{root / 'z-originals'}"))
    assert ruled.records[ruled.groups[0].keep_index].path == str(root / "z-originals" / "a.jpg")
    bad = scan(ScanSettings(**base, keep_rules="nonsense"))
    assert len(bad.groups) == 1 and any("keeper rules ignored" in w for w in bad.warnings)
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"garbage" * 200)
    noted = scan(ScanSettings(**base, decisions_path=str(broken)))
    assert len(noted.groups) == 1 and any("not applied" in w for w in noted.warnings)
    assert broken.read_bytes() == b"garbage" * 200  # not ours: left exactly as it was


def _decision(did, kind, *hashes):
    from photofind.core.cleanup.decisions import Decision

    return Decision(did, kind, 0.0, hashes, ())
