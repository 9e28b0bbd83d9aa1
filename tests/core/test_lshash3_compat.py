"""Our bucket keys equal lshash3's `_hash` strings for the same planes (the seed design's
package). Skipped when the optional `photofind[lshash3]` extra is not installed, except where
PHOTOFIND_REQUIRE_LSHASH3=1 (CI sets it): there a missing extra is a broken install."""

from __future__ import annotations

import importlib
import os

import numpy as np
import pytest

from photofind.core.match.lsh import Hyperplanes, LshParams

if os.environ.get("PHOTOFIND_REQUIRE_LSHASH3") == "1":
    try:
        lshash = importlib.import_module("lshash.lshash")
    except ImportError as exc:
        pytest.fail(f"PHOTOFIND_REQUIRE_LSHASH3=1 but lshash3 cannot be imported: {exc}", pytrace=False)
else:
    lshash = pytest.importorskip("lshash.lshash", reason="optional extra photofind[lshash3] not installed")


@pytest.mark.parametrize("bits,tables", [(8, 1), (16, 3), (21, 2)])
def test_keys_equal_lshash3_hash_strings(bits, tables):
    rng = np.random.default_rng(bits)
    dim = 64
    x = rng.standard_normal((200, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    hp = Hyperplanes.fit(x, LshParams(bits=bits, tables=tables, seed=11))
    theirs = lshash.LSHash(bits, dim, num_hashtables=tables)
    theirs.uniform_planes = [hp.table_planes(t) for t in range(tables)]  # "the same planes"
    ours = hp.keys(x)
    for t in range(tables):
        planes = theirs.uniform_planes[t]
        for i in range(len(x)):
            expected = theirs._hash(planes, (x[i] - hp.mean).tolist())  # lshash hashes the point as given
            assert format(int(ours[i, t]), f"0{bits}b") == expected
            assert hp.lshash_key(x[i], t) == expected


def test_lshash3_index_finds_our_bucket_mates():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 16)).astype(np.float32)
    hp = Hyperplanes.create(16, LshParams(bits=4, tables=1, seed=2))  # mean 0: raw points
    theirs = lshash.LSHash(4, 16)
    theirs.uniform_planes = [hp.table_planes(0)]
    for i, v in enumerate(x):
        theirs.index(v.tolist(), extra_data=f"#{i}")  # lshash drops falsy extras such as 0
    keys = hp.keys(x)[:, 0]
    table = theirs.hash_tables[0]
    for key in set(keys.tolist()):
        stored = {int(extra[1:]) for _point, extra in table.get_list(format(key, "04b"))}
        assert stored == set(np.flatnonzero(keys == key).tolist())
