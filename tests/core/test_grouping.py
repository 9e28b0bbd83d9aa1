"""Tiered groups without chaining (photofind.core.match.grouping).

Most tests replace verify.compare (the pixel check) with a stand-in that knows the truth ("same photo" iff
two records show the same photo id): it isolates the grouping rules from the pixel
heuristics, which tests/core/test_verify.py covers. The last tests run the real check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photofind.core.match import grouping, verify
from photofind.core.match.grouping import SIZE_NOTE, Regrouper, group_records
from photofind.core.match.linkage import complete_linkage
from photofind.core.types import FileRef, ImageFacts, ImageRecord, Thresholds, Tier

DIM = 48
DUPLICATE_TIERS = (Tier.EXACT, Tier.PIXELS, Tier.NEAR)


def unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def record(
    name: str,
    *,
    content: str | None = None,
    width: int = 400,
    size: int = 1000,
    phash: int | None = None,
    taken: str | None = None,
    camera: str | None = None,
) -> ImageRecord:
    return ImageRecord(
        FileRef(f"/lib/{name}.jpg", size, 0),
        content or name,
        ImageFacts(width, 300, "JPEG", taken, camera),
        phash,
    )


@pytest.fixture
def truth(monkeypatch):
    """photo id per path; the stand-in pixel check says "same photo" iff the ids match."""
    photo: dict[str, str] = {}
    pixels: set[frozenset[str]] = set()

    def compare(a, b, thumb_a, thumb_b, *, rotations=False):
        if a.content_hash == b.content_hash:
            return verify.Verdict("same bytes")
        return verify.Verdict("resized") if _ids(photo[a.path]) & _ids(photo[b.path]) else None

    def same_pixels(a, b, thumb_a, thumb_b):
        return a.content_hash == b.content_hash or frozenset((a.path, b.path)) in pixels

    monkeypatch.setattr(verify, "compare", compare)
    monkeypatch.setattr(verify, "same_pixels", same_pixels)
    return photo, pixels


def _ids(photo_id: str) -> set[str]:
    """ "x+y": a picture that holds both photo x and photo y (say, a collage of two crops), so
    the stand-in check can be intransitive, as the real one is."""
    return set(photo_id.split("+"))


def build(truth, spec: list[tuple[str, str, np.ndarray]], **kw):
    """spec: (name, photo id, embedding) -> records, embeddings."""
    photo, _ = truth
    records = []
    for name, pid, _vec in spec:
        r = record(name, **kw.get(name, {}))
        photo[r.path] = pid
        records.append(r)
    return records, unit(np.stack([v for *_, v in spec]))


def members(groups, records, tiers=None):
    return [
        {records[i].path.split("/")[-1][:-4] for i in g.indices}
        for g in groups
        if tiers is None or g.tier in tiers
    ]


def arc(angle: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[0], v[1] = np.cos(angle), np.sin(angle)
    return v


# -- the every-member rule ---------------------------------------------------------------------


def test_a_chain_through_a_non_anchor_is_not_merged(truth):
    ab, bc = np.arccos(0.96), np.arccos(0.95)  # A~B 0.96, B~C 0.95, A~C only ~0.83
    records, emb = build(
        truth, [("a", "x", arc(0)), ("b", "x+y", arc(ab)), ("c", "y", arc(ab + bc))], a={"width": 800}
    )  # a: the largest photo, so the anchor and the keeper
    groups = group_records(records, emb, Thresholds(near=0.9, similar=0.8))
    dups = members(groups, records, DUPLICATE_TIERS)
    assert dups == [{"a", "b"}]  # the pixels tie c to b but not to the anchor a: never {a, b, c}
    # the similar layer sees the duplicate group through its keeper (a) only, never through b
    assert not any("b" in g for g in members(groups, records, (Tier.SIMILAR,)))
    near = next(g for g in groups if g.tier is Tier.NEAR)
    assert near.min_similarity == pytest.approx(0.96, abs=1e-5)


def test_the_cosine_finds_candidates_and_the_anchor_check_is_by_pixels(truth):
    """c is a copy of the anchor a whose cosine to it (~0.83) is under `near`: it is reached
    through b, then confirmed by the pixel check against a (a letterboxed or heavily cropped
    copy looks different to a CNN, not to the pixels)."""
    ab, bc = np.arccos(0.96), np.arccos(0.95)
    records, emb = build(
        truth, [("a", "x", arc(0)), ("b", "x", arc(ab)), ("c", "x", arc(ab + bc))], a={"width": 800}
    )
    groups = group_records(records, emb, Thresholds(near=0.9, similar=0.8))
    assert members(groups, records, DUPLICATE_TIERS) == [{"a", "b", "c"}]
    near = next(g for g in groups if g.tier is Tier.NEAR)
    assert near.min_similarity == pytest.approx(float(emb[0] @ emb[2]), abs=1e-5)  # reported honestly


def test_two_copies_of_the_anchor_share_its_group(truth):
    """Two crops of one original do not match each other, yet both are that original: the
    stated anchor rule puts them in the original's group."""
    ab, bc = np.arccos(0.96), np.arccos(0.95)
    records, emb = build(
        truth, [("a", "x", arc(0)), ("b", "x", arc(ab)), ("c", "x", arc(ab + bc))], b={"width": 800}
    )  # b: the largest photo, the anchor; a and c are copies of it
    groups = group_records(records, emb, Thresholds(near=0.9, similar=0.8))
    assert members(groups, records, DUPLICATE_TIERS) == [{"a", "b", "c"}]
    group = next(g for g in groups if g.tier in DUPLICATE_TIERS)
    anchor = next(i for i, r in enumerate(records) if r.path.split("/")[-1].startswith("b"))
    assert all(float(emb[anchor] @ emb[i]) >= 0.9 for i in group.indices)


