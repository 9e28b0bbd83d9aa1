"""The GUI's one owner of engine work: it starts scans, regroups, clean-ups and undos on worker
threads, holds the current ScanResult and groups, and announces changes by signal.

Widgets never call the engine directly and workers never see a widget: the controller is the
seam. Everything here runs on the GUI thread except `similar_search`, which the similar view
calls from its pool and which reads only immutable data.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from photofind.core.types import Group, ScanResult, ScanSettings, Thresholds, Tier
from photofind.gui import similar_search
from photofind.gui.workers import ActionWorker, EmbedderCache, ScanWorker, start_worker


def thresholds_at(value: float, base: Thresholds) -> Thresholds:
    """The slider sets the lowest similarity that still groups photos (the `similar` bar);
    `near` never sits below it, or near groups would be looser than similar ones."""
    return dataclasses.replace(base, similar=value, near=max(base.near, value))


class ScanController(QObject):
    scanStarted = Signal()
    progressed = Signal(object)  # workers.ProgressInfo
    scanFinished = Signal(object)  # ScanResult
    scanFailed = Signal(str)
    groupsChanged = Signal(object)  # tuple[Group, ...]: after a scan, a regroup or a clean-up
    busyChanged = Signal(bool)
    actionFinished = Signal(str, object)  # kind ("trash", "undo"), the engine's report
    actionFailed = Signal(str, str)  # kind, message

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        embedder: Any = None,
        cache_path: str | None = None,
        journal_path: str | None = None,
        workers: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.embedders = EmbedderCache(embedder)
        self.cache_path = cache_path
        self.journal_path = journal_path
        self.workers = workers
        self.result: ScanResult | None = None
        self.groups: tuple[Group, ...] = ()
        self._gone: set[str] = set()  # paths cleaned up since the scan: kept out of regroups
        self._scan: ScanWorker | None = None
        self._jobs: dict[QThread, QObject] = {}  # live threads -> their worker (kept alive)
        self._regroup_generation = 0
        self._regroup_busy = False
        self._pending_thresholds: Thresholds | None = None
        self._action: str | None = None
        self._similar = similar_search.SimilarSearch()  # keeps the query index between searches

    # -- state -------------------------------------------------------------------------------

    @property
    def is_scanning(self) -> bool:
        return self._scan is not None

    @property
    def is_busy(self) -> bool:
        return self._scan is not None or self._action is not None

    def current_result(self) -> ScanResult | None:
        """The last result with the groups as they are shown now (regrouped, cleaned up)."""
        if self.result is None:
            return None
        return dataclasses.replace(self.result, groups=self.groups)

    # -- scanning ----------------------------------------------------------------------------

    def start_scan(self, settings: ScanSettings) -> bool:
        """Start a scan unless one or a clean-up is running; False when refused."""
        if self.is_busy or not settings.roots:
            return False
        worker = ScanWorker(
            settings, embedders=self.embedders, cache_path=self.cache_path, workers=self.workers
        )
        worker.progressed.connect(self.progressed)
        worker.finished.connect(self._scan_finished)
        worker.failed.connect(self._scan_failed)
        self._scan = worker
        self._launch(worker)
        self.scanStarted.emit()
        self.busyChanged.emit(True)
        return True

    def cancel_scan(self) -> None:
        if self._scan is not None:
            self._scan.cancel()

    def _scan_finished(self, result: ScanResult) -> None:
        self._scan = None
        self.result = result
        self._gone = set()
        self.groups = tuple(result.groups)
        self._regroup_generation += 1  # a regroup of the previous library is now stale
        self.busyChanged.emit(False)
        self.scanFinished.emit(result)
        self.groupsChanged.emit(self.groups)
        self._run_pending_regroup()  # the slider moved while the scan ran

    def _scan_failed(self, message: str) -> None:
        self._scan = None
        self._pending_thresholds = None
        self.busyChanged.emit(False)
        self.scanFailed.emit(message)

    # -- regrouping from cached embeddings ------------------------------------------------------

    def regroup(self, thresholds: Thresholds) -> None:
        """Regroup the current records at new thresholds, off the GUI thread. While one
        regroup runs, only the latest request waits; older ones are dropped."""
        if self._regroup_busy or self.is_scanning:
            self._pending_thresholds = thresholds  # applied when the running job is done
            return
        if self.result is None:
            return
            self._pending_thresholds = thresholds
            return
        self._regroup_busy = True
        self._regroup_generation += 1
        generation, result = self._regroup_generation, self.result
        worker = ActionWorker(lambda _progress: (generation, regroup_result(result, thresholds)))
        worker.finished.connect(self._regrouped)
        worker.failed.connect(self._regroup_failed)
        self._launch(worker)

    def _regrouped(self, payload: tuple[int, tuple[Group, ...]]) -> None:
        generation, groups = payload
        self._regroup_busy = False
        if generation == self._regroup_generation and self.result is not None:
            self.groups = without_paths(self.result, groups, self._gone)
            self.groupsChanged.emit(self.groups)
        self._run_pending_regroup()

    def _regroup_failed(self, message: str) -> None:
        self._regroup_busy = False
        self.actionFailed.emit("regroup", message)
        self._run_pending_regroup()

    def _run_pending_regroup(self) -> None:
        if self._pending_thresholds is not None:
            thresholds, self._pending_thresholds = self._pending_thresholds, None
            self.regroup(thresholds)

    def hide_group(self, group_id: int) -> None:
        """Drop a group from the current view (the user decided about it; the decision store
        keeps it out of later scans and regroups)."""
        self.groups = tuple(g for g in self.groups if g.id != group_id)
        self.groupsChanged.emit(self.groups)

    # -- clean-up and undo -----------------------------------------------------------------------

    def trash(self, marked: Iterable[int], protected: Iterable[str] = (), action: str = "trash") -> bool:
        """Act on the marked records (positions in result.records) on a worker thread.
        Emits actionFinished("trash", BatchReport). False if it cannot start."""
        result = self.current_result()
        if result is None or self.is_busy:
            return False
        from photofind.core.cleanup.actions import plan_marked
        from photofind.core.cleanup.keep import KeeperPolicy
        from photofind.core.cleanup.marks import Marks

        marks = Marks(result.records, result.groups, KeeperPolicy.parse("", tuple(protected)))
        group_of = {m.index: g.id for g in result.groups for m in g.members}
        for record in marked:
            if record in group_of:
                marks.mark(group_of[record], record)
        plan = plan_marked(result, marks, action)
        if not plan.items:
            return False
        journal_path = self.journal_path

        def run(progress):
            from photofind.core.cleanup.executor import execute
            from photofind.core.cleanup.journal import Journal

            with Journal(journal_path) as journal:
                return execute(plan, journal=journal, progress=progress)

        return self._start_action("trash", run)

    def undo(self) -> bool:
        """Undo the newest clean-up batch; emits actionFinished("undo", UndoReport)."""
        if self.is_busy:
            return False
        journal_path = self.journal_path

        def run(progress):
            from photofind.core.cleanup.journal import Journal
            from photofind.core.cleanup.restore import undo

            with Journal(journal_path) as journal:
                return undo(journal=journal, progress=progress)

        return self._start_action("undo", run)

    def can_undo(self) -> bool:
        from photofind.paths import default_journal_path

        if not os.path.exists(self.journal_path or default_journal_path()):
            return False  # nothing was ever cleaned up; do not create an empty journal
        try:
            from photofind.core.cleanup.journal import Journal

            with Journal(self.journal_path) as journal:
                return journal.last_undoable() is not None
        except Exception:  # noqa: BLE001 - a broken journal means nothing to undo, not a crash
            return False

    def _start_action(self, kind: str, fn: Callable) -> bool:
        worker = ActionWorker(fn)
        worker.progressed.connect(self.progressed)
        worker.finished.connect(self._action_finished)
        worker.failed.connect(self._action_failed)
        self._action = kind
        self._launch(worker)
        self.busyChanged.emit(True)
        return True

    def _action_finished(self, report: Any) -> None:
        kind, self._action = self._action or "", None
        if kind == "trash" and self.result is not None:
            done = {o.item.path for o in report.outcomes if getattr(o.status, "value", o.status) == "done"}
            self._gone |= done
            self.groups = without_paths(self.result, self.groups, done)
        self.busyChanged.emit(False)
        self.actionFinished.emit(kind, report)
        if kind == "trash":
            self.groupsChanged.emit(self.groups)

    def _action_failed(self, message: str) -> None:
        kind, self._action = self._action or "", None
        self.busyChanged.emit(False)
        self.actionFailed.emit(kind, message)

    # -- similar search (called from the similar view's pool thread) ----------------------------

    def similar_search(self, path: str, top: int) -> list[tuple[str, float, str]]:
        result = self.result
        if result is None:
            raise RuntimeError("Scan a folder first: similar photos are searched in the library.")
        return self._similar.search(result, path, top, embedder=self.embedders.current())

    # -- threads -----------------------------------------------------------------------------

    def _launch(self, worker: QObject) -> None:
        thread = start_worker(worker, self)
        self._jobs[thread] = worker
        thread.finished.connect(self._thread_done)

    def _thread_done(self) -> None:
        for thread in [t for t in self._jobs if t.isFinished()]:
            del self._jobs[thread]  # drops the worker too: its thread no longer runs it
            thread.deleteLater()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop everything: cancel, then wait for the threads (called when the window closes)."""
        for worker in self._jobs.values():
            cancel = getattr(worker, "cancel", None)
            if cancel:
                cancel()
        for thread in list(self._jobs):
            thread.quit()
            thread.wait(timeout_ms)
        self._jobs.clear()


