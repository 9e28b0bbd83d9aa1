"""Progress reporting and cooperative cancellation, passed into long engine calls.

Every long operation takes a `progress` argument defaulting to NULL_PROGRESS, so callers
that do not care pay nothing, and the GUI/CLI adapt it to signals or a text bar.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Cancelled(Exception):
    """Raised between units of work when the user asked to stop."""


class Phase:
    DISCOVER = "finding files"
    HASH = "hashing"
    CACHE = "checking cache"  # files whose cached results are still valid
    READ = "reading"
    EMBED = "embedding"
    CALIBRATE = "calibrating"
    PAIRS = "finding pairs"  # the candidate search (pairsearch)
    VERIFY = "verifying"  # pixel checks: pairs checked of the pairs not answered by the cache
    GROUP = "grouping"


class Progress(Protocol):
    def update(self, phase: str, done: int, total: int | None) -> None:
        """Report that `done` of `total` units of `phase` are finished (total None: unknown)."""

    def is_cancelled(self) -> bool:
        """True once the user asked to stop; checked between units of work."""


class CancelToken:
    """Thread-safe flag the GUI or a signal handler sets and the engine polls."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def is_cancelled(self) -> bool:
        return self._event.is_set()


class NullProgress:
    def update(self, phase: str, done: int, total: int | None) -> None:
        pass

    def is_cancelled(self) -> bool:
        return False


NULL_PROGRESS: Progress = NullProgress()


class RateMeter:
    """Units per second over the current phase, for 'N/s' and ETA displays."""

    def __init__(self) -> None:
        self.phase = ""
        self._start = time.monotonic()
        self._start_done = 0

    def rate(self, phase: str, done: int) -> float:
        now = time.monotonic()
        if phase != self.phase:
            self.phase, self._start, self._start_done = phase, now, done
            return 0.0
        elapsed = now - self._start
        return (done - self._start_done) / elapsed if elapsed > 0 else 0.0

    @staticmethod
    def eta(rate: float, done: int, total: int | None) -> float | None:
        if not total or rate <= 0:
            return None
        return max(0.0, (total - done) / rate)


def check_cancel(progress: Progress) -> None:
    if progress.is_cancelled():
        raise Cancelled()