def test_complete_linkage_merges_only_when_every_cross_pair_matches():
    ok = {frozenset(p) for p in [(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)]}
    accept = lambda xs, ys: all(frozenset((x, y)) in ok for x in xs for y in ys)  # noqa: E731
    edges = np.array([[0, 1], [1, 2], [0, 2], [2, 3], [3, 4]])
    clusters, capped = complete_linkage(edges[:, 0], edges[:, 1], accept, max_size=10)
    assert clusters == [[0, 1, 2], [3, 4]] and capped == [False, False]
    clusters, capped = complete_linkage(edges[:, 0], edges[:, 1], accept, max_size=2)
    assert clusters == [[0, 1], [2, 3]] and capped == [True, True]


# `truth` is shared across examples on purpose: build() sets every path an example uses.
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), near=st.floats(0.85, 0.97), gap=st.floats(0.0, 0.25))
def test_groups_never_hold_a_pair_below_their_tier(truth, seed, near, gap):
    rng = np.random.default_rng(seed)
    spec, kw = [], {}
    for p in range(int(rng.integers(3, 8))):  # photos, each with copies and a scene of similar shots
        base = rng.standard_normal(DIM)
        for k in range(int(rng.integers(1, 5))):
            name = f"p{p}_{k}"
            noise = rng.uniform(0.05, 0.9)
            spec.append((name, f"p{p}" if noise < 0.4 else name, base + noise * rng.standard_normal(DIM)))
            if rng.random() < 0.2:
                spec.append((name + "_copy", f"p{p}" if noise < 0.4 else name, spec[-1][2]))
                kw[name + "_copy"] = {"content": name}
    records, emb = build(truth, spec, **kw)
    t = Thresholds(near=near, similar=near - gap)
    groups = group_records(records, emb, t)
    photo, _ = truth
    cos = emb @ emb.T
    seen: dict[int, int] = {}
    dup_of: dict[int, int] = {}
    for g in groups:
        idx = g.indices
        assert len(set(idx)) == len(idx) >= 2
        assert g.min_similarity <= g.mean_similarity + 1e-9 and g.mean_similarity <= 1.0 + 1e-6
        pairs = [(i, j) for i in idx for j in idx if i < j]
        if g.tier in DUPLICATE_TIERS:
            for i in idx:
                assert i not in seen, "a file is in two duplicate groups"
                seen[i] = g.id
                dup_of[i] = g.keep_index
            # The stated anchor rule: every member is a pixel-confirmed copy of the group's
            # largest photo, and joined through a pair at or above `near`.
            anchor = min(
                idx, key=lambda i: (-records[i].facts.pixels, -records[i].file.size, records[i].path)
            )
            for i in idx:
                assert photo[records[i].path] == photo[records[anchor].path]
                assert any(
                    cos[i, j] >= near - 1e-6 or records[i].content_hash == records[j].content_hash
                    for j in idx
                    if j != i
                )
            assert g.min_similarity <= min(cos[i, j] for i, j in pairs) + 1e-5  # reported honestly
        else:
            for i, j in pairs:
                assert cos[i, j] >= t.similar - 1e-6
            assert len({dup_of.get(i, i) for i in idx}) == len(idx)  # never two of one duplicate group
            assert all(dup_of.get(i, i) == i for i in idx)  # a duplicate group joins through its keeper
            assert g.min_similarity >= t.similar - 1e-6
    assert [g.id for g in groups] == list(range(1, len(groups) + 1))


# -- tiers, copies, sizes -------------------------------------------------------------------------


