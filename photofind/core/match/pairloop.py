"""One LSH table's candidate pairs, enumerated and filtered in one compiled loop (numba).

The numpy path in `photofind.core.match.pairsearch` materialises every candidate pair as
index arrays and gathers signature words for them: about 140 ns per candidate, which at 1M
anisotropic photos (hundreds of millions of candidates over 59 tables) is most of the run.
Here each candidate is generated, tested against the same signature filter, and dropped or
kept without leaving registers; both buckets of a pair are read in sequence (see
`_table_codes`), and the loop releases the GIL so tables run on several cores. The decisions
are the numpy path's, bit for bit (same integer Hamming counts, the same float32 products and
comparisons), so both return the same pairs.

At 1M (K = 21), a table has ~11 million candidates, 4.5% of which pass the first stage and
0.2% the second. The later stages once read signature words, bound, half and radius by photo
index (cache misses); now each table first gathers what the early stages read into bucket
order (`_in_bucket_order`), only pairs still alive after four words read whole photo-major
signature rows (`_SignatureFilter.rows`), and buckets come from a counting sort (`_buckets`)
instead of numpy's sort. Together: 0.49 against 0.53 CPU s per table, interleaved. What is
left is enumeration and the first stage itself (about half each), likely bound by branches
rather than memory: variants that changed the access pattern (one pass over all bits, a dense
slot table for neighbour buckets) made no difference, and a 1x1-bucket fast path was slower.

`pairsearch.lsh_pairs` imports this module (and so numba) on first use only: `photofind --help`
and the GUI never load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from photofind.core.match.lsh import agreement_limits

_FIRST_OUT = 1 << 16  # output slots to start with; doubled when full


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True)
def _passes(p, q, hd, near, rows, members, order, stage_ends, limits, half, radius):
    """_SignatureFilter.keep's stages for candidate (p, q), which passed the first one with
    `hd` differing bits. Words of the first stages come from `near` (in bucket order, read in
    sequence); only the few pairs still alive after them read whole rows at random."""
    need = half[p] + half[q]
    rr = radius[p] * radius[q]
    done = stage_ends[0]
    for stage in range(len(stage_ends)):
        end = stage_ends[stage]
        if end <= near.shape[1]:
            for s in range(done, end):
                hd += _popcount(near[p, s] ^ near[q, s])
        else:
            x, y = members[p], members[q]
            for s in range(done, end):
                k = order[s]
                hd += _popcount(rows[x, k] ^ rows[y, k])
        done = end
        if not need <= limits[stage, hd] * rr:
            return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _emit(out, count, code):
    if count == len(out):
        out = np.concatenate((out, np.empty(len(out), np.int64)))
    out[count] = code
    return out


@njit(cache=True, nogil=True, inline="always")
def _cross(out, count, sa, ea, sb, eb, members, near, bound, rows, order, stage_ends, limits, half, radius):
    """Candidates p in [sa, ea) x q in [sb, eb) (q > p when the ranges are one bucket)."""
    n = len(members)
    head = stage_ends[0]
    same = sa == sb
    for p in range(sa, ea):
        for q in range(p + 1 if same else sb, eb):
            hd = 0
            for w in range(head):
                hd += _popcount(near[p, w] ^ near[q, w])
            if hd > max(bound[p], bound[q]):  # the first stage, inline: most candidates stop here
                continue
            if _passes(p, q, hd, near, rows, members, order, stage_ends, limits, half, radius):
                x, y = members[p], members[q]
                out = _emit(out, count, min(x, y) * n + max(x, y))
                count += 1
    return out, count


@njit(cache=True, nogil=True)
def _in_bucket_order(members, rows, cols, bound, half, radius):
    """Per bucket position p (photo members[p]): its words `cols`, bound, half and radius."""
    near = np.empty((len(members), len(cols)), np.uint64)
    b = np.empty(len(members), bound.dtype)
    h = np.empty(len(members), half.dtype)
    r = np.empty(len(members), radius.dtype)
    for p in range(len(members)):
        x = members[p]
        for c in range(len(cols)):
            near[p, c] = rows[x, cols[c]]
        b[p], h[p], r[p] = bound[x], half[x], radius[x]
    return near, b, h, r


@njit(cache=True, nogil=True)
def _table_codes(
    members,
    starts,
    sizes,
    ukeys,
    probe,
    bits,
    cap,
    rows,
    order,
    near_words,
    stage_ends,
    limits,
    bound,
    half,
    radius,
):
    """Neighbour buckets are found bit by bit with two pointers that only move forward, so
    both buckets of every candidate pair are read in sequence, not at random."""
    near, bound, half, radius = _in_bucket_order(members, rows, order[:near_words], bound, half, radius)
    out = np.empty(_FIRST_OUT, np.int64)
    count = 0
    buckets = len(starts)
    for a in range(buckets):
        if 2 <= sizes[a] <= cap:
            sa = starts[a]
            out, count = _cross(
                out, count, sa, sa + sizes[a], sa, sa + sizes[a],
                members, near, bound, rows, order, stage_ends, limits, half, radius,
            )  # fmt: skip
    for bit in range(bits if probe else 0):
        flip = np.uint32(1) << np.uint32(bit)
        b = 0
        for a in range(buckets):
            key = ukeys[a]
            if key & flip or sizes[a] > cap:
                continue
            want = key | flip  # grows with a, so b never moves back
            while b < buckets and ukeys[b] < want:
                b += 1
            if b == buckets:
                break
            if ukeys[b] != want or sizes[b] > cap:
                continue
            sa, sb = starts[a], starts[b]
            out, count = _cross(
                out, count, sa, sa + sizes[a], sb, sb + sizes[b],
                members, near, bound, rows, order, stage_ends, limits, half, radius,
            )  # fmt: skip
    return out[:count]


@njit(cache=True, nogil=True)
def _buckets(keys, bits):
    """Photos sorted by key, ties by index (two counting passes of bits/2 each: their counts
    stay in cache, unlike one pass over 2**bits), and the runs of equal keys: the same
    order, starts, sizes and keys as `pairsearch._Buckets`, three times faster at 1M."""
    n = len(keys)
    order = np.arange(n)
    spare = np.empty(n, np.int64)
    low = bits // 2
    for shift, width in ((0, low), (low, bits - low)):
        mask = np.uint32((1 << width) - 1)
        slots = np.zeros((1 << width) + 1, np.int64)
        for i in range(n):
            slots[((keys[order[i]] >> np.uint32(shift)) & mask) + 1] += 1
        for d in range(1, len(slots)):
            slots[d] += slots[d - 1]
        for i in range(n):
            x = order[i]
            d = (keys[x] >> np.uint32(shift)) & mask
            spare[slots[d]] = x
            slots[d] += 1
        order, spare = spare, order
    runs = 1 if n else 0
    for p in range(1, n):
        runs += keys[order[p]] != keys[order[p - 1]]
    starts = np.zeros(runs, np.int64)
    ukeys = np.zeros(runs, np.uint32)
    if n:
        ukeys[0] = keys[order[0]]
    b = 0
    for p in range(1, n):
        key = keys[order[p]]
        if key != ukeys[b]:
            b += 1
            starts[b] = p
            ukeys[b] = key
    sizes = np.diff(np.append(starts, n))
    return order, starts, sizes, ukeys


def table_codes(keys: np.ndarray, filt, table: int, params) -> tuple[np.ndarray, list[np.ndarray]]:
    """One table's pair codes (min * n + max) of candidates that pass the signature filter,
    what `pairsearch._Buckets.pairs` followed by `_SignatureFilter.keep` yields, and its
    giant buckets (members of each bucket above bucket_cap), as `_Buckets.giants`."""
    members, starts, sizes, ukeys = _buckets(keys, params.bits)
    giants = [members[starts[b] : starts[b] + sizes[b]] for b in np.flatnonzero(sizes > params.bucket_cap)]
    order = np.array(filt.word_order(table, params.bits), np.int64)
    head = filt.head
    bits = sum(filt.word_bits[k] for k in order[:head])
    stage_bits = []
    done = head
    for end in filt.stage_ends:
        bits += sum(filt.word_bits[k] for k in order[done:end])
        done = end
        stage_bits.append(bits)
    limits = np.zeros((len(stage_bits), filt.nbits + 1), np.float32)
    for s, b in enumerate(stage_bits):
        limits[s, : b + 1] = agreement_limits(b, filt.miss)
    head_bits = sum(filt.word_bits[k] for k in order[:head])
    codes = _table_codes(
        members,
        starts,
        sizes,
        ukeys,
        params.probe,
        params.bits,
        params.bucket_cap,
        filt.rows,
        order,
        filt.stage_ends[1] if len(filt.stage_ends) > 1 else head,
        np.array(filt.stage_ends, np.int64),
        limits,
        filt.bound(head_bits),
        filt.half,
        filt.radius,
    )
    return codes, giants
