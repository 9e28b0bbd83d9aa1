"""Edits of every group of the grid (mark by rule, clear all marks, a keeper rule chain,
protected folders), made on a worker so the GUI thread never holds them.

At 100k photos such an edit is 0.1 to 1 s of Python. Each runs on a worker against a
detached copy of the grid's review state (`GroupModel.edit_job`), and the GUI thread adopts
the copy (`GroupModel.adopt_edit`: a swap and one signal). A copy is refused when the review
changed while the edit ran (a mark, new groups from the slider): the edit is then made again,
for the groups shown then, on a new copy, so neither change is lost, and the user is told why
it takes longer. Edits run one at a time, in the order they were asked for.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from photofind.core.cleanup.edits import Edit, EditedReview
from photofind.gui.controller import ScanController
from photofind.gui.group_model import GroupModel


class ReviewEdits(QObject):
    applied = Signal(object)  # an edit's outcome, once the grid shows it
    busyChanged = Signal(bool)  # an edit waits or runs: marks are about to change
    statusMessage = Signal(str)  # why an edit takes longer, or why it failed

    def __init__(self, model: GroupModel, controller: ScanController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.controller = controller
        # Waiting edits, the running one first: (what it does, in words; the edit of the groups
        # shown when it starts; what to do with its outcome once shown).
        self._queue: deque[tuple[str, Callable[[], Edit[Any]], Callable[[Any], None]]] = deque()

    @property
    def busy(self) -> bool:
        return bool(self._queue)

    def start(self, what: str, edit: Callable[[], Edit[Any]], done: Callable[[Any], None]) -> None:
        """Make `edit()` on a worker, after the edits asked for before it: `edit` is called
        here when it starts (again if it is made again), so it edits the groups shown then.
        `done(outcome)` runs on this thread once the grid shows the result. `what`: what it
        does, in words ("marking by rule"), for the status bar."""
        self._queue.append((what, edit, done))
        if len(self._queue) == 1:
            self.busyChanged.emit(True)
            self._run_first()

    def _run_first(self) -> None:
        _what, edit, _done = self._queue[0]
        job = self.model.edit_job(edit())  # the copy is taken now, on this thread
        self.controller.run(lambda _progress: job(), self._edited, self._failed)

    def _edited(self, edited: EditedReview) -> None:
        what, _edit, done = self._queue[0]
        if not self.model.adopt_edit(edited):
            self.statusMessage.emit(
                f"The groups or marks changed while {what}; doing it again with them\u2026"
            )
            self._run_first()
            return
        self._queue.popleft()
        done(edited.outcome)
        self.applied.emit(edited.outcome)
        self._next()

    def _failed(self, message: str) -> None:
        what, _edit, _done = self._queue.popleft()
        self.statusMessage.emit(f"{what.capitalize()} failed: {message}")
        self._next()

    def _next(self) -> None:
        if self._queue:
            self._run_first()
        else:
            self.busyChanged.emit(False)
