"""Find where one photo sits inside another: the crop/letterbox check behind the near tier.

A crop, a straightened or letterboxed copy is the same photo only if its whole field of view
lies inside the other's. Two frames of a burst overlap just as much, but each sees something
the other does not. So the search is limited to regions inside the bigger picture, and the
verdict uses fine detail, where a shift of a few percent is many pixels.

Images are grayscale squares with the aspect squashed away (as the scan's thumbnails are),
so a region has independent x and y extents. A coarse exhaustive search on 32x32 uses
closed-form correlations for every (y-extent, x-extent) pair at once; the best few are then
refined on the detail images by a small pattern search.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

COARSE = 32
MIN_EXTENT = 0.5  # smallest crop side we look for (letterbox bars are cut off before this)
COARSE_STEP = 2  # coarse pixels between the spans tried exhaustively
MID_GATE = 0.4  # detail correlation at half resolution below which the full one is not tried
COARSE_SHAPE_SLACK = 0.2  # log-ratio slack of a coarse span's shape: the grid is 2 of 32 pixels


@dataclass(frozen=True)
class Fit:
    """`inner` (index 0 or 1) fills region (x0, y0, x1, y1) of the other image."""

    inner: int
    region: tuple[float, float, float, float]
    score: float  # correlation of fine detail in the region, -1..1

    @property
    def area(self) -> float:
        x0, y0, x1, y1 = self.region
        return (x1 - x0) * (y1 - y0)


def resample_matrix(n_out: int, n_in: int, start: float, stop: float) -> np.ndarray:
    """(n_out, n_in) linear interpolation that samples input span [start, stop) (0..1)."""
    pos = (start + (np.arange(n_out) + 0.5) / n_out * (stop - start)) * n_in - 0.5
    pos = np.clip(pos, 0.0, n_in - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = (pos - lo).astype(np.float32)
    m = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    np.add.at(m, (rows, lo), 1.0 - frac)
    np.add.at(m, (rows, hi), frac)
    return m


@dataclass(frozen=True)
class _Grid:
    spans: np.ndarray  # (h, 2) start, stop along one axis
    mats: np.ndarray  # (h, n, n) resampling matrix of each span
    sums: np.ndarray  # (h, n) column sums: a region's mean in closed form
    grams: np.ndarray  # (h, 2n-1) W^T W's diagonal, then twice its first off-diagonal: a region's energy


@lru_cache(maxsize=2)
def _extents(n: int = COARSE) -> _Grid:
    """Spans on a grid of COARSE_STEP coarse pixels with size >= MIN_EXTENT. The grid is
    coarse on purpose (45 spans per axis, so 2,025 regions): the pattern search that follows
    corrects the last pixels, and the closed-form scores cost O(spans^2)."""
    spans = []
    lowest = int(np.ceil(MIN_EXTENT * n))
    for size_px in range(n, lowest - 1, -COARSE_STEP):
        for start_px in range(0, n - size_px + 1, COARSE_STEP):
            spans.append((start_px / n, (start_px + size_px) / n))
    mats = np.stack([resample_matrix(n, n, a, b) for a, b in spans])
    # Two taps per output pixel make W^T W tridiagonal and symmetric: three diagonals are all of it.
    grams = np.transpose(mats, (0, 2, 1)) @ mats
    grams = np.concatenate([np.diagonal(grams, 0, 1, 2), 2 * np.diagonal(grams, 1, 1, 2)], axis=1)
    return _Grid(np.array(spans, np.float32), mats, mats.sum(axis=1), grams)


def coarse_scores(
    outer: np.ndarray, inner: np.ndarray, stats: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Correlation of `inner` with every region of `outer` (both n x n): (h_y, h_x).
    `stats`: `region_stats(outer)`, when the caller keeps it per photo (most of the work).

    The stacked n x n products go through matmul (one small BLAS call each, never threaded);
    the two (h, n*n) x (n*n, h) products stay in einsum on purpose: a multi-threaded BLAS
    call per product spends far more on thread hand-offs than on arithmetic when the cores
    are busy (measured: 7 ms single-threaded, 270 ms with BLAS threads on a loaded 2-core
    machine)."""
    grid = _extents(outer.shape[0])
    w = grid.mats
    h = len(w)
    n2 = float(inner.size)
    x = outer.astype(np.float32)
    y = inner.astype(np.float32)
    u = np.matmul(w, x)  # rows resampled, per y-extent
    v = np.matmul(y[None], w)  # per x-extent: <W_y X W_x^T, Y> = <W_y X, Y W_x>
    cross = _einsum("hq,gq->hg", u.reshape(h, -1), v.reshape(h, -1))
    mean, var = stats if stats is not None else _region_stats(x, u)
    ny = float(np.linalg.norm(y - y.mean()))
    return (cross - n2 * mean * float(y.mean())) / np.sqrt(var) / max(ny, 1e-6)


