"""Worker objects on QThreads, the throttled progress adapter, and the controller's threads."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from PySide6.QtCore import QObject, QThread, Signal

from photofind.core.model.embed import NumpyEmbedder
from photofind.core.progress import CancelToken
from photofind.core.types import ScanSettings, Thresholds
from photofind.gui.controller import ScanController, regroup_result, thresholds_at
from photofind.gui.workers import (
    BACKGROUND_NICE,
    ActionWorker,
    EmbedderCache,
    ProgressInfo,
    ScanWorker,
    SignalProgress,
    collections_paused,
    run_in_background,
    start_worker,
)
from tests.conftest import FakeEmbedder


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_throttled_but_never_loses_phase_changes_or_the_end():
    clock, seen = FakeClock(), []
    progress = SignalProgress(seen.append, interval=0.1, clock=clock)
    for done in range(1, 1001):
        clock.now += 0.0001  # 1,000 updates in 0.1 s
        progress.update("reading", done, 2000)
    assert 1 <= len(seen) <= 2
    progress.update("embedding", 1, 10)
    assert seen[-1].phase == "embedding"
    progress.update("embedding", 10, 10)
    assert (seen[-1].done, seen[-1].total) == (10, 10)
    assert all(isinstance(i, ProgressInfo) for i in seen)


def test_progress_snapshots_carry_counts_rate_and_eta():
    clock, seen = FakeClock(), []
    progress = SignalProgress(seen.append, interval=0.1, clock=clock)
    progress.update("reading", 0, 100)
    progress._meter._start -= 2.0  # the rate meter's phase began two seconds ago
    clock.now += 1.0
    progress.update("reading", 50, 100)
    info = seen[-1]
    assert (info.done, info.total, info.fraction) == (50, 100, 0.5)
    assert info.rate == pytest.approx(25, rel=0.05)  # 50 units in ~2 s
    assert info.eta == pytest.approx(2.0, rel=0.05)  # 50 left at 25/s


def test_cancel_token_is_shared_with_the_engine():
    token = CancelToken()
    progress = SignalProgress(lambda info: None, token)
    assert not progress.is_cancelled()
    token.cancel()
    assert progress.is_cancelled()


class Probe(QObject):
    """Lives on the GUI thread, so worker signals reach it queued, as they reach the app."""

    done = Signal(object)
    failed = Signal(str)

    def __init__(self, worker) -> None:
        super().__init__()
        self.progress_threads: list[QThread] = []
        worker.progressed.connect(self.on_progress)
        worker.finished.connect(self.on_finished)
        worker.failed.connect(self.on_failed)

    def on_progress(self, info) -> None:
        self.progress_threads.append(QThread.currentThread())

    def on_finished(self, value) -> None:
        self.done.emit(value)

    def on_failed(self, message: str) -> None:
        self.failed.emit(message)


def test_scan_worker_runs_on_its_own_thread_and_reports_by_signal(qtbot, library, fake_embedder, cache_path):
    worker = ScanWorker(
        ScanSettings(roots=(str(library["root"]),)),
        embedders=EmbedderCache(fake_embedder),
        cache_path=str(cache_path),
        workers=2,
    )
    probe = Probe(worker)
    with qtbot.waitSignal(probe.done, timeout=60_000) as finished:
        thread = start_worker(worker)
    assert thread.wait(10_000)
    result = finished.args[0]
    assert len(result.records) == 11 and len(result.groups) == 3
    assert thread is not QThread.currentThread() and worker.thread() is thread
    assert probe.progress_threads and all(t is QThread.currentThread() for t in probe.progress_threads)


def test_scan_worker_cancelled_before_start_returns_a_cancelled_result(
    qtbot, library, fake_embedder, cache_path
):
    worker = ScanWorker(
        ScanSettings(roots=(str(library["root"]),)),
        embedders=EmbedderCache(fake_embedder),
        cache_path=str(cache_path),
    )
    probe = Probe(worker)
    worker.cancel()
    with qtbot.waitSignal(probe.done, timeout=60_000) as finished:
        thread = start_worker(worker)
    assert thread.wait(10_000)
    assert finished.args[0].cancelled
    assert fake_embedder.images_embedded == 0


def test_action_worker_reports_failures_as_messages(qtbot):
    def boom(progress):
        raise OSError("disk on fire")

    worker = ActionWorker(boom)
    probe = Probe(worker)
    with qtbot.waitSignal(probe.failed, timeout=10_000) as failed:
        thread = start_worker(worker)
    assert thread.wait(10_000)
    assert failed.args[0] == "OSError: disk on fire"


def test_embedder_cache_explains_missing_weights(monkeypatch):
    monkeypatch.setenv("PHOTOFIND_NO_DOWNLOAD", "1")
    embedder, problem = EmbedderCache().get(ScanSettings(roots=("/x",)))
    assert embedder is None and "weights" in problem and "Exact" in problem
    assert EmbedderCache().get(ScanSettings(roots=("/x",), embed=False)) == (
        None,
        "visual similarity is turned off",
    )


def test_thresholds_follow_the_slider_and_keep_near_above_it():
    base = Thresholds(near=0.9, similar=0.8)
    assert thresholds_at(0.7, base) == Thresholds(near=0.9, similar=0.7)
    assert thresholds_at(0.95, base) == Thresholds(near=0.95, similar=0.95)


def test_controller_keeps_only_the_newest_regroup(qtbot, library, fake_embedder, cache_path):
    controller = ScanController(embedder=fake_embedder, cache_path=str(cache_path), workers=2)
    try:
        with qtbot.waitSignal(controller.scanFinished, timeout=60_000):
            controller.start_scan(ScanSettings(roots=(str(library["root"]),)))
        embedded = fake_embedder.images_embedded
        seen = []
        controller.groupsChanged.connect(seen.append)
        strict = Thresholds(near=0.999, similar=0.999)
        controller.regroup(Thresholds(near=0.9, similar=0.85))
        controller.regroup(Thresholds(near=0.95, similar=0.9))  # superseded while the first runs
        controller.regroup(strict)
        qtbot.waitUntil(
            lambda: not controller._regroup_busy and controller._pending_thresholds is None, timeout=30_000
        )
        assert controller.groups == regroup_result(controller.result, strict) == seen[-1].groups
        assert len(seen) <= 2  # the first (already running) and the last; never the middle one
        assert fake_embedder.images_embedded == embedded  # no photo was read again
    finally:
        controller.shutdown()


def test_controller_refuses_a_second_scan_while_busy(qtbot, library, cache_path):
    gate = threading.Event()

    class SlowEmbedder(NumpyEmbedder):
        def __init__(self):
            self.inner = FakeEmbedder()

        @property
        def model(self):
            return self.inner.model

        def prepare(self, image):
            return self.inner.prepare(image)

        def embed(self, batch):
            gate.wait(30)
            return self.inner.embed(batch)

    controller = ScanController(embedder=SlowEmbedder(), cache_path=str(cache_path), workers=2)
    try:
        settings = ScanSettings(roots=(str(library["root"]),))
        assert controller.start_scan(settings)
        assert controller.is_scanning and not controller.start_scan(settings)
        with qtbot.waitSignal(controller.scanFinished, timeout=60_000) as finished:
            controller.cancel_scan()
            gate.set()
        assert finished.args[0].cancelled and not controller.is_busy
    finally:
        gate.set()
        controller.shutdown()


def test_similar_search_takes_a_photo_from_outside_the_library(
    qtbot, library, fake_embedder, cache_path, tmp_path
):
    from PIL import Image

    from tests import imagefactory as factory

    controller = ScanController(embedder=fake_embedder, cache_path=str(cache_path), workers=2)
    try:
        with qtbot.waitSignal(controller.scanFinished, timeout=60_000):
            controller.start_scan(ScanSettings(roots=(str(library["root"]),)))
        outside = factory.save(
            factory.make_scene(22, (480, 360)).resize((320, 240), Image.Resampling.BILINEAR),
            tmp_path / "elsewhere" / "from-a-friend.jpg",
            quality=70,
        )
        found = controller.similar_search(str(outside), 5)
        b_paths = {str(library["paths"][k]) for k in ("B", "B_half", "B_q40")}
        assert {p for p, *_ in found[:3]} == b_paths
        assert [s for _p, s, *_ in found] == sorted((s for _p, s, *_ in found), reverse=True)
        assert all(t in ("exact", "pixels", "near", "similar", "") for _p, _s, t, _r in found)
        copy_of_a = controller.similar_search(str(library["paths"]["A"]), 3)
        assert copy_of_a[0][0] == str(library["paths"]["A_copy"]) and copy_of_a[0][2] == "exact"
    finally:
        controller.shutdown()


def test_a_slider_move_during_a_scan_is_applied_when_it_ends(qtbot, library, fake_embedder, cache_path):
    controller = ScanController(embedder=fake_embedder, cache_path=str(cache_path), workers=2)
    seen = []
    controller.groupsChanged.connect(seen.append)
    strict = Thresholds(near=0.999, similar=0.999)
    try:
        assert controller.start_scan(ScanSettings(roots=(str(library["root"]),)))
        controller.regroup(strict)  # while scanning: remembered, not lost
        qtbot.waitUntil(lambda: len(seen) == 2, timeout=60_000)
        assert seen[-1].groups == regroup_result(controller.result, strict) != seen[0].groups
    finally:
        controller.shutdown()


def test_what_a_background_job_built_is_left_out_of_full_garbage_collections(qtbot):
    # A full collection walks every tracked object holding the GIL: at 100k photos the
    # groups, marks and indexes a job hands over would stall the GUI thread ~0.15 s.
    import gc

    class Built:  # tracked by the collector, like the engine's dataclasses
        pass

    worker = ActionWorker(lambda progress: [Built() for _ in range(3)])
    probe = Probe(worker)
    with qtbot.waitSignal(probe.done, timeout=10_000) as finished:
        thread = start_worker(worker)
    assert thread.wait(10_000)
    built = finished.args[0]
    tracked = {id(o) for o in gc.get_objects()}  # the permanent generation is not listed
    assert gc.get_freeze_count() > 0
    assert not any(id(o) in tracked for o in [built, *built])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is Linux's")
def test_a_pool_thread_is_made_nicer_once_however_many_tasks_it_runs():
    def niceness_after(calls: int) -> int:
        def run() -> None:
            for _ in range(calls):
                run_in_background()
            seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

        seen: list[int] = []
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
        return seen[0]

    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if base + BACKGROUND_NICE > 19:
        pytest.skip("already as nice as can be")
    assert niceness_after(1) == niceness_after(3) == base + BACKGROUND_NICE


def test_a_scan_is_announced_with_its_library_and_similar_index_built(
    qtbot, library, fake_embedder, cache_path
):
    # Built in the job that makes the groups ready: built after, their Python would share the
    # GIL with the grid's first paint.
    controller = ScanController(embedder=fake_embedder, cache_path=str(cache_path), workers=2)
    try:
        with qtbot.waitSignal(controller.scanFinished, timeout=60_000) as finished:
            assert controller.start_scan(ScanSettings(roots=(str(library["root"]),)))
        result = finished.args[0]
        assert controller.photos.records is result.records
        path = result.records[1].path
        assert controller.library_row(path) == 1  # the index answers without being asked first
    finally:
        controller.shutdown()


def test_a_build_runs_with_collections_paused_and_a_scan_does_not(qtbot):
    import gc

    def seen(builds: bool) -> bool:
        worker = ActionWorker(lambda progress: gc.isenabled(), builds=builds)
        probe = Probe(worker)
        with qtbot.waitSignal(probe.done, timeout=10_000) as finished:
            thread = start_worker(worker)
        assert thread.wait(10_000)
        return finished.args[0]

    assert seen(builds=True) is False
    assert seen(builds=False) is True
    assert gc.isenabled()


def test_collections_resume_only_when_the_last_of_overlapping_builds_ends():
    import gc

    first, second = collections_paused(), collections_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second build still runs
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_the_app_lets_the_gui_thread_take_the_gil_back_within_a_quarter_millisecond():
    from photofind.gui.app import create_application

    create_application()
    assert sys.getswitchinterval() <= 0.00025


def test_the_app_has_pyside_make_its_types_at_import_not_in_whichever_thread_needs_one_first():
    # Lazily made types raced between a thumbnail thread and the GUI thread: a segfault.
    import subprocess

    probe = "import os, photofind.gui, PySide6.QtGui; print(os.environ['PYSIDE6_OPTION_LAZY'])"
    env = {k: v for k, v in os.environ.items() if k != "PYSIDE6_OPTION_LAZY"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "0"