def regroup_result(result: ScanResult, thresholds: Thresholds) -> tuple[Group, ...]:
    """Groups for `result` at `thresholds`, from its stored embeddings: no file is read."""
    from photofind.core.match import grouping

    records, embeddings = result.records, result.embeddings
    regrouper = getattr(grouping, "Regrouper", None)
    if regrouper is not None:
        groups = tuple(_regrouper_for(result, regrouper).group(thresholds))
    else:
        groups = tuple(grouping.group_records(records, embeddings, thresholds))
    try:
        from photofind.core.cleanup.decisions import apply_for_scan
    except ImportError:
        return groups
    settings = dataclasses.replace(result.settings, thresholds=thresholds)
    groups, _warnings = apply_for_scan(groups, records, embeddings, settings)
    return tuple(groups)


_REGROUPERS: dict[int, Any] = {}


def _regrouper_for(result: ScanResult, regrouper_class: Any) -> Any:
    """One Regrouper per result: its candidate index is built once, then every slider
    position regroups from it. Keyed by id(); the result itself is kept alive alongside."""
    key = id(result)
    cached = _REGROUPERS.get(key)
    if cached is None or cached[0] is not result:
        _REGROUPERS.clear()  # only the current library is ever regrouped
        cached = (result, _build_regrouper(regrouper_class, result))
        _REGROUPERS[key] = cached
    return cached[1]


def _build_regrouper(regrouper_class: Any, result: ScanResult) -> Any:
    for build in (
        lambda: regrouper_class.from_result(result),
        lambda: regrouper_class(result.records, result.embeddings, result.thumbs),
        lambda: regrouper_class(result.records, result.embeddings),
    ):
        try:
            return build()
        except (AttributeError, TypeError):
            continue
    raise TypeError("photofind.core.match.grouping.Regrouper has an unknown constructor")


def without_paths(result: ScanResult, groups: Iterable[Group], gone: set[str]) -> tuple[Group, ...]:
    """Groups after files left the library: members removed, groups of one dropped."""
    if not gone:
        return tuple(groups)
    out = []
    for g in groups:
        members = tuple(m for m in g.members if result.records[m.index].path not in gone)
        if len(members) < 2:
            continue
        if len(members) != len(g.members):
            sims = [m.similarity for m in members[1:]]
            g = dataclasses.replace(
                g, members=members, min_similarity=min(sims), mean_similarity=float(np.mean(sims))
            )
        out.append(g)
    return tuple(out)


__all__ = ["ScanController", "regroup_result", "thresholds_at", "without_paths", "Tier"]
