"""LSH planes and keys, and the pair search built on them (photofind.core.match.lsh, pairsearch)."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photofind.core.match.lsh import (
    FILTER_BITS,
    NAMESPACE,
    Hyperplanes,
    LshParams,
    agreement_limits,
    choose_params,
    expected_recall,
    load_hyperplanes,
    rotation_signs,
    seeded_planes,
)
from photofind.core.match.pairsearch import (
    Pairs,
    exact_pairs,
    find_pairs,
    lsh_pairs,
    recall_check,
)
from photofind.core.scan.cache import Cache


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def library(
    n: int,
    planted: int,
    *,
    dim: int = 64,
    anisotropic: bool = False,
    seed: int = 0,
    lo: float = 0.90,
    hi: float = 0.99,
) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Unit vectors with `planted` pairs at cosine lo..hi. Anisotropic: a shared positive mean
    and a decaying spectrum, so unrelated vectors sit at cosine ~0.5 as ReLU features do."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    spectrum = np.arange(1, dim + 1, dtype=np.float32) ** -0.4
    if anisotropic:
        x = unit(x * spectrum) + unit(np.abs(rng.standard_normal(dim)))
    x = unit(x)
    src = rng.choice(n, size=2 * planted, replace=False)
    a, b = src[:planted], src[planted:]
    c = rng.uniform(lo, hi, planted).astype(np.float32)
    w = rng.standard_normal((planted, dim)).astype(np.float32) * (spectrum if anisotropic else 1.0)
    w -= np.einsum("ij,ij->i", w, x[a])[:, None] * x[a]
    x[b] = c[:, None] * x[a] + np.sqrt(1 - c * c)[:, None] * unit(w)
    return unit(x), {(min(i, j), max(i, j)) for i, j in zip(a.tolist(), b.tolist())}


def as_set(p: Pairs) -> set[tuple[int, int]]:
    return set(zip(p.i.tolist(), p.j.tolist()))


# -- keys ---------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    bits=st.integers(1, 32),
    tables=st.integers(1, 5),
    scale=st.floats(0.01, 100.0),
)
def test_key_is_the_signs_of_the_centred_projections(seed, bits, tables, scale):
    rng = np.random.default_rng(seed)
    dim = 16
    mean = rng.standard_normal(dim).astype(np.float32) * 0.3
    hp = Hyperplanes.create(dim, LshParams(bits=bits, tables=tables, seed=seed % 1000), mean)
    x = rng.standard_normal((5, dim)).astype(np.float32)
    keys = hp.keys(x)
    signs = (x - mean) @ hp.planes.T > 0
    for t in range(tables):
        bits_t = signs[:, t * bits : (t + 1) * bits]
        expected = [int("".join("1" if b else "0" for b in row), 2) for row in bits_t]
        assert keys[:, t].tolist() == expected
    # Only the signs matter: stretching a centred vector, or the planes, changes nothing.
    stretched = mean + scale * (x - mean)
    assert np.array_equal(hp.keys(stretched), keys)
    wider = Hyperplanes(hp.planes * np.float32(scale), hp.mean, hp.params)
    assert np.array_equal(wider.keys(x), keys)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), flip=st.integers(0, 11))
def test_key_changes_exactly_where_a_sign_changes(seed, flip):
    rng = np.random.default_rng(seed)
    hp = Hyperplanes.create(12, LshParams(bits=12, tables=1, seed=3))
    planes = hp.table_planes(0).astype(np.float64)
    x = rng.standard_normal(12)
    proj = planes @ x
    # Move x across plane `flip` only: solve for the point with that one projection negated.
    target = proj.copy()
    target[flip] = -proj[flip]
    y = np.linalg.solve(planes, target)
    kx, ky = int(hp.keys(x.astype(np.float32))[0, 0]), int(hp.keys(y.astype(np.float32))[0, 0])
    if min(abs(proj[flip]), 1.0) > 1e-3:
        assert kx ^ ky == 1 << (11 - flip)


def test_planes_are_seeded_blocks_and_survive_a_round_trip():
    assert np.array_equal(seeded_planes(10, 8, 5), seeded_planes(200, 8, 5)[:10])
    assert not np.array_equal(seeded_planes(10, 8, 5), seeded_planes(10, 8, 6))
    assert np.array_equal(
        rotation_signs(2, 16, 5), rotation_signs(7, 16, 5)[:2]
    )  # more tables, same old ones
    hp = Hyperplanes.create(8, LshParams(bits=5, tables=3, seed=9), np.arange(8, dtype=np.float32), 42)
    back = Hyperplanes.from_bytes(hp.to_bytes())
    assert np.array_equal(back.planes, hp.planes) and np.array_equal(back.mean, hp.mean)
    assert back.params == hp.params and back.fitted_on == 42
    assert hp.planes.shape == (hp.params.planes, 8) and hp.params.planes == 64 + FILTER_BITS
    # A power-of-two dimension: each rotation's rows are orthonormal planes.
    square = Hyperplanes.create(64, LshParams(bits=16, tables=4))
    np.testing.assert_allclose(square.planes[:64] @ square.planes[:64].T, np.eye(64), atol=1e-5)
    with pytest.raises(ValueError):
        LshParams(bits=40)


def test_planes_and_mean_are_stored_in_the_cache_and_refreshed_on_drift(tmp_path):
    x, _ = library(500, 10, anisotropic=True)
    params = LshParams(bits=10, tables=4)
    with Cache(tmp_path / "c.sqlite3") as cache:
        first = load_hyperplanes(cache, "model-a", x, params)
        assert cache.get_blob(NAMESPACE, "model-a") is not None
    with Cache(tmp_path / "c.sqlite3") as cache:  # a later run
        again = load_hyperplanes(cache, "model-a", x[:450], params)  # a few photos fewer
        assert np.array_equal(again.mean, first.mean)
        assert np.array_equal(again.keys(x), first.keys(x))  # stable keys across runs
        drifted = load_hyperplanes(cache, "model-a", unit(x + 0.3), params)
        assert not np.array_equal(drifted.mean, first.mean)
        assert np.array_equal(drifted.planes, first.planes)
        cache.put_blob(NAMESPACE, "model-b", b"not an npz")
        assert load_hyperplanes(cache, "model-b", x, params).params == params  # rebuilt, no crash
        # Dense planes stored before the rotations: replaced by rotations, no crash.
        old = io.BytesIO()
        meta = json.dumps({"params": dataclasses.asdict(params), "fitted_on": 500})
        np.savez(old, planes=first.planes[:40], mean=first.mean, meta=np.array(meta))
        cache.put_blob(NAMESPACE, "model-c", old.getvalue())
        rebuilt = load_hyperplanes(cache, "model-c", x, params)
        assert rebuilt.signs is not None and np.array_equal(rebuilt.planes, first.planes)
        assert Hyperplanes.from_bytes(cache.get_blob(NAMESPACE, "model-c")).signs is not None


# -- choosing L and K ---------------------------------------------------------------------------


def test_default_tables_reach_the_recall_target_and_anisotropy_costs_more():
    iso = choose_params(100_000, 0.9, mean_sq=0.0)
    aniso = choose_params(100_000, 0.9, mean_sq=0.5, random_cos=np.random.default_rng(0).normal(0, 0.1, 2000))
    assert expected_recall(0.9, 0.0, iso.bits, iso.tables, iso.probe) >= 0.99
    assert expected_recall(0.9, 0.5, aniso.bits, aniso.tables, aniso.probe) >= 0.99
    assert aniso.tables > iso.tables
    assert choose_params(1_000_000, 0.9).bits > choose_params(20_000, 0.9).bits  # K grows with log N


def test_agreement_limits_are_monotone():
    g = agreement_limits(256)
    assert g[0] == pytest.approx(1.0) and g[-1] < -0.99  # no bit differs / every bit differs
    assert np.all(np.diff(g) <= 0)


# -- pair search ----------------------------------------------------------------------------------


@pytest.mark.parametrize("anisotropic", [False, True])
def test_lsh_finds_every_planted_pair_above_the_threshold(anisotropic):
    x, planted = library(6000, 150, anisotropic=anisotropic, seed=1)
    truth = as_set(exact_pairs(x, 0.9))
    assert truth >= {p for p in planted if float(x[p[0]] @ x[p[1]]) >= 0.9}
    hp = Hyperplanes.fit(x, LshParams(bits=12, tables=24))
    found = lsh_pairs(x, 0.9, hp)
    assert as_set(found) == truth
    assert np.all(found.sim >= 0.9) and np.all(found.i < found.j)
    assert recall_check(x, found, 0.9, sample=6000).recall == 1.0


def test_multi_probe_finds_pairs_one_bit_apart():
    x, _ = library(3000, 60, seed=2)
    truth = as_set(exact_pairs(x, 0.9))
    one_table = dict(bits=16, tables=3)
    plain = as_set(lsh_pairs(x, 0.9, Hyperplanes.fit(x, LshParams(**one_table, probe=False))))
    probed = as_set(lsh_pairs(x, 0.9, Hyperplanes.fit(x, LshParams(**one_table, probe=True))))
    assert plain < probed <= truth


def test_giant_buckets_are_searched_exactly_not_pairwise():
    rng = np.random.default_rng(3)
    x, _ = library(2000, 20, seed=3)
    # 600 near-identical vectors: one bucket in every table, far above the caps below.
    blob = unit(x[0] + 0.02 * rng.standard_normal((600, x.shape[1])).astype(np.float32))
    x = np.concatenate([x, blob])
    params = LshParams(bits=10, tables=12, bucket_cap=16, exact_cap=200)
    found = lsh_pairs(x, 0.9, Hyperplanes.fit(x, params))
    truth = as_set(exact_pairs(x, 0.9))
    got = as_set(found)
    assert got <= truth
    blob_pairs = {(i, j) for i, j in truth if i >= 2000 and j >= 2000}
    assert len(got & blob_pairs) >= 0.5 * len(blob_pairs)  # split buckets lose some, exactly searched
    assert recall_check(x, found, 0.9, sample=500).recall > 0.5


def test_find_pairs_is_exact_for_small_libraries_and_recall_check_sees_misses():
    x, _ = library(800, 30, seed=4)
    exact = find_pairs(x, 0.9)
    assert as_set(exact) == as_set(exact_pairs(x, 0.9))
    half = Pairs(exact.i[::2], exact.j[::2], exact.sim[::2])
    report = recall_check(x, half, 0.9, sample=800)
    assert report.true_pairs == len(exact) and report.found == len(half.i)
    assert report.recall == pytest.approx(len(half.i) / len(exact))
    assert len(find_pairs(x[:1], 0.9)) == 0 and len(find_pairs(x[:0], 0.9)) == 0


def test_lsh_path_of_find_pairs_with_tuned_defaults():
    x, planted = library(4000, 100, anisotropic=True, seed=5)
    found = find_pairs(x, 0.9, exact_below=100)  # force the LSH path with auto L and K
    report = recall_check(x, found, 0.9, sample=4000)
    assert report.recall >= 0.97
    assert as_set(found) <= as_set(exact_pairs(x, 0.9))


# -- the compiled loop ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "anisotropic, params",
    [
        (True, LshParams(bits=10, tables=4)),
        (False, LshParams(bits=12, tables=3, probe=False)),
        (True, LshParams(bits=24, tables=2)),  # keys too long for the dense table: binary search
        (True, LshParams(bits=7, tables=3, bucket_cap=24, exact_cap=64)),  # giant buckets
    ],
)
def test_the_compiled_loop_keeps_exactly_the_candidates_numpy_keeps(anisotropic, params):
    from photofind.core.match import pairsearch
    from photofind.core.match.pairloop import table_codes

    x, _ = library(3000, 80, anisotropic=anisotropic, seed=5)
    hp = Hyperplanes.fit(x, params)
    sig = hp.signatures(x)
    filt = pairsearch._SignatureFilter(sig, x, hp.mean, 0.9)
    dense = params.probe and params.bits <= pairsearch._DENSE_BITS
    slot = np.full(1 << params.bits, -1, np.int32) if dense else None
    for t in range(params.tables):
        buckets = pairsearch._Buckets(sig.table_keys(t), params, slot)
        numpy_codes = [
            np.minimum(a, b) * len(x) + np.maximum(a, b)
            for a, b in (filt.keep(i, j) for i, j in buckets.pairs())
        ]
        expected = np.sort(np.concatenate(numpy_codes)) if numpy_codes else np.zeros(0, np.int64)
        assert len(expected) > 0
        codes, giants = table_codes(sig.table_keys(t), filt, params)
        np.testing.assert_array_equal(np.sort(codes), expected)
        assert len(giants) == len(buckets.giants)
        for ours, theirs in zip(giants, buckets.giants):
            np.testing.assert_array_equal(ours, theirs)
    found = pairsearch.lsh_pairs(x, 0.9, hp, compiled=True)
    reference = pairsearch.lsh_pairs(x, 0.9, hp, compiled=False)
    for field in ("i", "j", "sim"):
        np.testing.assert_array_equal(getattr(found, field), getattr(reference, field))


@pytest.mark.parametrize("bits", [1, 5, 21, 32])
def test_the_compiled_bucketing_sorts_as_numpy_does(bits):
    from photofind.core.match import pairsearch
    from photofind.core.match.pairloop import _buckets

    rng = np.random.default_rng(bits)
    keys = rng.integers(0, 2**bits, 5000, dtype=np.uint64).astype(np.uint32)
    keys[::7] = keys[0]  # a big run of one key among the singles
    expected = pairsearch._Buckets(keys, LshParams(bits=bits), None)
    order, starts, sizes, ukeys = _buckets(keys, bits)
    for ours, theirs in zip(
        (order, starts, sizes, ukeys), (expected.order, expected.starts, expected.sizes, expected.ukeys)
    ):
        np.testing.assert_array_equal(ours, theirs)
    assert [len(a) for a in _buckets(keys[:0], bits)] == [0, 0, 0, 0]


# -- the fast transform and thread counts ----------------------------------------------------------


@pytest.mark.parametrize("dim", [64, 12, 100])
def test_the_fast_transform_gives_the_planes_bits(dim):
    from photofind.core.match import rotation

    rng = np.random.default_rng(dim)
    x = unit(rng.standard_normal((500, dim)).astype(np.float32))
    hp = Hyperplanes.fit(x, LshParams(bits=13, tables=5))
    offset = rotation.project(hp.mean[None], hp.signs, hp.params.planes)[0]
    fast = rotation.signature_words(x, hp.signs, offset)
    dense = Hyperplanes(hp.planes, hp.mean, hp.params).signatures(x).words  # no rotations: the product
    assert fast.shape == dense.shape == (-(-hp.params.planes // 64), len(x))
    differ = np.unpackbits(np.ascontiguousarray((fast ^ dense).T).astype(">u8").view(np.uint8), axis=1)
    differ = differ[:, : hp.params.planes]
    margins = (x - hp.mean).astype(np.float64) @ hp.planes.T.astype(np.float64)
    # The same bits, but where a value sits within float rounding of its plane.
    assert np.all(np.abs(margins[differ.astype(bool)]) < 1e-5)
    assert differ.sum() <= 2


def test_signatures_and_pairs_do_not_depend_on_the_thread_count():
    from photofind.core.match import lsh, rotation

    rng = np.random.default_rng(8)
    x = unit(rng.standard_normal((lsh.FAST_FROM + 20_000, 16)).astype(np.float32))
    hp = Hyperplanes.fit(x, LshParams(bits=12, tables=4))
    one = hp.signatures(x, threads=1).words
    assert len(x) > 2 * rotation._CHUNK_ROWS  # so three threads each get rows
    np.testing.assert_array_equal(one, hp.signatures(x, threads=3).words)
    offset = rotation.project(hp.mean[None], hp.signs, hp.params.planes)[0]
    np.testing.assert_array_equal(one, rotation.signature_words(x, hp.signs, offset, threads=1))

    y, _ = library(3000, 80, anisotropic=True, seed=6)
    hp = Hyperplanes.fit(y, LshParams(bits=10, tables=6))
    single = lsh_pairs(y, 0.9, hp, compiled=True, threads=1)
    assert len(single) >= 60
    for threads in (2, 5):
        many = lsh_pairs(y, 0.9, hp, compiled=True, threads=threads)
        for field in ("i", "j", "sim"):
            np.testing.assert_array_equal(getattr(many, field), getattr(single, field))
