"""Find every pair of unit vectors with cosine >= a threshold: exact blocked search for small
libraries, and the LSH coarse stage + exact fine stage for big ones.

The LSH stage (planes and keys in `photofind.core.match.lsh`), per table:
* Sort the keys; runs of equal keys are buckets. Pairs inside a bucket, and (multi-probe)
  pairs across buckets whose keys differ in one bit, are candidates.
* Before any float is read, the Hamming distance between two signatures estimates the
  pair's angle (Charikar), on FILTER_BITS that no table's key uses. A candidate whose
  distance is implausible for a pair at the threshold (binomial tail < 1e-4, first on 256
  bits, then on all 512) is dropped. That removes almost every chance collision for a few
  ns, which is what lets K stay small and recall high.
* A bucket above `bucket_cap` is never enumerated pair by pair: it is searched exactly in
  blocks (above `exact_cap`, first split by more seeded planes), so one degenerate bucket
  cannot make the work quadratic in the library.
Survivors of every table are de-duplicated and confirmed by exact cosine in chunks.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from photofind.core.match.lsh import (
    FAST_FROM,
    FILTER_HEAD_WORDS,
    PAIR_MISS,
    Hyperplanes,
    LshParams,
    Signatures,
    agreement_limits,
    choose_params,
    library_mean,
    sample_random_cos,
    seeded_planes,
)
from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel

EXACT_BELOW = 12_000  # below this many vectors exact search costs about as much and misses nothing
COMPILED_FROM = FAST_FROM  # from here signatures load numba anyway, and its loop beats numpy's
_CHUNK = 1 << 17  # candidate pairs per vectorised step
_DENSE_BITS = 22  # keys this short find neighbour buckets through a dense table, not a search
_SPLIT_BITS = 8  # extra bits per split of a giant bucket
_SPLIT_LEVELS = 4  # after 32 more shared bits the members are near-identical: search them exactly
_GIANT_TOP_K = 64  # ...keeping each one's best matches only, so the output stays linear


@dataclass(frozen=True)
class Pairs:
    """Index pairs i < j with their cosine, sorted by (i, j)."""

    i: np.ndarray  # int64
    j: np.ndarray  # int64
    sim: np.ndarray  # float32

    def __len__(self) -> int:
        return len(self.i)

    @classmethod
    def empty(cls) -> Pairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))

    def codes(self, n: int) -> np.ndarray:
        return self.i * n + self.j


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values, by one sort: numpy 2's hash-based unique (which isin and
    union1d call too) takes seconds on millions of int64 codes."""
    values = np.sort(values, kind="stable")
    if len(values) < 2:
        return values
    keep = np.ones(len(values), bool)
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def contains(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Boolean mask: which queries occur in `sorted_values` (sorted ascending)."""
    if len(sorted_values) == 0:
        return np.zeros(len(queries), bool)
    pos = np.minimum(np.searchsorted(sorted_values, queries), len(sorted_values) - 1)
    return sorted_values[pos] == queries


def _from_codes(codes: np.ndarray, sims: np.ndarray, n: int) -> Pairs:
    order = np.argsort(codes, kind="stable")
    codes, sims = codes[order], sims[order]
    first = np.ones(len(codes), bool)
    first[1:] = codes[1:] != codes[:-1]
    codes, sims = codes[first], sims[first]
    return Pairs(codes // n, codes % n, sims.astype(np.float32))


def pair_dots(vectors: np.ndarray, i: np.ndarray, j: np.ndarray, chunk: int = 16_384) -> np.ndarray:
    """Dot products of rows i[k], j[k], in chunks so the gathered rows stay small."""
    out = np.empty(len(i), np.float32)
    for s in range(0, len(i), chunk):
        rows = vectors[i[s : s + chunk]]
        rows *= vectors[j[s : s + chunk]]
        out[s : s + chunk] = rows.sum(axis=1)
    return out


# -- exact ------------------------------------------------------------------------------------


def exact_pairs(
    vectors: np.ndarray,
    threshold: float,
    *,
    top_k: int | None = None,
    progress: Progress = NULL_PROGRESS,
    row_block: int = 1024,
    col_block: int = 16_384,
) -> Pairs:
    """Every pair with cosine >= threshold, by blocked matrix products over the upper
    triangle (n^2/2 dot products; temporaries bounded by row_block x col_block). With
    `top_k`, each row keeps only its k best partners."""
    n = len(vectors)
    found_i, found_j, found_s = [], [], []
    for s in range(0, n, row_block):
        check_cancel(progress)
        e = min(n, s + row_block)
        bi, bj, bs = [], [], []
        for c0 in range(s, n, col_block):
            sims = vectors[s:e] @ vectors[c0 : c0 + col_block].T
            r, c = np.nonzero(sims >= threshold)
            keep = s + r < c0 + c
            r, c = r[keep], c[keep]
            bi.append(s + r)
            bj.append(c0 + c)
            bs.append(sims[r, c])
        i, j, sim = np.concatenate(bi), np.concatenate(bj), np.concatenate(bs)
        if top_k is not None and len(i):
            order = np.lexsort((-sim, i))
            i, j, sim = i[order], j[order], sim[order]
            rank = np.arange(len(i)) - np.searchsorted(i, i, side="left")
            keep = rank < top_k
            i, j, sim = i[keep], j[keep], sim[keep]
        found_i.append(i)
        found_j.append(j)
        found_s.append(sim)
        progress.update(Phase.PAIRS, e, n)
    if not found_i:
        return Pairs.empty()
    i, j = np.concatenate(found_i).astype(np.int64), np.concatenate(found_j).astype(np.int64)
    return _from_codes(i * n + j, np.concatenate(found_s), n)


# -- the signature filter -----------------------------------------------------------------------


class _SignatureFilter:
    """x.y >= t  <=>  centred cosine >= (t + |m|^2 - x.m - y.m) / (|x-m| |y-m|) = need / rr: each
    pair's own required centred cosine, compared with what its Hamming distance allows.

    It reads the signature's FILTER_BITS, which no table's key uses: a candidate's bits there
    say as much about its angle as a random pair's, whichever table found it. Stages, cheapest
    first: the first FILTER_HEAD_WORDS words against a per-photo bound (no floats read), the same
    bits against the pair's exact requirement, then all the filter's bits against it. Each
    stage may drop a true pair at the threshold with chance <= PAIR_MISS / 3."""

    def __init__(self, sig: Signatures, vectors: np.ndarray, mean: np.ndarray, threshold: float) -> None:
        self.words = sig.filter_words
        mm = float(mean @ mean)
        dots = np.concatenate([b @ mean for b in _blocks(vectors)])
        sq = np.concatenate([np.einsum("ij,ij->i", b, b) for b in _blocks(vectors)])
        self.half = ((threshold + mm) / 2 - dots).astype(np.float32)
        self.radius = np.sqrt(np.maximum(sq - 2 * dots + mm, 0.0)).astype(np.float32)
        self.miss = PAIR_MISS / 3
        head_bits, all_bits = 64 * FILTER_HEAD_WORDS, 64 * len(self.words)
        self.limits = np.zeros((2, all_bits + 1), np.float32)  # the exact stages: head bits, all bits
        self.limits[0, : head_bits + 1] = agreement_limits(head_bits, self.miss)
        self.limits[1] = agreement_limits(all_bits, self.miss)
        # The most bits out of the head's in which any partner of photo i may differ: with
        # h_i, h_j > 0, need / rr >= 2 sqrt(h_i h_j) / (r_i r_j) >= 2 min(h_i / r_i^2, h_j / r_j^2),
        # a floor on the pair's required centred cosine. Photos with h <= 0 get no floor.
        with np.errstate(divide="ignore", invalid="ignore"):
            floor_cos = np.where(self.half > 0, 2 * self.half / np.maximum(self.radius**2, 1e-12), -1.0)
        decreasing = self.limits[0, : head_bits + 1]
        allowed = head_bits - np.searchsorted(decreasing[::-1], np.clip(floor_cos, -1.0, 1.0), side="left")
        self.bound = np.clip(allowed, 0, head_bits).astype(np.uint16)

    @cached_property
    def rows(self) -> np.ndarray:
        """(n, W) the same words photo by photo: the compiled loop reads a photo's words together."""
        return np.ascontiguousarray(self.words.T)

    def keep(self, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        words = self.words
        hd = np.zeros(len(i), np.int32)
        for k in range(FILTER_HEAD_WORDS):
            hd += np.bitwise_count(words[k][i] ^ words[k][j])
        ok = hd <= np.maximum(self.bound[i], self.bound[j])
        i, j, hd = i[ok], j[ok], hd[ok]
        need = self.half[i] + self.half[j]
        rr = self.radius[i] * self.radius[j]
        ok = need <= self.limits[0][hd] * rr
        i, j, hd, need, rr = i[ok], j[ok], hd[ok], need[ok], rr[ok]
        for k in range(FILTER_HEAD_WORDS, len(words)):
            hd += np.bitwise_count(words[k][i] ^ words[k][j])
        ok = need <= self.limits[1][hd] * rr
        return i[ok], j[ok]


def _blocks(vectors: np.ndarray, rows: int = 65536) -> Iterator[np.ndarray]:
    for s in range(0, len(vectors), rows):
        yield vectors[s : s + rows]


# -- candidates of one table --------------------------------------------------------------------


class _Buckets:
    """One table's buckets, found by sorting its keys."""

    def __init__(self, keys: np.ndarray, params: LshParams, slot: np.ndarray | None) -> None:
        n = len(keys)
        self.params = params
        # Sort (key, index) packed in one uint64: several times faster than argsort, and stable.
        packed = (keys.astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
        packed.sort()
        self.order = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
        sk = (packed >> np.uint64(32)).astype(np.uint32)
        del packed
        new = np.ones(n, bool)
        np.not_equal(sk[1:], sk[:-1], out=new[1:])
        self.starts = np.flatnonzero(new)
        self.sizes = np.diff(np.append(self.starts, n))
        self.ukeys = sk[self.starts]
        self.bucket_of = np.cumsum(new) - 1
        self.slot = slot
        big = np.flatnonzero(self.sizes > params.bucket_cap)
        self.giants = [self.order[self.starts[b] : self.starts[b] + self.sizes[b]] for b in big]
        self.first = self.order[self.starts]  # bucket -> its first member
        self.single = self.sizes == 1

    def pairs(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from self._same_bucket()
        if self.params.probe:
            yield from self._neighbours()

    def _same_bucket(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # Walk offsets 1, 2, ...: position p pairs with p + o while both are in one bucket.
        bucket, small = self.bucket_of, self.sizes <= self.params.bucket_cap
        p = np.flatnonzero((bucket[:-1] == bucket[1:]) & small[bucket[:-1]])
        o = 1
        while len(p):
            yield self.order[p], self.order[p + o]
            o += 1
            p = p[p + o < len(bucket)]
            p = p[bucket[p] == bucket[p + o]]

    def _neighbour_buckets(self, flipped: np.ndarray) -> np.ndarray:
        if self.slot is not None:
            return self.slot[flipped]
        pos = np.minimum(np.searchsorted(self.ukeys, flipped), len(self.ukeys) - 1)
        return np.where(self.ukeys[pos] == flipped, pos, -1)

    def _neighbours(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        cap = self.params.bucket_cap
        if self.slot is not None:
            self.slot[self.ukeys] = np.arange(len(self.ukeys), dtype=np.int32)
        try:
            flips = np.uint32(1) << np.arange(self.params.bits, dtype=np.uint32)
            small = np.flatnonzero(self.sizes <= cap)
            step = max(1, (1 << 21) // self.params.bits)  # all bits at once, in bounded chunks
            for s in range(0, len(small), step):
                a = small[s : s + step]
                nb = self._neighbour_buckets(self.ukeys[a][:, None] ^ flips)
                # Buckets are in key order, so nb > a keeps each neighbour pair once (from the
                # side whose flipped bit is 0) and drops missing neighbours (-1) too.
                rows, cols = np.nonzero(nb > a[:, None])
                a, nb = a[rows], nb[rows, cols]
                single = self.single[a] & self.single[nb]  # the common case: two lone photos
                yield self.first[a[single]], self.first[nb[single]]
                a, nb = a[~single], nb[~single]
                ok = self.sizes[nb] <= cap
                yield from self._cross(a[ok], nb[ok])
        finally:
            if self.slot is not None:
                self.slot[self.ukeys] = -1

    def _cross(self, a: np.ndarray, b: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every member of bucket a[k] with every member of bucket b[k]."""
        sa, sb = self.sizes[a], self.sizes[b]
        count = sa * sb
        ends = np.cumsum(count)
        step = max(1, _CHUNK * 8)
        lo = 0
        while lo < len(a):
            hi = int(np.searchsorted(ends, (ends[lo - 1] if lo else 0) + step, side="right"))
            hi = max(hi, lo + 1)
            c = count[lo:hi]
            rep = np.repeat(np.arange(lo, hi), c)
            e = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
            sb_rep = sb[rep]
            yield (
                self.order[self.starts[a[rep]] + e // sb_rep],
                self.order[self.starts[b[rep]] + e % sb_rep],
            )
            lo = hi


def _giant_pairs(
    vectors: np.ndarray, members: np.ndarray, threshold: float, planes: Hyperplanes, depth: int = 0
) -> Pairs:
    """Pairs inside one oversized bucket: exact search, after splitting it by more seeded
    planes while it is too big for that."""
    members = np.sort(members)
    params = planes.params
    if len(members) <= params.exact_cap or depth >= _SPLIT_LEVELS:
        top_k = None if len(members) <= params.exact_cap else _GIANT_TOP_K
        p = exact_pairs(vectors[members], threshold, top_k=top_k)
        return Pairs(members[p.i], members[p.j], p.sim)
    extra = seeded_planes(_SPLIT_BITS, planes.dim, params.seed, stream=1 + depth)
    bits = (vectors[members] - planes.mean) @ extra.T > 0
    keys = np.packbits(bits, axis=1)[:, 0]
    parts = [
        _giant_pairs(vectors, members[keys == k], threshold, planes, depth + 1) for k in unique_sorted(keys)
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return Pairs.empty()
    return Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("i", "j", "sim")))


# -- LSH all-pairs -------------------------------------------------------------------------------


def auto_params(vectors: np.ndarray, recall_threshold: float, *, mean: np.ndarray | None = None) -> LshParams:
    """Default L and K for this library: recall >= 0.99 for pairs at `recall_threshold`."""
    m = library_mean(vectors) if mean is None else mean
    return choose_params(
        len(vectors), recall_threshold, mean_sq=float(m @ m), random_cos=sample_random_cos(vectors, m)
    )


def lsh_pairs(
    vectors: np.ndarray,
    threshold: float,
    planes: Hyperplanes,
    *,
    signatures: Signatures | None = None,
    progress: Progress = NULL_PROGRESS,
    compiled: bool | None = None,
    threads: int | None = None,
) -> Pairs:
    """Pairs with cosine >= threshold that share a bucket (or a neighbouring one) in any table.
    `signatures`: planes.signatures(vectors), when the caller already has them. `compiled`:
    each table's candidates go through numba's loop (`pairloop`), else through numpy arrays;
    both keep the same pairs. None: compiled from COMPILED_FROM vectors, where it pays for
    loading numba and its cached machine code (about half a second per process). `threads`:
    how many tables (and blocks of the projection) run at once; None: the cores this process
    may use. The pairs do not depend on it."""
    n, params = len(vectors), planes.params
    if n < 2:
        return Pairs.empty()
    if compiled is None:
        compiled = n >= COMPILED_FROM
    if threads is None:
        from photofind.core.model.embed import usable_cores

        threads = usable_cores()
    threads = max(1, threads)
    sig = signatures if signatures is not None else planes.signatures(vectors, threads)
    filt = _SignatureFilter(sig, vectors, planes.mean, threshold)
    tables = _compiled_tables(sig, filt, params, threads) if compiled else _numpy_tables(sig, filt, params)
    found: list[np.ndarray] = []
    pending = 0
    confirmed: list[Pairs] = []
    try:
        for t, (table_found, giants) in enumerate(tables):
            check_cancel(progress)
            found += table_found
            pending += sum(len(c) for c in table_found)
            for members in giants:
                confirmed.append(_giant_pairs(vectors, members, threshold, planes))
            if pending > 4 * n:  # a true pair turns up in most tables: fold repeats as we go
                found, pending = [unique_sorted(np.concatenate(found))], 0
            progress.update(Phase.PAIRS, t + 1, params.tables)
    finally:
        tables.close()  # stopped: tables not started yet never start
    codes = unique_sorted(np.concatenate(found)) if found else np.zeros(0, np.int64)
    sims = pair_dots(vectors, codes // n, codes % n)
    keep = sims >= threshold
    codes, sims = codes[keep], sims[keep]
    for p in confirmed:
        codes, sims = np.concatenate([codes, p.codes(n)]), np.concatenate([sims, p.sim])
    return _from_codes(codes, sims, n)


TableResult = tuple[list[np.ndarray], list[np.ndarray]]  # one table's pair codes, its giant buckets


def _numpy_tables(sig: Signatures, filt: _SignatureFilter, params: LshParams) -> Generator[TableResult]:
    """Each table's filtered candidate codes and giant buckets, table by table, in numpy."""
    n = len(sig)
    dense = params.probe and params.bits <= _DENSE_BITS
    slot = np.full(1 << params.bits, -1, np.int32) if dense else None
    for t in range(params.tables):
        buckets = _Buckets(sig.table_keys(t), params, slot)
        codes = []
        for i, j in buckets.pairs():
            for s in range(0, len(i), _CHUNK):
                a, b = filt.keep(i[s : s + _CHUNK], j[s : s + _CHUNK])
                codes.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
        yield codes, buckets.giants


def _compiled_tables(
    sig: Signatures, filt: _SignatureFilter, params: LshParams, threads: int
) -> Generator[TableResult]:
    """The same, in table order, through numba's loop, `threads` tables at once: the loop
    releases the GIL, so the tables share the cores. Each table's codes are its own array,
    whichever thread made them, so the result does not depend on `threads`."""
    from concurrent.futures import ThreadPoolExecutor

    from photofind.core.match.pairloop import table_codes  # numba: loaded on first use

    filt.rows  # noqa: B018 - built once, before the threads share it

    def one(t: int) -> TableResult:
        codes, giants = table_codes(sig.table_keys(t), filt, params)
        return [codes], giants

    pool = ThreadPoolExecutor(max_workers=min(params.tables, threads), thread_name_prefix="lsh-table")
    try:
        yield from pool.map(one, range(params.tables))
    finally:
        pool.shutdown(cancel_futures=True)


def find_pairs(
    vectors: np.ndarray,
    threshold: float,
    *,
    planes: Hyperplanes | None = None,
    recall_threshold: float | None = None,
    exact_below: int = EXACT_BELOW,
    progress: Progress = NULL_PROGRESS,
) -> Pairs:
    """All pairs with cosine >= threshold: exact below `exact_below` vectors, else LSH with
    `planes` (default: fitted here, tuned for recall at `recall_threshold`)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(vectors) < exact_below:
        return exact_pairs(vectors, threshold, progress=progress)
    if planes is None:
        params = auto_params(vectors, recall_threshold if recall_threshold is not None else threshold)
        planes = Hyperplanes.fit(vectors, params)
    return lsh_pairs(vectors, threshold, planes, progress=progress)


@dataclass(frozen=True)
class RecallReport:
    recall: float  # found / true, 1.0 when there is nothing to find
    true_pairs: int  # pairs at or above the threshold touching a sampled row
    found: int
    sampled_rows: int


def recall_check(
    vectors: np.ndarray, pairs: Pairs, threshold: float, *, sample: int = 256, seed: int = 0
) -> RecallReport:
    """The fraction of true pairs (exact search from `sample` random rows) that `pairs` has."""
    n = len(vectors)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False))
    truth = []
    for s in range(0, len(rows), 256):
        block = rows[s : s + 256]
        sims = vectors[block] @ vectors.T
        r, c = np.nonzero(sims >= threshold)
        a, b = block[r], c
        keep = a != b
        truth.append(np.minimum(a[keep], b[keep]).astype(np.int64) * n + np.maximum(a[keep], b[keep]))
    true_codes = unique_sorted(np.concatenate(truth)) if truth else np.zeros(0, np.int64)
    hit = int(contains(pairs.codes(n), true_codes).sum())
    total = len(true_codes)
    return RecallReport(hit / total if total else 1.0, total, hit, len(rows))