def test_tiers_exact_pixels_near_and_the_weakest_pair_decides(truth):
    _, pixels = truth
    v = unit(np.random.default_rng(0).standard_normal(DIM))
    spec = [
        ("a", "a", v),
        ("a2", "a", v),
        ("b", "b", -v),
        ("b_meta", "b", -v),
        ("c", "c", arc(0)),
        ("c_meta", "c", arc(0)),
        ("c_small", "c", arc(0.1)),
    ]
    records, emb = build(truth, spec, a2={"content": "a"}, c={"width": 900})
    pixels.update(
        {frozenset(("/lib/b.jpg", "/lib/b_meta.jpg")), frozenset(("/lib/c.jpg", "/lib/c_meta.jpg"))}
    )
    groups = group_records(records, emb, Thresholds(near=0.9, similar=0.8))
    tiers = {frozenset(m): g.tier for m, g in zip(members(groups, records), groups)}
    assert tiers == {
        frozenset({"a", "a2"}): Tier.EXACT,
        frozenset({"b", "b_meta"}): Tier.PIXELS,
        frozenset({"c", "c_meta", "c_small"}): Tier.NEAR,
    }
    exact = next(g for g in groups if g.tier is Tier.EXACT)
    assert exact.why == ("same bytes",) and exact.min_similarity == 1.0
    near = next(g for g in groups if g.tier is Tier.NEAR)
    assert records[near.keep_index].path == "/lib/c.jpg" and "resized" in near.why


def test_byte_copies_ride_with_their_twin_and_similar_uses_the_keeper(truth):
    rng = np.random.default_rng(1)
    scene = rng.standard_normal(DIM)
    shot1, shot2 = scene + 0.2 * rng.standard_normal(DIM), scene + 0.2 * rng.standard_normal(DIM)
    spec = [
        ("s1", "s1", shot1),
        ("s1_copy", "s1", shot1),
        ("s1_small", "s1", shot1 + 0.05 * rng.standard_normal(DIM)),
        ("s2", "s2", shot2),
    ]
    records, emb = build(truth, spec, s1_copy={"content": "s1"}, s1={"width": 900, "size": 5000})
    cos = float(unit(shot1) @ unit(shot2))
    groups = group_records(records, emb, Thresholds(near=0.97, similar=min(0.9, cos - 0.01)))
    assert members(groups, records, DUPLICATE_TIERS) == [{"s1", "s1_copy", "s1_small"}]
    assert members(groups, records, (Tier.SIMILAR,)) == [{"s1", "s2"}]
    dup = groups[0]
    assert [records[m.index].path for m in dup.members[:2]] == ["/lib/s1.jpg", "/lib/s1_copy.jpg"]
    assert dup.members[1].similarity == 1.0 and "same bytes" in dup.why


def test_big_clusters_are_split_and_flagged(truth):
    rng = np.random.default_rng(2)
    base = rng.standard_normal(DIM)
    spec = [
        (f"f{k:03d}", "same", base + 0.01 * rng.standard_normal(DIM))
        for k in range(grouping.MAX_DUPLICATE_GROUP + 10)
    ]
    records, emb = build(truth, spec)
    groups = group_records(records, emb, Thresholds(near=0.9, similar=0.8))
    dups = [g for g in groups if g.tier in DUPLICATE_TIERS]
    assert max(len(g.members) for g in dups) == grouping.MAX_DUPLICATE_GROUP
    grouped = [i for g in dups for i in g.indices]
    assert len(grouped) == len(set(grouped)), "a photo is in at most one duplicate group"
    # Work is bounded (MAX_NEIGHBOURS candidates per photo), so a photo whose best candidates
    # all went into the full group may stay ungrouped; it is never merged silently.
    assert len(grouped) >= grouping.MAX_DUPLICATE_GROUP + 2
    assert SIZE_NOTE in dups[0].why


def test_without_embeddings_phash_candidates_and_pixels_decide(truth):
    spec = [("a", "a", arc(0)), ("a_small", "a", arc(0)), ("b", "b", arc(1)), ("c", "c", arc(2))]
    kw = {"a": {"phash": 0xF0F0}, "a_small": {"phash": 0xF0F1}, "b": {"phash": 0xF0F3}, "c": {"phash": 2**63}}
    records, _ = build(truth, spec, **kw)
    groups = group_records(records, None, Thresholds())
    assert members(groups, records) == [{"a", "a_small"}]  # b's pHash is close too, its pixels are not
    assert groups[0].tier is Tier.NEAR and groups[0].min_similarity == pytest.approx(1 - 1 / 64)


# -- regrouping -------------------------------------------------------------------------------------


def random_library(truth, n_photos: int, seed: int):
    rng = np.random.default_rng(seed)
    spec = []
    for p in range(n_photos):
        base = rng.standard_normal(DIM)
        for k in range(int(rng.integers(1, 4))):
            spec.append((f"p{p}_{k}", f"p{p}", base + 0.15 * rng.standard_normal(DIM)))
        if rng.random() < 0.3:
            spec.append((f"p{p}_burst", f"p{p}_burst", base + 0.5 * rng.standard_normal(DIM)))
    return build(truth, spec)


