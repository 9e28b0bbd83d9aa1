"""Run something once a widget has painted: work that would share the GIL with that paint
(a Python build on a worker thread) waits until the user sees the result it follows."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

# A widget that is visible yet gets no paint (the window minimised, covered on a platform
# that skips hidden windows) must not hold the work back for ever.
LONGEST_WAIT_MS = 500


class _AfterPaint(QObject):
    def __init__(self, widget: QWidget, action: Callable[[], None]) -> None:
        super().__init__(widget)
        self._action: Callable[[], None] | None = action
        widget.installEventFilter(self)
        QTimer.singleShot(LONGEST_WAIT_MS, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._run)  # the paint being delivered comes first
        return False

    def _run(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()
            self.deleteLater()


def after_next_paint(widget: QWidget, action: Callable[[], None]) -> None:
    """Call `action` on this thread after `widget`'s next paint; at once (from the event loop)
    if it is not shown, and after LONGEST_WAIT_MS at most."""
    if widget.isVisible():
        _AfterPaint(widget, action)
    else:
        QTimer.singleShot(0, action)
