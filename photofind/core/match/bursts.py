"""The best shot of a burst: the sharpest frame among the well exposed ones.

A burst is a similar group whose photos one camera took seconds apart (`is_burst`).
Its frames differ by a moment, so none is a copy to delete by default; the app suggests one to
keep, with its reason, and trashes the rest only when the user asks.

Sharpness is the variance of the Laplacian of the grayscale picture (blur from motion or focus
flattens it); exposure is the share of clipped pixels (blown highlights or crushed shadows).
Both are measured on the grayscale image the read pass already makes for the pixel check, so
choosing costs nothing at grouping time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache

import numpy as np

from photofind.core.cleanup.keep import burst_keep_reason
from photofind.core.match import verify
from photofind.core.types import Group, ImageRecord

CLIP_LOW, CLIP_HIGH = 3, 252  # 8-bit levels that count as crushed or blown
EXPOSURE_SLACK = 0.02  # frames this close to the best-exposed one compete on sharpness
SHARPEST, BEST_EXPOSED = "sharpest", "best exposed"
BURST_SECONDS = 10.0  # frames of one burst: one camera, EXIF times this close


def is_burst(records: Sequence[ImageRecord]) -> bool:
    """Same camera, shot within BURST_SECONDS of each other."""
    cameras = {r.facts.camera for r in records}
    if len(cameras) != 1 or None in cameras:
        return False
    try:
        times = [datetime.fromisoformat(r.facts.taken).timestamp() for r in records if r.facts.taken]
    except (TypeError, ValueError):
        return False
    return len(times) == len(records) and max(times) - min(times) <= BURST_SECONDS


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of an 8-bit-scaled grayscale image."""
    g = np.asarray(gray, dtype=np.float32)
    if min(g.shape) < 3:
        return 0.0
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def clipped_share(gray: np.ndarray) -> float:
    """Share of pixels at or beyond the clipping levels."""
    g = np.asarray(gray)
    if g.size == 0:
        return 0.0
    return float(np.count_nonzero((g <= CLIP_LOW) | (g >= CLIP_HIGH)) / g.size)


def best_shot(sharp: Sequence[float], clipped: Sequence[float]) -> tuple[int, str]:
    """Position of the frame to keep, and why. Exposure first: a blown frame is not the best
    however crisp its edges (clipping makes hard edges); among frames within EXPOSURE_SLACK
    of the best exposure, the sharpest wins."""
    if not sharp or len(sharp) != len(clipped):
        raise ValueError("best_shot needs one sharpness and one clipping figure per frame")
    least = min(clipped)
    contenders = [i for i, c in enumerate(clipped) if c <= least + EXPOSURE_SLACK]
    pick = max(contenders, key=lambda i: (sharp[i], -clipped[i], -i))
    sharpest_overall = max(range(len(sharp)), key=lambda i: sharp[i])
    return pick, SHARPEST if sharp[pick] >= sharp[sharpest_overall] else BEST_EXPOSED


def best_of(records: Sequence[ImageRecord], indices: Sequence[int]) -> tuple[int, str] | None:
    """The best shot among the burst frames `indices` (records positions), and why, from the
    pixel check's details (measured once per photo, usually still cached from the check).
    None if a frame cannot be read now: a suggestion from part of the burst would mislead."""
    measures = [m for i in indices if (m := _measures(records[i])) is not None]
    if not measures or len(measures) != len(indices):
        return None
    pos, reason = best_shot([sharp for sharp, _ in measures], [clip for _, clip in measures])
    return indices[pos], reason


def suggest(group: Group, best: int, reason: str) -> Group:
    """`group` (a burst whose keeper is `best`) marked as a stack with its best shot."""
    return replace(group, best_shot=best, best_shot_reason=reason, keep_reason=burst_keep_reason(reason))


@lru_cache(maxsize=1 << 17)
def _measures(record: ImageRecord) -> tuple[float, float] | None:
    """(sharpness, clipped share) of a frame, kept: two numbers a photo, so a regroup (a slider
    move) reads no frame again even when the detail images have left verify's cache."""
    detail = verify.load_detail(record)
    return None if detail is None else (detail.sharpness, detail.clipped)
