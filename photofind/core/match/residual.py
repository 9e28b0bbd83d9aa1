"""Where two aligned pictures disagree: a copy, or another moment of the same scene?

A copy's residual (what is left after alignment) is spread over the whole picture
(resampling, compression, noise, a global tone change) or confined to something added in one
place (a watermark, a caption, a logo). Two frames of a video or a burst disagree in a
structured, local way: a subject that moved, or near things that shifted against far ones
when the camera moved (parallax). Both can leave the overall correlation as high as a
copy's, so the check looks at blocks: where the blocks disagree, is the content of one
found again, displaced, in the other? A moved subject or a parallax shift is; an overlay
is not (it exists in one picture only), and neither is noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from photofind.core.match import align

BLOCK = 16  # pixels of a 128x128 detail image per block side: an 8x8 grid
BAD_CORR = 0.4  # a textured block whose correlation is below this disagrees
GOOD_CORR = 0.7  # ... and one above this agrees
LEAN = 0.7  # log energy ratio of a block where one picture has content the other lacks
TEXTURED = 0.5  # a block is judged if its detail energy reaches this share of the median
SEARCH = 32  # pixels a moved block is looked for in each direction
MOVED_CORR = 0.65  # correlation of a displaced match that counts as found
MOVED_MIN_SHIFT = 3  # pixels: closer matches are alignment error, not motion
UNIQUE = 0.15  # a displaced match must beat any other this much to be the block's new place
AGREE = 2.5  # pixels: two displaced blocks moved together if their shifts differ by less
SPREAD = 0.4  # disagreeing on more than this share of textured blocks: a global change
EDGE_TOUCH = 0.015  # a region side this close to the outer's border (2 of 128 pixels) meets it


@dataclass(frozen=True)
class Change:
    """`moved`: blocks found displaced (another moment). `added`: 0 if the inner picture
    carries local content the outer lacks, 1 for the reverse, -1 for none or unclear."""

    moved: bool
    added: int
    disagreeing: float  # share of textured blocks that disagree
    displaced: int = 0  # disagreeing blocks found displaced (both ways counted)


def local_change(outer_fine: np.ndarray, inner_fine: np.ndarray, region) -> Change:
    """Compare `inner_fine` with `region` of `outer_fine` (detail images, see align.prepare)."""
    a = np.asarray(inner_fine, np.float32)
    b = align.sample_region(np.asarray(outer_fine, np.float32), region).astype(np.float32)
    n = a.shape[0]
    g = n // BLOCK
    ab = _blocks(a, g)
    bb = _blocks(b, g)
    ab = ab - ab.mean(axis=(2, 3), keepdims=True)
    bb = bb - bb.mean(axis=(2, 3), keepdims=True)
    ea, eb = (ab**2).sum(axis=(2, 3)), (bb**2).sum(axis=(2, 3))
    corr = (ab * bb).sum(axis=(2, 3)) / np.sqrt(np.maximum(ea * eb, 1e-6))
    energy = np.maximum(ea, eb)
    textured = energy >= TEXTURED * max(float(np.median(energy)), 1e-6)
    bad = textured & (corr < BAD_CORR)
    share = float(bad.sum()) / max(int(textured.sum()), 1)
    if not bad.any():
        return Change(False, -1, 0.0)
    # Edge blocks suffer most from a slightly wrong crop or bar cut: content cut off there
    # is missing from one picture, so they are left out of the lean test below. They are
    # searched for displaced content like the rest unless a pixel or two of misregistration
    # explains them (most do, and the search is the check's dearest step): a subject moving
    # along the picture's edge (a car at the bottom of a street, a bird crossing the top)
    # moves further.
    inside = np.zeros_like(bad)
    inside[1:-1, 1:-1] = True
    # Motion is local: next to a moved subject the background still agrees in place. Where
    # a whole area disagrees (a slightly wrong alignment, heavy compression), it does not.
    good = np.pad(textured & (corr >= GOOD_CORR), 1)
    beside = np.zeros_like(bad)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            beside |= good[1 + dy : 1 + dy + g, 1 + dx : 1 + dx + g]
    shifts = []  # (block number, shift from the inner picture to the outer)
    edge = [
        (iy, ix) for iy, ix in zip(*np.nonzero(bad & beside & ~inside)) if not _misregistered(a, b, iy, ix)
    ]
    for n, (iy, ix) in enumerate([*zip(*np.nonzero(bad & inside & beside)), *edge]):
        forward, backward = _displacement(a, b, iy, ix), _displacement(b, a, iy, ix)
        shifts += [(n, s) for s in (forward, None if backward is None else -backward) if s is not None]
    # Content that appears in one picture at one place and in the other at another: a
    # subject that left one spot and arrived at the next. An overlay adds to one side only.
    # No agreeing neighbour is asked for here: a subject moving across a flat sky (the sun,
    # a bird) has none, and a misalignment shifts content without emptying a block.
    lean = np.log((ea[bad & inside] + 1e-6) / (eb[bad & inside] + 1e-6))
    both_ways = bool((lean > LEAN).any() and (lean < -LEAN).any())
    moved = both_ways or _moved_together(shifts) or _sees_past(region, corr, textured, ea, eb)
    if moved and share <= SPREAD:
        return Change(True, -1, share, len(shifts))
    return Change(False, _adder(ea[bad], eb[bad]) if share <= SPREAD else -1, share, len(shifts))


def _moved_together(shifts: list[tuple[int, np.ndarray]]) -> bool:
    """Two blocks displaced alike: a subject that moved, or a near thing shifted by
    parallax. Chance matches of texture or noise point every which way."""
    for i, (block_i, shift_i) in enumerate(shifts):
        for block_j, shift_j in shifts[i + 1 :]:
            if block_i != block_j and float(np.abs(shift_i - shift_j).max()) < AGREE:
                return True
    return False


def _sees_past(region, corr: np.ndarray, textured: np.ndarray, ea: np.ndarray, eb: np.ndarray) -> bool:
    """The inner picture shows what lies beyond the outer's border: a neighbouring view (a
    pan between two frames), not a crop. The search keeps regions inside the outer, so a
    shift of a pixel or two is fitted by a region stretched to the border; the frames then
    agree on the far side and disagree along the side at the border, where the inner sees
    new content. A crop that reaches the border agrees there, and a caption or logo along
    an edge is content added to one picture (its blocks lean, see LEAN)."""
    x0, y0, x1, y1 = region
    g = corr.shape[0]
    sides = (  # (meets the border, the line of blocks along it, the opposite line)
        (x0 <= EDGE_TOUCH, np.s_[:, 0], np.s_[:, g - 1]),
        (x1 >= 1 - EDGE_TOUCH, np.s_[:, g - 1], np.s_[:, 0]),
        (y0 <= EDGE_TOUCH, np.s_[0, :], np.s_[g - 1, :]),
        (y1 >= 1 - EDGE_TOUCH, np.s_[g - 1, :], np.s_[0, :]),
    )
    for meets, line, opposite in sides:
        seen, far = textured[line], textured[opposite]
        if not meets or seen.sum() < g // 2 or far.sum() < g // 2:
            continue
        new = seen & (corr[line] < BAD_CORR)
        if new.sum() * 2 < seen.sum() or (corr[opposite][far] >= GOOD_CORR).sum() * 2 < far.sum():
            continue
        lean = float(np.log((ea[line][new].sum() + 1e-6) / (eb[line][new].sum() + 1e-6)))
        if abs(lean) < LEAN:
            return True
    return False


def _blocks(z: np.ndarray, g: int) -> np.ndarray:
    return z[: g * BLOCK, : g * BLOCK].reshape(g, BLOCK, g, BLOCK).transpose(0, 2, 1, 3)


def _displacement(src: np.ndarray, dst: np.ndarray, iy: int, ix: int) -> np.ndarray | None:
    """Where block (iy, ix) of `src` is found in `dst`: the (dy, dx) of a good match
    MOVED_MIN_SHIFT..SEARCH pixels away that is clearly better than the match in place,
    else None."""
    found = _ncc(src, dst, iy, ix, SEARCH)
    if found is None:
        return None
    ncc, dy, dx = found
    y0, x0 = iy * BLOCK, ix * BLOCK
    top, left = y0 + int(dy[0, 0]), x0 + int(dx[0, 0])
    far = np.maximum(np.abs(dy), np.abs(dx)) >= MOVED_MIN_SHIFT
    here = float(ncc[y0 - top, x0 - left])
    scores = np.where(far, ncc, -np.inf)
    k = np.unravel_index(int(np.argmax(scores)), scores.shape)
    best = float(scores[k])
    if best < MOVED_CORR or best < here + 0.2:
        return None
    # A repeating structure (railings, windows, a tower) matches as well one period away:
    # that says nothing about motion.
    elsewhere = np.maximum(np.abs(dy - dy[k[0], 0]), np.abs(dx - dx[0, k[1]])) > MOVED_MIN_SHIFT
    if float(np.where(elsewhere, scores, -np.inf).max()) > best - UNIQUE:
        return None
    return np.array([dy[k[0], 0], dx[0, k[1]]], np.float32)


def _misregistered(src: np.ndarray, dst: np.ndarray, iy: int, ix: int) -> bool:
    """Block (iy, ix) of `src` agrees with `dst` within a pixel or two of its place: what a
    slightly wrong crop or bar cut does to an edge block, not motion."""
    found = _ncc(src, dst, iy, ix, MOVED_MIN_SHIFT - 1)
    return found is not None and float(found[0].max()) >= GOOD_CORR


def _ncc(src: np.ndarray, dst: np.ndarray, iy: int, ix: int, reach: int):
    """Normalised correlation of block (iy, ix) of `src` with `dst` at every shift up to
    `reach` pixels (clipped at the border), and the (dy, dx) of each; None if it is flat."""
    y0, x0 = iy * BLOCK, ix * BLOCK
    t = src[y0 : y0 + BLOCK, x0 : x0 + BLOCK]
    t = t - t.mean()
    tn = float(np.sqrt((t * t).sum()))
    if tn < 1e-3:
        return None
    top, left = max(0, y0 - reach), max(0, x0 - reach)
    window = dst[top : min(dst.shape[0], y0 + BLOCK + reach), left : min(dst.shape[1], x0 + BLOCK + reach)]
    patches = sliding_window_view(window, (BLOCK, BLOCK))
    means = patches.mean(axis=(2, 3))
    dots = np.einsum("ijkl,kl->ij", patches, t)
    energy = np.einsum("ijkl,ijkl->ij", patches, patches) - BLOCK * BLOCK * means**2
    ncc = dots / np.sqrt(np.maximum(energy, 1e-6)) / tn
    dy = np.arange(ncc.shape[0])[:, None] + top - y0
    dx = np.arange(ncc.shape[1])[None, :] + left - x0
    return ncc, dy, dx


def _adder(ea: np.ndarray, eb: np.ndarray) -> int:
    """Which picture has more detail where they disagree: the one content was added to."""
    ratio = float(np.log((ea.sum() + 1e-6) / (eb.sum() + 1e-6)))
    if ratio > 0.5:
        return 0
    if ratio < -0.5:
        return 1
    return -1
