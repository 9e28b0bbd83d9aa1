"""One LSH table's candidate pairs, enumerated and filtered in one compiled loop (numba).

The numpy path in `photofind.core.match.pairsearch` materialises every candidate pair as
index arrays and gathers signature words for them: about 140 ns per candidate, which at 1M
anisotropic photos (hundreds of millions of candidates over 59 tables) is most of the run.
Here each candidate is generated, tested against the same signature filter, and dropped or
kept in registers: a few ns. The decisions are the numpy path's, bit for bit (same integer
Hamming counts, the same float32 products and comparisons), so both return the same pairs.

`pairsearch.lsh_pairs` imports this module (and so numba) on first use only: `photofind --help`
and the GUI never load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from photofind.core.match.pairsearch import agreement_limits

_FIRST_OUT = 1 << 16  # output slots to start with; doubled when full


@njit(cache=True, nogil=True, inline="always")
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return np.int64((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@njit(cache=True, nogil=True)
def _keep(a, b, hd, words, order, head, stage_ends, limits, half, radius):
    """_SignatureFilter.keep for a pair that passed the first stage with `hd` differing bits."""
    need = half[a] + half[b]
    rr = radius[a] * radius[b]
    done = head
    for stage in range(len(stage_ends)):
        for s in range(done, stage_ends[stage]):
            k = order[s]
            hd += _popcount(words[k, a] ^ words[k, b])
        done = stage_ends[stage]
        if not need <= limits[stage, hd] * rr:
            return False
    return True


@njit(cache=True, nogil=True)
def _table_codes(
    members,
    starts,
    sizes,
    ukeys,
    slot,
    probe,
    bits,
    cap,
    heads,
    bound,
    words,
    order,
    stage_ends,
    limits,
    half,
    radius,
):
    """`heads` and `bound` are in bucket order (row p is photo members[p]), so the first
    stage, where almost every candidate stops, reads memory mostly in sequence."""
    n = len(members)
    head = len(heads)
    out = np.empty(_FIRST_OUT, np.int64)
    count = 0
    for a in range(len(starts)):
        size_a = sizes[a]
        if size_a > cap:
            continue
        sa = starts[a]
        for bit in range(-1, bits if probe else 0):  # -1: inside bucket a; else one bit away
            if bit < 0:
                nb = a
            else:
                key = ukeys[a] ^ (np.uint32(1) << np.uint32(bit))
                if len(slot):
                    nb = slot[key]
                else:
                    nb = np.searchsorted(ukeys, key)
                    if nb >= len(ukeys) or ukeys[nb] != key:
                        continue
                if nb <= a or sizes[nb] > cap:
                    continue
            sb = starts[nb]
            for p in range(sa, sa + size_a):
                for q in range(p + 1 if bit < 0 else sb, sb + sizes[nb]):
                    hd = 0
                    for w in range(head):
                        hd += _popcount(heads[w, p] ^ heads[w, q])
                    if hd > max(bound[p], bound[q]):
                        continue
                    x, y = members[p], members[q]
                    if _keep(x, y, hd, words, order, head, stage_ends, limits, half, radius):
                        if count == len(out):
                            out = np.concatenate((out, np.empty(len(out), np.int64)))
                        out[count] = min(x, y) * n + max(x, y)
                        count += 1
    return out[:count]


def table_codes(buckets, filt, table: int) -> np.ndarray:
    """Pair codes (min * n + max) of one table's candidates that pass the signature filter:
    what `pairsearch._Buckets.pairs` followed by `_SignatureFilter.keep` yields."""
    params = buckets.params
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
    dense = params.probe and buckets.slot is not None  # else neighbours by binary search
    slot = buckets.slot if dense else np.zeros(0, np.int32)
    if dense:
        slot[buckets.ukeys] = np.arange(len(buckets.ukeys), dtype=np.int32)
    try:
        return _table_codes(
            buckets.order,
            buckets.starts,
            buckets.sizes,
            buckets.ukeys,
            slot,
            params.probe,
            params.bits,
            params.bucket_cap,
            np.stack([filt.words[k][buckets.order] for k in order[:head]]),
            filt.bound(sum(filt.word_bits[k] for k in order[:head]))[buckets.order],
            filt.words,
            order,
            np.array(filt.stage_ends, np.int64),
            limits,
            filt.half,
            filt.radius,
        )
    finally:
        if dense:
            slot[buckets.ukeys] = -1
