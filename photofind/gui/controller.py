"""The GUI's one owner of engine work: it starts scans, regroups, clean-ups and undos on worker
threads, holds the current ScanResult and groups, and announces changes by signal.

Widgets never call the engine directly and workers never see a widget: the controller is the
seam. Everything here runs on the GUI thread except `similar_search`, which the similar view
calls from its pool and which reads only immutable data.

New groups (a scan's, a regroup's, what is left after a clean-up) are made ready for the grid
on a worker (photofind.core.cleanup.ready.make_ready: the review state carried over, the sums
and lookups worked out) against a copy of the grid's review state, so at 100k photos the GUI
thread only swaps them in. `groupsChanged` carries that ReadyGroups, and only ever one made
from the review as it is: groups made ready against a review the user changed meanwhile (a
mark while the slider's regroup ran) are made ready again on a worker first.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from photofind.core.cleanup.marks import Marks
from photofind.core.cleanup.ready import ReadyGroups, make_ready
from photofind.core.library import Library
from photofind.core.types import Group, ImageRecord, ScanResult, ScanSettings, Thresholds, Tier
from photofind.gui import similar_search
from photofind.gui.workers import ActionWorker, EmbedderCache, ScanWorker, start_worker

if TYPE_CHECKING:
    from photofind.core.cleanup.executor import BatchReport
    from photofind.core.cleanup.restore import UndoReport
    from photofind.core.match.grouping import Regrouper


def thresholds_at(value: float, base: Thresholds) -> Thresholds:
    """The slider sets the lowest similarity that still groups photos (the `similar` bar);
    `near` never sits below it, or near groups would be looser than similar ones."""
    return dataclasses.replace(base, similar=value, near=max(base.near, value))


class ScanController(QObject):
    scanStarted = Signal()
    progressed = Signal(object)  # workers.ProgressInfo
    scanFinished = Signal(object)  # ScanResult
    scanFailed = Signal(str)
    groupsChanged = Signal(object)  # ReadyGroups: after a scan, a regroup or a clean-up
    busyChanged = Signal(bool)
    # One signal per task and outcome, so listeners never branch on a kind string.
    trashFinished = Signal(object)  # executor.BatchReport
    trashFailed = Signal(str)
    undoFinished = Signal(object)  # restore.UndoReport
    undoFailed = Signal(str)
    regroupFailed = Signal(str)  # a regroup, or making new groups ready for the grid, failed

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
        self.photos = Library(())  # the last scan's photos as the Library page lists them
        self.groups: tuple[Group, ...] = ()
        # Paths cleaned up since the scan, kept out of regroups; replaced, never changed in
        # place, so a regroup can tell whether files went while it ran.
        self._gone: frozenset[str] = frozenset()
        self._groups_version = 0  # bumped whenever self.groups changes: older ready groups are stale
        unfollowed = Marks((), ())  # until follow_review: one review, never changed
        self._review: Callable[[], Marks] = lambda: unfollowed
        self._scan: ScanWorker | None = None
        self._jobs: dict[QThread, ActionWorker] = {}  # live threads -> their worker (kept alive)
        self._regroup_generation = 0
        self._regroup_busy = False
        self._pending_thresholds: Thresholds | None = None
        self._action_running = False  # a clean-up or an undo
        self._similar = similar_search.SimilarSearch(cache_path)  # keeps the query index between searches

    # -- state -------------------------------------------------------------------------------

    @property
    def is_scanning(self) -> bool:
        return self._scan is not None

    @property
    def is_busy(self) -> bool:
        return self._scan is not None or self._action_running

    def follow_review(self, review: Callable[[], Marks]) -> None:
        """Make new groups ready against the review state `review()` returns (the grid's
        Marks, read on this thread only: copied for workers, its version checked when they
        are done): without it they start with no marks."""
        self._review = review

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
        worker.finished.connect(self._scan_done)
        worker.failed.connect(self._scan_failed)
        self._scan = worker
        self._launch(worker)
        self.scanStarted.emit()
        self.busyChanged.emit(True)
        return True

    def cancel_scan(self) -> None:
        if self._scan is not None:
            self._scan.cancel()

    def _scan_done(self, result: ScanResult) -> None:
        """The engine is done. The scan counts as finished once its groups are ready for the
        grid, made so on a worker: then both are announced together. The same job builds what
        the other pages need of the result (the Library's photos, the similar index: 0.3 s of
        Python at 100k photos), which, built after, would share the GIL with the grid's first
        paint and slow it."""
        review = self._review().detached()

        def job(_progress) -> tuple[ScanResult, ReadyGroups, Library]:
            ready = make_ready(result.records, result.groups, result.companions, review)
            self._similar.index(result)  # kept by the search, for this result
            return result, ready, Library(result.records, result.settings.roots)

        self.run(job, self._scan_finished, self._scan_failed)

    def _scan_finished(self, payload: tuple[ScanResult, ReadyGroups, Library]) -> None:
        result, ready, photos = payload
        if self._ready_again(
            ready, lambda again: (result, again, photos), self._scan_finished, self._scan_failed
        ):
            return
        self._scan = None
        self.result = result
        self.photos = photos
        self._gone = frozenset()
        self._set_groups(ready.groups)
        self._regroup_generation += 1  # a regroup of the previous library is now stale
        self.busyChanged.emit(False)
        self.scanFinished.emit(result)
        self.groupsChanged.emit(ready)
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
        self._regroup_busy = True
        self._regroup_generation += 1
        generation, result, gone, review = (
            self._regroup_generation,
            self.result,
            self._gone,
            self._review().detached(),
        )

        def run(_progress) -> tuple[int, frozenset[str], ReadyGroups]:
            groups = without_paths(result, regroup_result(result, thresholds), gone)
            return generation, gone, make_ready(result.records, groups, result.companions, review)

        self.run(run, self._regrouped, self._regroup_failed)

    def _regrouped(self, payload: tuple[int, frozenset[str], ReadyGroups]) -> None:
        generation, gone, ready = payload
        current = generation == self._regroup_generation and self.result is not None
        if (
            current
            and gone is self._gone
            and self._ready_again(
                ready, lambda again: (generation, gone, again), self._regrouped, self._regroup_failed
            )
        ):
            return  # still busy: the slider's next position waits for these groups
        self._regroup_busy = False
        if current:
            if gone is self._gone:
                self._set_groups(ready.groups)
                self.groupsChanged.emit(ready)
            else:  # files were cleaned up while it ran: they stay out
                self._show(ready.groups)
        self._run_pending_regroup()

    def _regroup_failed(self, message: str) -> None:
        self._regroup_busy = False
        self.regroupFailed.emit(message)
        self._run_pending_regroup()

    def _run_pending_regroup(self) -> None:
        if self._pending_thresholds is not None:
            thresholds, self._pending_thresholds = self._pending_thresholds, None
            self.regroup(thresholds)

    def hide_group(self, group_id: int) -> None:
        """Drop a group from the current view (the user decided about it; the decision store
        keeps it out of later scans and regroups)."""
        self._show(tuple(g for g in self.groups if g.id != group_id))

    # -- handing groups to the grid ----------------------------------------------------------------

    def _set_groups(self, groups: tuple[Group, ...]) -> None:
        self.groups = groups
        self._groups_version += 1

    def _show(self, groups: tuple[Group, ...]) -> None:
        """Make `groups` the current groups and show them, less the files cleaned up since
        the scan: made ready on a worker (at 100k photos even dropping those files from 20k
        groups takes longer than a frame) and announced then, unless other groups came first."""
        self._set_groups(groups)
        result = self.result
        if result is None:
            return
        version, gone, review = self._groups_version, self._gone, self._review().detached()

        def run(_progress) -> tuple[int, ReadyGroups]:
            kept = without_paths(result, groups, gone)
            return version, make_ready(result.records, kept, result.companions, review)

        self.run(run, self._groups_ready, self.regroupFailed)

    def _groups_ready(self, payload: tuple[int, ReadyGroups]) -> None:
        version, ready = payload
        if version != self._groups_version:
            return
        if not self._ready_again(
            ready, lambda again: (version, again), self._groups_ready, self.regroupFailed
        ):
            self.groups = ready.groups  # without the files cleaned up
            self.groupsChanged.emit(ready)

    def _ready_again(
        self,
        ready: ReadyGroups,
        wrap: Callable[[ReadyGroups], Any],
        finished: Callable[[Any], None],
        failed: Callable[[str], None],
    ) -> bool:
        """If the review changed since `ready` was made (the user marked while it was made),
        make the same groups ready again against the review as it is now, on a worker (at
        100k photos the carry-over is 0.1-0.3 s of Python), and hand `wrap(ready again)` to
        `finished`, which checks again; True then. False: `ready` may be shown as it is."""
        if ready.base_version == self._review().version:
            return False
        review = self._review().detached()
        self.run(
            lambda _progress: wrap(make_ready(ready.records, ready.groups, ready.companions, review)),
            finished,
            failed,
        )
        return True

    # -- clean-up and undo -----------------------------------------------------------------------

    def trash(self, review: Marks, carry: bool = False) -> bool:
        """Move the files marked in `review` (the grid's review state: its marks, keepers and
        protected folders) to the trash on a worker thread. Emits trashFinished(BatchReport)
        or trashFailed. False if it cannot start. `carry`: write the metadata the keepers lack
        into their XMP sidecars (photofind.core.cleanup.carry)."""
        result = self.current_result()
        if result is None or self.is_busy:
            return False
        from photofind.core.cleanup.actions import Action, plan_marked

        if not review.count:
            return False
        journal_path = self.journal_path

        def run(progress):
            from photofind.core.cleanup.executor import execute
            from photofind.core.cleanup.journal import Journal

            # Planned here, off the GUI thread: a plan hashes the companions it takes along
            # (Live Photo videos are megabytes) and, with `carry`, reads every copy's metadata.
            plan = plan_marked(result, review, Action.TRASH, carry=carry)
            if not plan.items:
                why = plan.refused[0].reason if plan.refused else "nothing to act on"
                raise ValueError(f"every marked photo was left alone: {why}")
            with Journal(journal_path) as journal:
                return execute(plan, journal=journal, progress=progress)

        return self._start_action(run, self._trash_finished, self._trash_failed)

    def undo(self) -> bool:
        """Undo the newest clean-up batch; emits undoFinished(UndoReport) or undoFailed."""
        if self.is_busy:
            return False
        journal_path = self.journal_path

        def run(progress):
            from photofind.core.cleanup.journal import Journal
            from photofind.core.cleanup.restore import undo

            with Journal(journal_path) as journal:
                return undo(journal=journal, progress=progress)

        return self._start_action(run, self._undo_finished, self._undo_failed)

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

    def _start_action(
        self, fn: Callable, finished: Callable[[Any], None], failed: Callable[[str], None]
    ) -> bool:
        """Run a clean-up or an undo, `fn(progress)`, on a worker (see `run`): the app is
        busy until it is done, and its progress is shown."""
        self._action_running = True
        self.run(fn, finished, failed, progressed=True, builds=False)
        self.busyChanged.emit(True)
        return True

    def run(
        self,
        fn: Callable[[Any], Any],
        finished: Callable[[Any], None],
        failed: Callable[[str], None],
        *,
        progressed: bool = False,
        builds: bool = True,
    ) -> None:
        """Run `fn(progress)` on a worker thread: its result goes to `finished`, an error to
        `failed`. Both must be bound methods (or signals) of objects living on the GUI
        thread, so Qt queues the calls there. `progressed`: forward its progress. `builds`:
        fn builds what the GUI shows next, in a second at most (see ActionWorker)."""
        worker = ActionWorker(fn, builds=builds)
        if progressed:
            worker.progressed.connect(self.progressed)
        worker.finished.connect(finished)
        worker.failed.connect(failed)
        self._launch(worker)

    def _action_done(self) -> None:
        self._action_running = False
        self.busyChanged.emit(False)

    def _trash_finished(self, report: BatchReport) -> None:
        from photofind.core.cleanup.executor import Status

        done = {o.item.path for o in report.outcomes if o.status is Status.DONE}
        self._gone = self._gone | done
        self._action_done()
        self.trashFinished.emit(report)  # the grid forgets the files first, then new groups come
        if self.result is not None:
            self._show(self.groups)

    def _trash_failed(self, message: str) -> None:
        self._action_done()
        self.trashFailed.emit(message)

    def _undo_finished(self, report: UndoReport) -> None:
        self._action_done()
        self.undoFinished.emit(report)

    def _undo_failed(self, message: str) -> None:
        self._action_done()
        self.undoFailed.emit(message)

    def library_records(self) -> tuple[ImageRecord, ...]:
        """Every photo of the last scan that is still there (not cleaned up since)."""
        if self.result is None:
            return ()
        if not self._gone:
            return self.result.records
        return tuple(r for r in self.result.records if r.path not in self._gone)

    def library_roots(self) -> tuple[str, ...]:
        """The folders the last scan looked in."""
        return () if self.result is None else self.result.settings.roots

    def library_row(self, path: str) -> int | None:
        """The position in the last scan's records of the photo at `path`, if it is one (the
        similar index's lookup, built with the scan's groups)."""
        index = None if self.result is None else self._similar.built_index(self.result)
        return None if index is None else index.row_of(path)

    # -- similar search (called from the similar view's pool thread) ----------------------------

    def similar_search(self, path: str, top: int) -> list[similar_search.Match]:
        result = self.result
        if result is None:
            raise RuntimeError("Scan a folder first: similar photos are searched in the library.")
        return self._similar.search(result, path, top, embedder=self.embedders.current())

    # -- threads -----------------------------------------------------------------------------

    def _launch(self, worker: ActionWorker) -> None:
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
            worker.cancel()
        for thread in list(self._jobs):
            thread.quit()
            thread.wait(timeout_ms)
        self._jobs.clear()


def regroup_result(result: ScanResult, thresholds: Thresholds) -> tuple[Group, ...]:
    """Groups for `result` at `thresholds`, from its stored embeddings: no file is read."""
    from photofind.core.cleanup.decisions import apply_for_scan

    groups = tuple(_regrouper_for(result).group(thresholds))
    settings = dataclasses.replace(result.settings, thresholds=thresholds)
    groups, _warnings = apply_for_scan(
        groups, result.records, result.embeddings, settings, companions=result.companions
    )
    return tuple(groups)


_REGROUPERS: dict[int, tuple[ScanResult, Regrouper]] = {}


def _regrouper_for(result: ScanResult) -> Regrouper:
    """One Regrouper per result: its candidate index is built once, then every slider
    position regroups from it. Keyed by id(); the result itself is kept alive alongside."""
    from photofind.core.match.grouping import Regrouper

    key = id(result)
    cached = _REGROUPERS.get(key)
    if cached is None or cached[0] is not result:
        _REGROUPERS.clear()  # only the current library is ever regrouped
        cached = (result, Regrouper.from_result(result))
        _REGROUPERS[key] = cached
    return cached[1]


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
