"""Load large previews off the GUI thread, the way the user sees the photo (EXIF orientation applied).

Workers only ever produce a QImage; the GUI thread turns it into a QPixmap, because QPixmap
must not be touched outside the GUI thread. Qt's own readers come first (libjpeg decodes a
scaled JPEG directly, which is much faster than a full decode); formats Qt cannot read, such as
HEIC, fall back to the engine's Pillow decoder.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, QRunnable, QSize, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader

from photofind.core.scan.rawfiles import is_raw_name
from photofind.gui.workers import run_in_background

# Previews are kept in memory per open view, so bound their size: a 4096-px RGB32 preview of a
# 4:3 photo is about 50 MB. Callers ask for less when they show many photos at once.
DEFAULT_MAX_SIDE = 2560


class PreviewError(Exception):
    """A photo could not be shown; the message is meant for the user."""


def read_preview(path: str, max_side: int = DEFAULT_MAX_SIDE) -> QImage:
    """Decode `path` with its longer side at most `max_side` pixels and orientation applied.

    Safe to call from any thread (it touches only QImage). Raises PreviewError with a reason.
    """
    if not os.path.isfile(path):
        raise PreviewError("the file no longer exists" if not os.path.exists(path) else "not a file")
    if is_raw_name(path):  # Qt would read a RAW's TIFF-like container as its tiny thumbnail
        return _read_with_pillow(path, max_side, "")
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    # The content decides the format: a PNG saved as ".jpg" is common in downloaded photos.
    reader.setDecideFormatFromContent(True)
    qt_error = ""
    if reader.canRead():
        size = reader.size()
        longest = max(size.width(), size.height())
        if size.isValid() and longest > max_side:
            # The stored size, before rotation: scaling keeps the longer side either way.
            factor = max_side / longest
            reader.setScaledSize(
                QSize(max(1, round(size.width() * factor)), max(1, round(size.height() * factor)))
            )
        image = reader.read()
        if not image.isNull():
            return image
        qt_error = reader.errorString()
    return _read_with_pillow(path, max_side, qt_error)


def _read_with_pillow(path: str, max_side: int, qt_error: str) -> QImage:
    from photofind.core.scan.imageio import decode_file  # Pillow and pillow-heif: HEIC, odd TIFFs
    from photofind.core.types import Skipped

    decoded = decode_file(path, work_size=max_side)
    if isinstance(decoded, Skipped):
        raise PreviewError(decoded.detail or decoded.reason.value or qt_error)
    rgb = decoded.image.convert("RGB")
    width, height = rgb.size
    data = rgb.tobytes()
    # copy(): the QImage must own its pixels, not borrow the short-lived Python bytes.
    return QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


_POOL: QThreadPool | None = None


def preview_pool() -> QThreadPool:
    """One small pool for all previews, so large decodes never starve the thumbnail loader."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(max(1, min(3, QThreadPool.globalInstance().maxThreadCount() - 1)))
        _POOL.setObjectName("photofind-previews")
    return _POOL


class _Relay(QObject):
    """Carries a finished decode back to the GUI thread (queued, because it is emitted from a worker)."""

    done = Signal(str, int, QImage, str)  # path, max_side, image, error


class _Ticket:
    """Lets a queued task know it is no longer wanted, so it skips the decode."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False


class _PreviewTask(QRunnable):
    # The pool owns and deletes the task (autoDelete); we keep only its ticket, never the task,
    # so nothing on the GUI side can delete a runnable that is still running.
    def __init__(self, relay: _Relay, ticket: _Ticket, path: str, max_side: int) -> None:
        super().__init__()
        self._relay = relay  # a Python reference keeps the relay alive while the task runs
        self._ticket = ticket
        self._path = path
        self._max_side = max_side

    def run(self) -> None:
        if self._ticket.cancelled:
            return
        run_in_background()
        error = ""
        try:
            image = read_preview(self._path, self._max_side)
        except PreviewError as exc:
            image, error = QImage(), str(exc) or "cannot be shown"
        except Exception as exc:  # noqa: BLE001 - a codec bug must show as a message, not kill the app
            image, error = QImage(), f"{type(exc).__name__}: {exc}"
        self._relay.done.emit(self._path, self._max_side, image, error)


class PreviewLoader(QObject):
    """Asynchronous preview requests. Each (path, max_side) is decoded once while in flight.

    `loaded` and `failed` arrive on the thread this object lives in (the GUI thread).
    """

    loaded = Signal(str, int, QImage)  # path, max_side, image (orientation applied)
    failed = Signal(str, int, str)  # path, max_side, reason for the user

    def __init__(self, parent: QObject | None = None, *, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or preview_pool()
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._pending: dict[tuple[str, int], _Ticket] = {}

    def request(self, path: str, max_side: int = DEFAULT_MAX_SIDE, *, priority: int = 0) -> None:
        key = (path, int(max_side))
        if key in self._pending:
            return
        ticket = _Ticket()
        self._pending[key] = ticket
        self._pool.start(_PreviewTask(self._relay, ticket, path, int(max_side)), priority)

    def is_pending(self, path: str, max_side: int = DEFAULT_MAX_SIDE) -> bool:
        return (path, int(max_side)) in self._pending

    def cancel_all(self) -> None:
        """Queued requests are skipped; running decodes finish and their answer is ignored."""
        for ticket in self._pending.values():
            ticket.cancelled = True
        self._pending.clear()

    @Slot(str, int, QImage, str)
    def _on_done(self, path: str, max_side: int, image: QImage, error: str) -> None:
        ticket = self._pending.get((path, max_side))
        if ticket is None or ticket.cancelled:
            return  # cancelled meanwhile: the view no longer wants it
        del self._pending[(path, max_side)]
        if error or image.isNull():
            self.failed.emit(path, max_side, error or "cannot be shown")
        else:
            self.loaded.emit(path, max_side, image)
