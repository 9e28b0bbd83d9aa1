"""Sign bits of many vectors against seeded Hadamard rotations, by the fast Walsh-Hadamard
transform (numba), instead of one dense product with the planes.

A rotation is H D3 H D2 H D1 (H the Walsh-Hadamard matrix of size 2^k, Di random +-1
diagonals, `lsh.rotation_signs`): three rounds make it behave as a random rotation for
hashing (Andoni et al. 2015, "Practical and optimal LSH for angular distance"), and each of
its rows is one plane. Applying it costs 3 k 2^k additions per vector instead of 4^k
multiply-adds: at 1M 512-d vectors and 2,048 planes about 3 CPU s, where BLAS's product
took about 15 for 1,239 dense planes.

Vectors go through in blocks of LANES, transposed so the innermost loop runs over the block's
vectors (64 floats, vectorised by LLVM); every vector's arithmetic is the same whichever
block or thread it falls in, so the bits do not depend on the thread count. The dense planes
(`lsh.rotation_planes`) give the same bits up to float rounding at a plane's edge.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

LANES = 64  # vectors per block: long enough for LLVM to vectorise the butterflies
_CHUNK_ROWS = 1 << 15  # rows per task when several threads share the work


@njit(cache=True, nogil=True)
def _fwht(y, size):
    """In-place unnormalised Walsh-Hadamard transform of each lane of y ((size, LANES) flat).
    Two stages at a time (radix 4: the same sums as radix 2, in the same order, with half the
    passes over the block: 1.6x faster). Indices are unsigned so numba adds no negative-index
    wraparound, which kept LLVM from vectorising the lane loop."""
    h = 1
    while 4 * h <= size:
        for i in range(0, size, 4 * h):
            for j in range(i, i + h):
                p0, p1, p2, p3 = j * LANES, (j + h) * LANES, (j + 2 * h) * LANES, (j + 3 * h) * LANES
                for c in range(LANES):
                    s0, s1 = np.uint64(p0 + c), np.uint64(p1 + c)
                    s2, s3 = np.uint64(p2 + c), np.uint64(p3 + c)
                    a, b, e, f = y[s0], y[s1], y[s2], y[s3]
                    ab, amb, ef, emf = a + b, a - b, e + f, e - f
                    y[s0] = ab + ef
                    y[s1] = amb + emf
                    y[s2] = ab - ef
                    y[s3] = amb - emf
        h *= 4
    if h < size:  # an odd number of stages: one radix-2 stage is left
        for j in range(h):
            for c in range(LANES):
                s, t = np.uint64(j * LANES + c), np.uint64((j + h) * LANES + c)
                a, b = y[s], y[t]
                y[s] = a + b
                y[t] = a - b


@njit(cache=True, nogil=True)
def _rotate(xt, signs, r, y):
    """y = rotation r of the block xt ((size, LANES) flat, zero padded)."""
    rounds, size = signs.shape[1], signs.shape[2]
    for j in range(size):
        d = signs[r, 0, j]
        for c in range(LANES):
            k = np.uint64(j * LANES + c)
            y[k] = xt[k] * d
    _fwht(y, size)
    for rnd in range(1, rounds):
        for j in range(size):
            d = signs[r, rnd, j]
            for c in range(LANES):
                k = np.uint64(j * LANES + c)
                y[k] *= d
        _fwht(y, size)


@njit(cache=True, nogil=True)
def _load(x, s, m, size, xt):
    """Rows s..s+m of x, transposed into xt ((size, LANES) flat); missing rows and columns 0."""
    xt[:] = 0.0
    for c in range(m):
        for j in range(x.shape[1]):
            xt[j * LANES + c] = x[s + c, j]


@njit(cache=True, nogil=True)
def _project(x, signs, nplanes):
    """(len(x), nplanes) float32: each row's value on each plane, unnormalised (the scale of
    H D3 H D2 H D1, as `_signature_words` compares them)."""
    size = signs.shape[2]
    out = np.empty((len(x), nplanes), np.float32)
    xt = np.empty(size * LANES, np.float32)
    y = np.empty(size * LANES, np.float32)
    for s in range(0, len(x), LANES):
        m = min(LANES, len(x) - s)
        _load(x, s, m, size, xt)
        for r in range(signs.shape[0]):
            _rotate(xt, signs, r, y)
            for j in range(size):
                g = r * size + j
                if g < nplanes:
                    for c in range(m):
                        out[s + c, g] = y[j * LANES + c]
    return out


@njit(cache=True, nogil=True)
def _signature_words(x, start, stop, signs, offset, words):
    """Bits of rows start..stop into words ((W, n) big-endian: plane g is bit 63 - g % 64 of
    word g // 64): plane g's bit is set where the row's value exceeds offset[g]."""
    count, size = signs.shape[0], signs.shape[2]
    nplanes = len(offset)
    xt = np.empty(size * LANES, np.float32)
    y = np.empty(count * size * LANES, np.float32)  # every rotation of the block: plane g at g * LANES
    acc = np.empty(LANES, np.uint64)
    for s in range(start, stop, LANES):
        m = min(LANES, stop - s)
        _load(x, s, m, size, xt)
        for r in range(count):
            _rotate(xt, signs, r, y[r * size * LANES : (r + 1) * size * LANES])
        for w in range(words.shape[0]):
            acc[:] = 0
            for g in range(64 * w, 64 * w + 64):
                if g < nplanes:
                    off = offset[g]
                    for c in range(LANES):
                        bit = np.uint64(y[np.uint64(g * LANES + c)] > off)
                        acc[c] = (acc[c] << np.uint64(1)) | bit
                else:
                    for c in range(LANES):
                        acc[c] = acc[c] << np.uint64(1)
            for c in range(m):
                words[w, s + c] = acc[c]


def project(x: np.ndarray, signs: np.ndarray, nplanes: int) -> np.ndarray:
    """(n, nplanes) values of the rows of x on the rotations' planes (unnormalised)."""
    return _project(np.ascontiguousarray(x, np.float32), signs, nplanes)


def signature_words(x: np.ndarray, signs: np.ndarray, offset: np.ndarray, threads: int = 1) -> np.ndarray:
    """(ceil(P / 64), n) uint64: bit g of row i set where its value on plane g exceeds
    offset[g] (P = len(offset)), as `lsh.Signatures` lays them out; `threads` share the rows."""
    x = np.ascontiguousarray(x, np.float32)
    n = len(x)
    words = np.zeros((-(-len(offset) // 64), n), np.uint64)
    offset = np.ascontiguousarray(offset, np.float32)
    if threads <= 1 or n <= _CHUNK_ROWS:
        _signature_words(x, 0, n, signs, offset, words)
        return words
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lsh-rotate") as pool:
        tasks = [
            pool.submit(_signature_words, x, s, min(n, s + _CHUNK_ROWS), signs, offset, words)
            for s in range(0, n, _CHUNK_ROWS)
        ]
        for task in tasks:
            task.result()
    return words
