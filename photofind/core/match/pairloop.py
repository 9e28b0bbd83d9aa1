"""One LSH table's candidate pairs, enumerated and filtered in one compiled loop (numba).

The numpy path in `photofind.core.match.pairsearch` materialises every candidate pair as
index arrays and gathers signature words for them: about 140 ns per candidate, which at 1M
anisotropic photos (hundreds of millions of candidates over dozens of tables) is most of the run.
Here each candidate is generated, tested against the same signature filter, and dropped or
kept without leaving registers, and the loop releases the GIL so tables run on several cores.
The decisions are the numpy path's, bit for bit (same integer Hamming counts, the same
float32 products and comparisons), so both return the same pairs.

At 1M (K = 21) a table has ~12 million candidates (95% from neighbouring buckets) and 0.2%
of them pass the filter's first stage, 256 bits that no table's key uses. Those bits are the
same for every table, so each table gathers them, with each photo's bound, into bucket order
once (`_in_bucket_order`: one 32-byte row a photo, read in sequence by the enumeration); the
hot loop only notes the pairs that pass, and the exact stages run on those afterwards, reading
the rest of the filter photo-major (`_SignatureFilter.rows`). Neighbour buckets are found bit by
bit with two pointers that only move forward (one pass for all bits, each with its own pointer,
was no faster). Buckets come from a counting sort (`_buckets`) instead of numpy's sort. Per 1M
table, one thread, K = 21: about 0.05 CPU s to sort, 0.05 to gather, 0.08 to walk the
neighbours, 0.13 to enumerate and test the candidates.

`pairsearch.lsh_pairs` imports this module (and so numba) on first use only: `photofind --help`
and the GUI never load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from photofind.core.match.lsh import FILTER_HEAD_WORDS


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True, inline="always")
def _head_distance(head, p, q):
    hd = 0
    for w in range(FILTER_HEAD_WORDS):
        hd += _popcount(head[p, w] ^ head[q, w])
    return hd


@njit(cache=True, nogil=True, inline="always")
def _push(found, count, p, q):
    if count == len(found):
        found = np.concatenate((found, np.empty_like(found)))
    found[count, 0] = p
    found[count, 1] = q
    return found, count + 1


@njit(cache=True, nogil=True, inline="always")
def _passes(x, y, hd, rows, half, radius, limits):
    """_SignatureFilter.keep's exact stages for photos x, y, whose head words differ in hd bits."""
    need = half[x] + half[y]
    rr = radius[x] * radius[y]
    if not need <= limits[0, hd] * rr:
        return False
    for w in range(FILTER_HEAD_WORDS, rows.shape[1]):
        hd += _popcount(rows[x, w] ^ rows[y, w])
    return need <= limits[1, hd] * rr


@njit(cache=True, nogil=True)
def _in_bucket_order(members, rows, bound):
    """Per bucket position p (photo members[p]): its head words and bound."""
    head = np.empty((len(members), FILTER_HEAD_WORDS), np.uint64)
    b = np.empty(len(members), bound.dtype)
    for p in range(len(members)):
        x = members[p]
        for w in range(FILTER_HEAD_WORDS):
            head[p, w] = rows[x, w]
        b[p] = bound[x]
    return head, b


@njit(cache=True, nogil=True)
def _table_codes(members, starts, sizes, ukeys, probe, bits, rows, bound, half, radius, limits):
    """Pair codes of one table's candidates that pass the filter. The buckets given are those
    to enumerate (none above the cap): a neighbour key that is missing here is either absent
    or a giant bucket, and both are skipped. The enumeration only applies the first stage and
    notes the positions that pass (0.3%); the rest of the filter runs on those afterwards, so
    the hot loop stays small."""
    head, near_bound = _in_bucket_order(members, rows, bound)
    found = np.empty((1 << 14, 2), np.int64)
    count = 0
    buckets = len(starts)
    for a in range(buckets):
        sa, ea = starts[a], starts[a] + sizes[a]
        for p in range(sa, ea):
            for q in range(p + 1, ea):
                if _head_distance(head, p, q) <= max(near_bound[p], near_bound[q]):
                    found, count = _push(found, count, p, q)
    for bit in range(bits if probe else 0):
        flip = np.uint32(1) << np.uint32(bit)
        b = 0
        for a in range(buckets):
            key = ukeys[a]
            if key & flip:
                continue
            want = key | flip  # grows with a, so b never moves back
            while b < buckets and ukeys[b] < want:
                b += 1
            if b == buckets:
                break
            if ukeys[b] != want:
                continue
            sa, sb = starts[a], starts[b]
            if sizes[a] == 1 and sizes[b] == 1:  # the common case: two lone photos
                if _head_distance(head, sa, sb) <= max(near_bound[sa], near_bound[sb]):
                    found, count = _push(found, count, sa, sb)
                continue
            for p in range(sa, sa + sizes[a]):
                for q in range(sb, sb + sizes[b]):
                    if _head_distance(head, p, q) <= max(near_bound[p], near_bound[q]):
                        found, count = _push(found, count, p, q)
    n = len(members)
    codes = np.empty(count, np.int64)
    kept = 0
    for k in range(count):
        p, q = found[k, 0], found[k, 1]
        x, y = members[p], members[q]
        if _passes(x, y, _head_distance(head, p, q), rows, half, radius, limits):
            codes[kept] = min(x, y) * n + max(x, y)
            kept += 1
    return codes[:kept]


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


def table_codes(keys: np.ndarray, filt, params) -> tuple[np.ndarray, list[np.ndarray]]:
    """One table's pair codes (min * n + max) of candidates that pass the signature filter,
    what `pairsearch._Buckets.pairs` followed by `_SignatureFilter.keep` yields, and its
    giant buckets (members of each bucket above bucket_cap), as `_Buckets.giants`."""
    members, starts, sizes, ukeys = _buckets(keys, params.bits)
    big = sizes > params.bucket_cap
    giants = [members[starts[b] : starts[b] + sizes[b]] for b in np.flatnonzero(big)]
    small = ~big
    codes = _table_codes(
        members,
        starts[small],
        sizes[small],
        ukeys[small],
        params.probe,
        params.bits,
        filt.rows,
        filt.bound,
        filt.half,
        filt.radius,
        filt.limits,
    )
    return codes, giants
