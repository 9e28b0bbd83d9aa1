"""Worker objects that run engine calls on a QThread and talk back only through signals.

A worker is a plain QObject moved to a QThread (no subclassed run loop). It never touches a
widget, a model or a QPixmap: it emits immutable engine results and progress snapshots, and
Qt queues them to the GUI thread.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from photofind.core.progress import CancelToken, Progress, RateMeter
from photofind.core.types import ScanSettings

EMIT_INTERVAL_S = 0.1  # ~10 progress signals a second: smooth for the eye, nothing for the loop
BACKGROUND_NICE = 5  # how much nicer than the GUI thread a worker runs (Linux)


_paused = 0  # builds running now; collections resume when the last one ends
_paused_lock = threading.Lock()


@contextmanager
def collections_paused() -> Iterator[None]:
    """No garbage collection while a build runs, and what it built frozen out of later ones
    when it ends. As its objects pile up, collections would walk them again and again, each
    full pass holding the GIL, and so the GUI thread, for 50-100 ms at 100k photos; and the
    first collection after it would walk them all. Short: a build takes a second at most."""
    global _paused
    with _paused_lock:
        _paused += 1
        gc.disable()
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if not _paused:
                keep_out_of_collections()
                gc.enable()


def keep_out_of_collections() -> None:
    """What a background job built (a scan result, groups made ready, marks, the Library's
    sections, the similar index: a few objects per photo, alive until the next job replaces
    them) is left out of the garbage collector's full passes, which walk every live object
    while holding the GIL: 0.1-0.2 s at 100k photos, a stall of the GUI thread wherever the
    pass starts. These objects form no reference cycles, so reference counting still frees
    them when they are replaced."""
    gc.freeze()


class _ThisThread(threading.local):
    in_background = False  # run_in_background lowered this thread's priority already


_this_thread = _ThisThread()


def run_in_background() -> None:
    """Lower the calling thread's CPU priority, once, so that when cores are busy the
    scheduler prefers the GUI thread. On Linux, priority is per thread and inherited by
    threads it starts (the decode pool, torch's workers); a pool thread that calls this for
    every task is lowered only the first time. Elsewhere QThread.LowPriority does the job."""
    if _this_thread.in_background:
        return
    _this_thread.in_background = True
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICE))
    except (OSError, AttributeError):
        pass  # not permitted or not supported: run at normal priority


@dataclass(frozen=True)
class ProgressInfo:
    """One progress snapshot, safe to hand across threads."""

    phase: str
    done: int
    total: int | None
    rate: float  # units per second in this phase, 0 when not yet known
    eta: float | None  # seconds left in this phase, None when unknown

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)


class SignalProgress:
    """The engine's Progress protocol, turned into throttled callbacks.

    The engine may call update() thousands of times a second from a worker thread; only a
    phase change, the last unit of a phase, or the first call after EMIT_INTERVAL_S reaches
    `emit`, so the GUI thread sees about ten events a second however fast the scan runs.
    """

    def __init__(
        self,
        emit: Callable[[ProgressInfo], None],
        token: CancelToken | None = None,
        *,
        interval: float = EMIT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token or CancelToken()
        self._emit = emit
        self._interval = interval
        self._clock = clock
        self._meter = RateMeter()
        self._last_phase: str | None = None
        self._last_emit = float("-inf")

    def update(self, phase: str, done: int, total: int | None) -> None:
        rate = self._meter.rate(phase, done)
        now = self._clock()
        finished = total is not None and done >= total
        if phase == self._last_phase and not finished and now - self._last_emit < self._interval:
            return
        self._last_phase, self._last_emit = phase, now
        self._emit(ProgressInfo(phase, done, total, rate, RateMeter.eta(rate, done, total)))

    def is_cancelled(self) -> bool:
        return self.token.is_cancelled()


def warm_up_engine() -> threading.Thread:
    """Import torch and torchvision on a background thread while the app sits idle.

    Loading their shared libraries holds the GIL for about half a second whatever thread
    does it, so the first scan would freeze the window that long. Done right after the
    window first shows, nobody is interacting yet, and the first scan starts faster."""

    def run() -> None:
        try:
            import torch  # noqa: F401
            import torchvision.models  # noqa: F401
        except Exception:  # noqa: BLE001 - the scan will report a missing or broken torch
            pass
        # torch brings ~300k long-lived objects; a full garbage collection, which may start
        # in any thread at any allocation, then holds the GIL ~0.3 s. Frozen objects are
        # never traversed again.
        gc.freeze()

    thread = threading.Thread(target=run, name="photofind-warm-up", daemon=True)
    thread.start()
    return thread


class EmbedderCache:
    """Keeps the embedding model alive between scans, keyed by the settings that choose it,
    so a rescan does not reload ResNet-34. Used from worker threads, hence the lock."""

    def __init__(self, injected: Any = None) -> None:
        self._injected = injected
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._value: tuple[Any, str | None] = (None, None)

    def get(self, settings: ScanSettings) -> tuple[Any, str | None]:
        """(embedder, None) or (None, the reason in words). May resolve or download weights."""
        if not settings.embed:
            return None, "visual similarity is turned off"
        if self._injected is not None:
            return self._injected, None
        from photofind.core.pipeline import make_embedder

        key = (settings.weights, settings.device, settings.precision)
        with self._lock:
            if key != self._key or self._value[0] is None:
                self._value = make_embedder(settings)
                self._key = key
            return self._value

    def current(self) -> Any:
        """The last embedder handed out, or None."""
        return self._injected if self._injected is not None else self._value[0]


class ActionWorker(QObject):
    """Runs `fn(progress)` on its thread: trash/undo plans, regrouping, anything slow.
    `builds`: fn builds what the GUI will show (groups made ready, an edited review state),
    with collections paused (collections_paused); not for long work such as a scan."""

    progressed = Signal(object)  # ProgressInfo
    finished = Signal(object)  # whatever fn returned
    failed = Signal(str)

    def __init__(self, fn: Callable[[Progress], Any], *, builds: bool = False) -> None:
        super().__init__()
        self.token = CancelToken()
        self._fn = fn
        self._builds = builds

    def cancel(self) -> None:
        self.token.cancel()

    @Slot()
    def run(self) -> None:
        run_in_background()
        try:
            with collections_paused() if self._builds else nullcontext():
                outcome = self._fn(SignalProgress(self.progressed.emit, self.token))
            keep_out_of_collections()
            self.finished.emit(outcome)
        except Exception as exc:  # noqa: BLE001 - the GUI must report it, not die with the thread
            traceback.print_exc()
            self.failed.emit(f"{type(exc).__name__}: {exc}")


class ScanWorker(ActionWorker):
    """Runs one `pipeline.scan` on its thread; `finished` carries the ScanResult
    (cancelled=True when stopped early). `cancel()` may be called from any thread."""

    def __init__(
        self,
        settings: ScanSettings,
        *,
        embedders: EmbedderCache | None = None,
        cache_path: str | None = None,
        workers: int | None = None,
    ) -> None:
        super().__init__(self._scan)
        self.settings = settings
        self._embedders = embedders or EmbedderCache()
        self._cache_path = cache_path
        self._workers = workers

    def _scan(self, progress: Progress):
        from photofind.core.pipeline import scan
        from photofind.core.scan.cache import Cache
        from photofind.paths import default_cache_path

        embedder, problem = self._embedders.get(self.settings)
        settings = self.settings if embedder is not None else replace(self.settings, embed=False)
        cache = Cache(self._cache_path or self.settings.cache_path or default_cache_path())
        try:
            result = scan(settings, embedder=embedder, cache=cache, progress=progress, workers=self._workers)
        finally:
            cache.close()
        if embedder is None:
            # The pipeline only knows it was told not to embed; the user needs the real reason.
            result = replace(result, settings=self.settings, model_problem=problem)
        return result


def start_worker(worker: QObject, parent: QObject | None = None) -> QThread:
    """Move `worker` to a new QThread and run it; the thread quits when the worker is done.

    The caller keeps its Python references to `worker` and the thread until the thread's
    `finished` signal (not the worker's: dropping the worker on its own `finished` could
    delete it while run() is still returning on the other thread), then drops them and calls
    `thread.deleteLater()`. Connect only bound methods of GUI-thread objects to worker
    signals, so Qt queues the calls; a lambda would run on the worker thread.
    """
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: QThread.quit is thread-safe, and the thread must end even while the GUI thread
    # is blocked in wait() (shutdown), which would starve a queued quit.
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    worker.failed.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.start(QThread.Priority.LowPriority)
    return thread