def test_regrouping_reads_no_photo_twice(truth, monkeypatch):
    """The keeper's derivation tree needs each member's detail; a second grouping at the same
    or nearby thresholds reuses the trees instead of loading details again."""
    records, emb = random_library(truth, 20, seed=5)
    loads = []
    monkeypatch.setattr(verify, "load_detail", lambda r: loads.append(r.path))
    regrouper = Regrouper(records, emb, floor=0.6)
    first = regrouper.group(Thresholds(near=0.9, similar=0.8))
    assert loads and any(g.derivation for g in first)
    loads.clear()
    assert regrouper.group(Thresholds(near=0.9, similar=0.8)) == first
    assert loads == []


def test_regrouping_is_deterministic_and_equals_a_fresh_grouping(truth):
    records, emb = random_library(truth, 40, seed=3)
    regrouper = Regrouper(records, emb, floor=0.6)
    a, b = Thresholds(near=0.95, similar=0.8), Thresholds(near=0.9, similar=0.7)
    first = regrouper.group(a)
    regrouper.group(b)
    assert regrouper.group(a) == first
    assert group_records(records, emb, a) == first
    assert Regrouper(records, emb, floor=0.6).group(b) == regrouper.group(b)
    assert regrouper.group(Thresholds(near=0.9, similar=0.5)) == group_records(
        records, emb, Thresholds(0.9, 0.5)
    )


def test_the_lsh_path_groups_like_the_exact_one(truth):
    records, emb = random_library(truth, 120, seed=4)
    t = Thresholds(near=0.9, similar=0.75)
    assert group_records(records, emb, t, exact_below=50) == group_records(records, emb, t)


# -- with the real pixel check ---------------------------------------------------------------------


def test_scan_groups_the_library_fixture(library, fake_embedder, tmp_path):
    from photofind.core.pipeline import scan
    from photofind.core.types import ScanSettings

    result = scan(
        ScanSettings(roots=(str(library["root"]),), cache_path=str(tmp_path / "c.db"), calibrate=False),
        embedder=fake_embedder,
    )
    dups = [{result.records[i].path for i in g.indices} for g in result.groups if g.tier in DUPLICATE_TIERS]
    for want in library["expected_groups"]:
        assert {str(p) for p in want} in dups
    loners = {str(library["paths"][k]) for k in "DEF"}
    assert not any(loners & g for g in dups)
    again = Regrouper.from_result(result).group(result.settings.thresholds)
    assert [(g.tier, g.indices) for g in again] == [(g.tier, g.indices) for g in result.groups]


def test_a_letterboxed_copy_never_anchors_the_group(tmp_path):
    """The letterboxed copy has the most pixels, but its bars are not picture: the anchor is
    the bar-free original, and each member is checked against it."""
    from photofind.core.match import derivatives as d
    from tests import imagefactory as factory

    scene = factory.make_scene(5, (640, 480))
    files = {"boxed": d.letterbox(scene), "original": scene, "crop": d.crop(scene, 0.8, (0.3, 0.6))}
    records = []
    for k, (name, im) in enumerate(files.items()):
        path = tmp_path / f"{name}.png"
        im.save(path)
        records.append(
            ImageRecord(
                FileRef(str(path), path.stat().st_size, 0),
                name,
                ImageFacts(im.width, im.height, "PNG", None, None),
                k,
            )
        )
    emb = unit(np.stack([arc(0), arc(0.01), arc(0.02)]))
    regrouper = Regrouper(records, emb, floor=0.9)
    groups = regrouper.group(Thresholds(near=0.9, similar=0.95))
    assert [sorted(g.indices) for g in groups if g.tier in DUPLICATE_TIERS] == [[0, 1, 2]]
    assert regrouper._anchor_key(0) > regrouper._anchor_key(1)  # boxed ranks after the original
    assert verify.has_bars(records[0]) and not verify.has_bars(records[1])


def test_each_photo_keeps_only_its_best_candidates():
    from photofind.core.match.linkage import best_per_node

    # node 0 has five edges; with k=2 only its two best survive, unless the other end
    # ranks the edge among its own best (every other node has one edge, so all survive).
    a = np.array([0, 0, 0, 0, 0, 1])
    b = np.array([1, 2, 3, 4, 5, 2])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.95])
    assert best_per_node(a, b, score, 2).tolist() == [True, True, True, True, True, True]
    a2, b2 = np.array([0, 0, 0, 0]), np.array([1, 1, 1, 1])  # one busy pair of nodes
    s2 = np.array([0.1, 0.4, 0.3, 0.2])
    assert best_per_node(a2, b2, s2, 2).tolist() == [False, True, True, False]
