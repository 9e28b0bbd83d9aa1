"""The status bar's live parts: a message, the scan's progress (phase, counts, rate, time
left) and the button that opens the skipped-files panel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

from photofind.gui import assets, text
from photofind.gui.workers import ProgressInfo


def describe(info: ProgressInfo) -> str:
    """'Embedding · 340 of 2,000 · 85/s · about 20 s left'."""
    parts = [info.phase.capitalize(), f"{info.done:,}" + (f" of {info.total:,}" if info.total else "")]
    if info.rate > 0:
        parts.append(f"{info.rate:,.0f}/s")
    if info.eta is not None and info.eta >= 1:
        parts.append(f"about {text.duration(info.eta)} left")
    return "  \u00b7  ".join(parts)


class ScanStatus:
    """Owns the widgets it adds to `bar`; the window reads and sets them through it."""

    def __init__(self, bar: QStatusBar) -> None:
        self.message = QLabel("Ready")
        self.message.setObjectName("statusText")
        self.progress_text = QLabel()
        self.progress_text.setObjectName("progressText")
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("scanProgress")
        self.progress_bar.setFixedWidth(220)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.skipped_button = QToolButton()
        self.skipped_button.setObjectName("skippedButton")
        self.skipped_button.setIcon(assets.icon("skipped"))
        self.skipped_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.skipped_button.setCheckable(True)
        self.skipped_button.setToolTip("Files that could not be read, and why")
        self.set_skipped(0)
        bar.setSizeGripEnabled(False)
        bar.addWidget(self.message, 1)
        bar.addPermanentWidget(self.progress_text)
        bar.addPermanentWidget(self.progress_bar)
        bar.addPermanentWidget(self.skipped_button)

    def show_message(self, message: str) -> None:
        self.message.setText(message)
        self.message.setToolTip(message)

    def started(self) -> None:
        self.progress_bar.setRange(0, 0)  # busy until the first count arrives
        self.progress_bar.show()
        self.progress_text.setText("Starting\u2026")

    def progressed(self, info: ProgressInfo) -> None:
        if info.total:
            self.progress_bar.setRange(0, info.total)
            self.progress_bar.setValue(info.done)
        else:
            self.progress_bar.setRange(0, 0)
        self.progress_text.setText(describe(info))

    def finished(self) -> None:
        self.progress_bar.hide()
        self.progress_text.clear()

    def set_skipped(self, count: int) -> None:
        self.skipped_button.setText(f"{count:,} skipped")
