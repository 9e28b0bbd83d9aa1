"""Work that follows a paint: after it, at once for a hidden widget, never held for ever."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QWidget

from photofind.gui import after_paint
from photofind.gui.after_paint import after_next_paint
from photofind.gui.app import create_application


class Recording(QWidget):
    def __init__(self, events: list[str]) -> None:
        super().__init__()
        self.events = events

    def paintEvent(self, event) -> None:
        self.events.append("painted")


def shown(qtbot, events: list[str]) -> Recording:
    create_application()
    widget = Recording(events)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    QApplication.processEvents()
    return widget


def test_the_action_runs_once_the_widget_has_painted(qtbot):
    events: list[str] = []
    widget = shown(qtbot, events)
    events.clear()
    after_next_paint(widget, lambda: events.append("action"))
    widget.update()
    qtbot.waitUntil(lambda: "action" in events, timeout=5_000)
    assert events[:2] == ["painted", "action"]
    QApplication.processEvents()
    assert events.count("action") == 1  # the fallback timer does not run it again


def test_a_hidden_widget_does_not_hold_the_action_back(qtbot):
    create_application()
    done: list[str] = []
    after_next_paint(QWidget(), lambda: done.append("action"))
    qtbot.waitUntil(lambda: done == ["action"], timeout=5_000)


def test_a_widget_that_is_not_painted_again_lets_the_action_run_at_last(qtbot, monkeypatch):
    monkeypatch.setattr(after_paint, "LONGEST_WAIT_MS", 50)
    events: list[str] = []
    widget = shown(qtbot, events)
    events.clear()
    after_next_paint(widget, lambda: events.append("action"))  # no update: no paint comes
    qtbot.waitUntil(lambda: "action" in events, timeout=5_000)
    assert events == ["action"]
