"""GUI fixtures: an isolated QSettings file, and the real main window wired to a fast embedder,
a private cache and a private journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from photofind.core.types import ScanResult


@pytest.fixture
def qsettings(tmp_path: Path) -> QSettings:
    """Settings in a file of this test only: the real user's settings are never read or written."""
    return QSettings(str(tmp_path / "settings" / "photofind.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, qsettings, tmp_path: Path) -> Callable:
    """make_window(embedder=..., settings=..., **window_kwargs) -> a shown MainWindow."""
    from photofind.gui.app import create_application
    from photofind.gui.controller import ScanController
    from photofind.gui.main_window import MainWindow

    create_application()
    windows = []

    def make(embedder=None, settings: QSettings | None = None, **kwargs):
        controller = ScanController(
            embedder=embedder,
            cache_path=str(tmp_path / "cache" / "cache.sqlite3"),
            journal_path=str(tmp_path / "data" / "journal.sqlite3"),
            workers=2,
        )
        window = MainWindow(controller, settings or qsettings, **kwargs)
        qtbot.addWidget(window)
        window.resize(1200, 800)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.controller.shutdown()
        window.grid.loader.wait_idle(5000)


@pytest.fixture
def window(make_window, fake_embedder):
    return make_window(embedder=fake_embedder)


def scan_and_wait(qtbot, window, timeout: int = 60_000) -> ScanResult:
    """Press Scan in `window` and return the result once the grid shows it, and the Library
    lists its photos (built on a worker once the grid has painted the groups)."""
    with qtbot.waitSignal(window.controller.groupsChanged, timeout=timeout):
        with qtbot.waitSignal(window.controller.scanFinished, timeout=timeout) as finished:
            assert window.start_scan()
    result = finished.args[0]
    qtbot.waitUntil(
        lambda: (
            window.library.model.photo_count() == len(result.records)
            and not window.library.model.is_building()
        ),
        timeout=timeout,
    )
    return result


def edit_and_wait(qtbot, window, start: Callable[[], object], timeout: int = 30_000) -> object:
    """Start an edit of every group (mark by rule, clear the marks, a keeper rule, protected
    folders: made on a worker) and return its outcome once the grid shows it."""
    with qtbot.waitSignal(window.review.edits.applied, timeout=timeout) as applied:
        start()
    return applied.args[0]