def region_stats(outer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the centred energy of every coarse region of `outer`, in closed form:
    the part of coarse_scores that does not depend on the inner image, kept per photo
    (Prepared.regions) because it costs more than the rest."""
    x = outer.astype(np.float32)
    return _region_stats(x, np.matmul(_extents(outer.shape[0]).mats, x))


def _region_stats(x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grid = _extents(x.shape[0])
    n2 = float(x.size)
    mean = _einsum("hc,gc->hg", _einsum("hr,rc->hc", grid.sums, x), grid.sums) / n2
    # ||W_y X W_x^T||^2 = <U^T U, W_x^T W_x>, over the tridiagonal band of W_x^T W_x only
    band = np.concatenate(
        [_einsum("hrc,hrc->hc", u, u), _einsum("hrc,hrc->hc", u[:, :, :-1], u[:, :, 1:])], axis=1
    )
    sq = _einsum("hq,gq->hg", band, grid.grams)
    return mean, np.maximum(sq - n2 * mean**2, 1e-6)


def _einsum(spec: str, *operands: np.ndarray) -> np.ndarray:
    """numpy's own loops, never BLAS threads (see coarse_scores)."""
    return np.einsum(spec, *operands, optimize=False)


BLUR_REACH = 6.0  # in sigmas: weights beyond are under 2e-8 of the centre's, below float32's precision


@lru_cache(maxsize=4)
def _blur_band(n: int, sigma: float) -> np.ndarray:
    """Gaussian weights of each pixel's neighbours along one axis, normalised over those
    inside the image: (n, 2r+1), row i weighing pixels i-r..i+r (0 off the image)."""
    r = int(np.ceil(BLUR_REACH * sigma))
    offsets = np.arange(-r, r + 1)
    inside = (np.arange(n)[:, None] + offsets[None, :] >= 0) & (np.arange(n)[:, None] + offsets[None, :] < n)
    k = np.where(inside, np.exp(-0.5 * (offsets / sigma) ** 2)[None, :], 0.0)
    return (k / k.sum(axis=1, keepdims=True)).astype(np.float32)


def detail(z: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """High-pass: the image minus its blur. Smooth gradients (skies, walls) correlate with
    anything; edges and texture only with the same photo, correctly aligned. The blur weighs
    only the neighbours within BLUR_REACH sigmas (a band, not an n x n matrix product: a
    fifth of the work at 128 pixels, where it was a sixth of a rejected pair check)."""
    n = z.shape[0]
    band = _blur_band(n, sigma)
    r = band.shape[1] // 2
    padded = np.zeros((n + 2 * r, n), np.float32)  # not np.pad: its checks cost more than the copy
    padded[r : r + n] = z
    rows = _einsum("ik,ijk->ij", band, sliding_window_view(padded, 2 * r + 1, axis=0))
    padded = np.zeros((n, n + 2 * r), np.float32)
    padded[:, r : r + n] = rows
    return z - _einsum("jk,ijk->ij", band, sliding_window_view(padded, 2 * r + 1, axis=1))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a.ravel()
    b = b.ravel()
    a = a - a.mean()
    b = b - b.mean()
    d = float(np.sqrt(float(_einsum("i,i->", a, a)) * float(_einsum("i,i->", b, b))))
    return float(_einsum("i,i->", a, b)) / d if d > 1e-6 else 0.0


@lru_cache(maxsize=8192)
def _taps(n: int, start: float, stop: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-tap linear interpolation indices and weights sampling span [start, stop)."""
    pos = (start + (np.arange(n) + 0.5) / n * (stop - start)) * n - 0.5
    pos = np.clip(pos, 0.0, n - 1.0)
    lo = np.floor(pos).astype(np.int64)
    return lo, np.minimum(lo + 1, n - 1), (pos - lo).astype(np.float32)


def _rows(z: np.ndarray, y0: float, y1: float) -> np.ndarray:
    lo, hi, f = _taps(z.shape[0], y0, y1)
    out = np.take(z, lo, axis=0)  # in place, as _cols
    out *= (1.0 - f)[:, None]
    below = np.take(z, hi, axis=0)
    below *= f[:, None]
    out += below
    return out


def _cols(rows: np.ndarray, x0: float, x1: float) -> np.ndarray:
    lo, hi, f = _taps(rows.shape[0], x0, x1)
    out = np.take(rows, lo, axis=1)  # in place from here: a pattern search calls this most
    out *= 1.0 - f
    right = np.take(rows, hi, axis=1)
    right *= f
    out += right
    return out


def sample_region(z: np.ndarray, region) -> np.ndarray:
    """Region (x0, y0, x1, y1) of square `z` resampled to z's size: the same numbers as the
    resampling matrices, by gathering two taps per pixel instead of two matrix products."""
    x0, y0, x1, y1 = region
    return _cols(_rows(z, y0, y1), x0, x1)


def region_score(outer_detail: np.ndarray, inner_detail: np.ndarray, region) -> float:
    """Detail correlation of `inner` with the region of `outer`. Resampling the outer's
    detail (instead of taking the detail of the resampled region) is exact for a shift and
    close enough for the mild zooms a crop search explores, at half the cost."""
    return _corr(sample_region(outer_detail, region), inner_detail)


@dataclass(frozen=True)
class Prepared:
    """One image at the three levels the search uses, computed once per image."""

    coarse: np.ndarray  # COARSE x COARSE raw gray
    mid: np.ndarray  # detail at half resolution
    fine: np.ndarray  # detail at full resolution

    @cached_property
    def regions(self) -> tuple[np.ndarray, np.ndarray]:
        """region_stats of the coarse image: this photo as the outer of a containment search."""
        return region_stats(self.coarse)


def prepare(gray: np.ndarray) -> Prepared:
    z = np.asarray(gray, dtype=np.float32)
    n = z.shape[0]
    return Prepared(downsample(z, COARSE), detail(downsample(z, max(COARSE, n // 2))), detail(z))


class _Scorer:
    """Detail correlation of a fixed inner image with regions of a fixed outer one. The
    inner is normalised once, row resampling is shared by regions with the same vertical
    span (half of a pattern search's moves change only x), and each region is scored once
    (a pattern search steps back onto regions it has seen: a quarter of its calls)."""

    def __init__(self, outer_d: np.ndarray, inner_d: np.ndarray) -> None:
        self.outer = outer_d
        c = inner_d.ravel() - inner_d.mean()
        self.inner = c / max(float(np.sqrt(c @ c)), 1e-6)
        self.size = float(c.size)
        self._rows: dict[tuple[float, float], np.ndarray] = {}
        self._scores: dict[tuple, float] = {}

    def __call__(self, region: tuple) -> float:
        score = self._scores.get(region)
        if score is None:
            score = self._scores[region] = self._score(region)
        return score

    def _score(self, region: tuple) -> float:
        x0, y0, x1, y1 = region
        rows = self._rows.get((y0, y1))
        if rows is None:
            rows = self._rows[(y0, y1)] = _rows(self.outer, y0, y1)
        r = _cols(rows, x0, x1).ravel()
        total = float(r.sum())
        energy = float(_einsum("i,i->", r, r)) - total * total / self.size
        return float(_einsum("i,i->", r, self.inner)) / float(np.sqrt(energy)) if energy > 1e-6 else 0.0


_EDGE_MOVES = ((1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 0.0, 1.0))


def _moves(ratio: float | None) -> tuple[tuple[float, float, float, float], ...]:
    """Region moves per unit step: each edge alone, or (with `ratio`, the region's width over
    its height in the outer's unit square) shifts and a zoom that keep that shape."""
    if ratio is None:
        return _EDGE_MOVES
    return ((1.0, 0.0, 1.0, 0.0), (0.0, 1.0, 0.0, 1.0), (-ratio / 2, -0.5, ratio / 2, 0.5))


def _with_ratio(region, ratio: float) -> tuple[float, float, float, float]:
    """`region` reshaped about its centre to width / height == ratio (same height, or the
    largest that fits), kept inside the unit square."""
    x0, y0, x1, y1 = region
    h = min(y1 - y0, 1.0, 1.0 / ratio)
    w = h * ratio
    cx = min(max((x0 + x1) / 2, w / 2), 1 - w / 2)
    cy = min(max((y0 + y1) / 2, h / 2), 1 - h / 2)
    return (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def refine(
    outer_d: np.ndarray, inner_d: np.ndarray, region, steps=(2.0, 1.0, 0.5), ratio: float | None = None
) -> tuple[tuple, float]:
    """Pattern search over the region (of detail images), inside the outer image; with
    `ratio`, only over regions of that shape."""
    n = outer_d.shape[0]
    score = _Scorer(outer_d, inner_d)
    best = tuple(float(v) for v in (region if ratio is None else _with_ratio(region, ratio)))
    best_score = score(best)
    moves = _moves(ratio)
    for step_px in steps:
        step = step_px / n
        improved = True
        while improved:
            improved = False
            for move in moves:
                for sign in (-1.0, 1.0):
                    cand = [v + sign * step * m for v, m in zip(best, move)]
                    x0, y0, x1, y1 = cand
                    if min(x0, y0) < -1e-6 or max(x1, y1) > 1 + 1e-6:
                        continue
                    if x1 - x0 < MIN_EXTENT * 0.9 or y1 - y0 < MIN_EXTENT * 0.9:
                        continue
                    s = score(tuple(cand))
                    if s > best_score + 1e-4:
                        best, best_score, improved = tuple(cand), s, True
    return best, best_score


def downsample(z: np.ndarray, n: int) -> np.ndarray:
    f = z.shape[0] // n
    return z if f == 1 else z.reshape(n, f, n, f).mean(axis=(1, 3))


def grid_stability(coarse: np.ndarray) -> float:
    """Correlation of a 32x32 image with itself moved one pixel diagonally: the most the
    coarse grid (COARSE_STEP) can be off. About 0.9 for a photo; a stochastic texture
    (gravel, grass, microscopy) has detail at the pixel scale and drops to 0.2-0.5, so a
    correct region scores that much lower on the coarse screen."""
    z = np.asarray(coarse, np.float32)
    return max(_corr(z[1:, 1:], z[:-1, :-1]), 0.0)


def _peaks(scores: np.ndarray, top: int, gate: float) -> list[tuple[int, int]]:
    """The `top` best coarse regions at or above `gate` (NaN: a region ruled out)."""
    scores = np.nan_to_num(scores, nan=-np.inf)
    flat = scores.ravel()
    best = np.argpartition(flat, -top)[-top:] if top < flat.size else np.arange(flat.size)
    flat = best[np.argsort(flat[best])[::-1]]  # only the few best are sorted
    return [
        (int(iy), int(ix)) for iy, ix in zip(*np.unravel_index(flat, scores.shape)) if scores[iy, ix] >= gate
    ]


def find_containment(
    a: Prepared,
    b: Prepared,
    *,
    top: int = 3,
    gate: float = -1.0,
    enough: float = np.inf,
    aspects: tuple[float, float] | None = None,
) -> Fit:
    """Best region of one image that the other fills, in either direction. Coarse peaks under
    `gate` are not refined (a direction without any reports -1). The peaks of both directions
    are refined best first, and the search stops at the first fit scoring `enough`: a caller
    that only needs "is it at least this good" skips the rest (most true pairs stop at one).

    `aspects` (width / height of a's and b's pictures) limits the search to regions of the
    inner picture's own shape: a crop keeps the proportions of what it shows, and a region
    stretched to fit is how two shifted frames of one scene would pass for a crop."""
    best = Fit(0, (0.0, 0.0, 1.0, 1.0), -1.0)
    spans = _extents(COARSE).spans
    widths = spans[:, 1] - spans[:, 0]
    peaks = []
    for inner_idx, (outer, inner) in enumerate(((b, a), (a, b))):
        ratio = None if aspects is None else aspects[inner_idx] / aspects[1 - inner_idx]
        scores = coarse_scores(outer.coarse, inner.coarse, outer.regions)
        if ratio is not None:  # coarse spans of about the right shape only
            shape = np.log(widths[None, :] / widths[:, None] / ratio)
            scores = np.where(np.abs(shape) <= COARSE_SHAPE_SLACK, scores, np.nan)
        peaks += [(float(scores[iy, ix]), inner_idx, iy, ix, ratio) for iy, ix in _peaks(scores, top, gate)]
    for _, inner_idx, iy, ix, ratio in sorted(peaks, key=lambda p: -p[0]):
        outer, inner = (b, a) if inner_idx == 0 else (a, b)
        (y0, y1), (x0, x1) = spans[iy], spans[ix]
        # Coarse-to-fine: most of the walk happens at half resolution, where it is cheaper.
        region, mid_score = refine(outer.mid, inner.mid, (x0, y0, x1, y1), (2.0, 1.0), ratio)
        if mid_score < MID_GATE:  # far from any verdict of "same": not worth full detail
            best = max(best, Fit(inner_idx, region, mid_score), key=lambda f: f.score)
            continue
        region, score = refine(outer.fine, inner.fine, region, (1.0, 0.5), ratio)
        if score > best.score:
            best = Fit(inner_idx, region, score)
        if best.score >= enough:
            break
    return best
