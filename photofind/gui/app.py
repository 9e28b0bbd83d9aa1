"""Start the desktop app: the QApplication (name, icon, style), an exception hook that shows
errors instead of dying silently, and the main window. `photofind gui` and `photofind-gui`
both land in `main()`."""

from __future__ import annotations

import gc
import sys
import traceback
from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from photofind import __version__
from photofind.gui import assets

APP_NAME = "photofind"
# 0.25 ms, not Python's 5 ms: at 100k photos, protecting a folder stalled the GUI thread
# 57-85 ms at 1 ms and 21-28 ms at 0.25 ms (benchmarks/gui_responsiveness.py --synthetic),
# for no measurable cost to a scan (its Python threads take turns more often).
GIL_SWITCH_INTERVAL_S = 0.00025
WARM_UP_DELAY_MS = 300  # after the first paint: the window is up before torch loads


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The running QApplication, configured once (tests and scripts may already have one)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_NAME)  # matches resources/photofind.desktop for the taskbar icon
    app.setWindowIcon(assets.app_icon())
    app.setStyle("Fusion")  # the style sheet is written against Fusion's metrics on every OS
    app.setStyleSheet(assets.style_sheet())
    # Workers run Python too (grouping, decoding glue). A waiting GUI thread gets the GIL
    # back after at most this long, instead of the default 5 ms per contending thread.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return app


class ErrorReporter:
    """sys.excepthook for the GUI: print the traceback, then say so in a dialog. Without it an
    exception in a slot only reaches stderr, which a desktop user never sees."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent
        self._showing = False
        self._previous = sys.excepthook

    def install(self) -> ErrorReporter:
        sys.excepthook = self
        return self

    def uninstall(self) -> None:
        sys.excepthook = self._previous

    def __call__(self, exc_type, exc, tb) -> None:
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(details)
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        if self._showing or QApplication.instance() is None:
            return  # one dialog at a time: a failing paint must not stack hundreds
        self._showing = True
        try:
            box = QMessageBox(
                QMessageBox.Icon.Critical,
                "Something went wrong",
                f"photofind hit an unexpected error: {exc}",
                parent=self.parent,
            )
            box.setInformativeText(
                "Your files were not changed by this error. "
                "Details are below; please include them in a bug report."
            )
            box.setDetailedText(details)
            box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            box.exec()
        finally:
            self._showing = False


def main(paths: list[str] | None = None) -> int:
    """Open the app with `paths` added to the library (None: take them from the command line,
    as the `photofind-gui` entry point calls this without arguments)."""
    if paths is None:
        paths = [a for a in sys.argv[1:] if not a.startswith("-")]
    app = create_application()
    from photofind.gui.main_window import MainWindow  # after the QApplication exists

    window = MainWindow()
    # The objects alive now (Qt wrappers, modules) live as long as the app: keep them out of
    # garbage collections, whose full passes hold the GIL and would stall painting.
    gc.freeze()
    reporter = ErrorReporter(window).install()
    added = window.add_folders(list(paths))
    if paths and not added:
        window.show_status("None of the given paths is a folder that can be added.")
    window.show()
    if window.prefs.embed:
        from photofind.gui.workers import warm_up_engine

        QTimer.singleShot(WARM_UP_DELAY_MS, warm_up_engine)
    try:
        return app.exec()
    finally:
        reporter.uninstall()
