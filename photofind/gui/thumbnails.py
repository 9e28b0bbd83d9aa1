"""Thumbnails for the cells being painted: decoded on a QThreadPool, kept in a bounded LRU.

Only the view's paint asks for thumbnails, so only visible cells are ever loaded. Pool
threads produce QImage (QPixmap is GUI-thread only); the GUI thread converts and caches.
Scrolling drops requests that have not started yet, and a generation counter discards
loads that finish after the library was replaced (a file may now hold other bytes).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from PySide6.QtCore import QObject, QRectF, QRunnable, QSize, Qt, QThread, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage, QImageReader, QPainter, QPainterPath, QPixmap

from photofind.core.scan.rawfiles import is_raw_name
from photofind.gui.workers import run_in_background

DEFAULT_BOX = 320  # device pixels; views pass their exact cell size so painting never rescales
DEFAULT_BUDGET_BYTES = 96 * 1024 * 1024


def read_thumbnail(path: str, box: int) -> QImage:
    """Decode `path` to fit in box x box, upright as the camera meant (EXIF orientation).

    Qt's readers decode JPEG at a reduced scale directly, far cheaper than a full decode.
    Formats Qt lacks (HEIC, some TIFFs) and camera RAW (whose TIFF-like container Qt would
    misread) go through the engine's decoder. Returns a null QImage on failure.
    """
    if is_raw_name(path):
        return _read_with_engine(path, box)
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() > 0 and size.height() > 0:
        # The box is square, so fitting the stored (pre-rotation) size also fits the result.
        reader.setScaledSize(
            size.scaled(QSize(box, box), Qt.AspectRatioMode.KeepAspectRatio)
            if max(size.width(), size.height()) > box
            else size
        )
        image = reader.read()
        if not image.isNull():
            return image
    return _read_with_engine(path, box)


def rounded(image: QImage, radius: float) -> QImage:
    """`image` with transparent rounded corners, drawn once here instead of clipped per paint."""
    out = QImage(image.size(), QImage.Format.Format_ARGB32_Premultiplied)
    out.fill(Qt.GlobalColor.transparent)
    painter = QPainter(out)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, image.width(), image.height()), radius, radius)
    painter.setClipPath(path)
    painter.drawImage(0, 0, image)
    painter.end()
    return out


def _read_with_engine(path: str, box: int) -> QImage:
    """Pillow, pillow-heif and rawpy through the scan's decoder: upright, fitted into the box."""
    from photofind.core.scan.imageio import decode_file
    from photofind.core.types import Skipped

    try:
        decoded = decode_file(path, work_size=box)
        if isinstance(decoded, Skipped):
            return QImage()
        rgb = decoded.image.convert("RGB")
        data = rgb.tobytes()
        image = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
        return image.copy()  # detach from `data`, which Python frees when we return
    except Exception:  # noqa: BLE001 - an unreadable thumbnail is a grey cell, not a crash
        return QImage()


class _Relay(QObject):
    """Lives on the GUI thread; pool threads emit through it, so Qt queues the delivery."""

    loaded = Signal(str, int, QImage)


class _LoadTask(QRunnable):
    def __init__(self, path: str, box: int, generation: int, relay: _Relay, radius: float) -> None:
        super().__init__()
        self.path, self.box, self.generation, self.relay = path, box, generation, relay
        self.radius = radius
        self.started = threading.Event()
        self.setAutoDelete(True)

    def run(self) -> None:
        self.started.set()
        run_in_background()
        image = read_thumbnail(self.path, self.box)
        if self.radius and not image.isNull():
            image = rounded(image, self.radius)
        try:
            self.relay.loaded.emit(self.path, self.generation, image)
        except RuntimeError:
            pass  # the loader is gone (the window closed while this ran): nobody to tell


class ThumbnailLoader(QObject):
    """`get(path)` returns a cached QPixmap or None and schedules the load;
    `thumbnailsReady(paths)` fires, coalesced to at most every 30 ms, with the paths whose
    thumbnails (or failures) arrived since the last time, so a view repaints only those cells."""

    thumbnailsReady = Signal(list)

    def __init__(
        self,
        box: int = DEFAULT_BOX,
        *,
        radius: float = 0.0,
        device_pixel_ratio: float = 1.0,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        threads: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.box = box
        self.radius = radius
        self.device_pixel_ratio = device_pixel_ratio
        self._budget = budget_bytes
        self._used = 0
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._pending: dict[str, threading.Event] = {}  # path -> "has started"
        self._generation = 0
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads or max(2, min(4, QThreadPool.globalInstance().maxThreadCount())))
        self._pool.setThreadPriority(QThread.Priority.LowPriority)
        self._relay = _Relay()
        self._relay.loaded.connect(self._on_loaded)
        self._arrived: list[str] = []
        self._notify = QTimer(self, singleShot=True, interval=30)
        self._notify.timeout.connect(self._announce)

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, path: str) -> QPixmap | None:
        pixmap = self._cache.get(path)
        if pixmap is not None:
            self._cache.move_to_end(path)
            return pixmap
        if path not in self._pending and path not in self._failed:
            task = _LoadTask(
                path, self.box, self._generation, self._relay, self.radius * self.device_pixel_ratio
            )
            self._pending[path] = task.started
            self._pool.start(task)
        return None

    def failed(self, path: str) -> bool:
        return path in self._failed

    def drop_queued(self) -> None:
        """Forget requests that have not started (the user scrolled past them); the next
        paint asks again for whatever is visible now."""
        self._pool.clear()
        self._pending = {p: s for p, s in self._pending.items() if s.is_set()}

    def reset(self) -> None:
        """New library: drop everything, and ignore loads still in flight."""
        self._generation += 1
        self.drop_queued()
        self._pending.clear()
        self._cache.clear()
        self._failed.clear()
        self._used = 0

    def wait_idle(self, msecs: int = 5000) -> bool:
        return self._pool.waitForDone(msecs)

    def cached_count(self) -> int:
        return len(self._cache)

    def pending_count(self) -> int:
        """Loads requested and not yet delivered (queued or running)."""
        return len(self._pending)

    def _on_loaded(self, path: str, generation: int, image: QImage) -> None:
        if generation != self._generation:
            return
        self._pending.pop(path, None)
        if image.isNull():
            self._failed.add(path)
        else:
            pixmap = QPixmap.fromImage(image)
            pixmap.setDevicePixelRatio(self.device_pixel_ratio)
            old = self._cache.pop(path, None)
            if old is not None:
                self._used -= _cost(old)
            self._cache[path] = pixmap
            self._used += _cost(pixmap)
            while self._used > self._budget and len(self._cache) > 1:
                _, evicted = self._cache.popitem(last=False)
                self._used -= _cost(evicted)
        self._arrived.append(path)
        if not self._notify.isActive():
            self._notify.start()

    def _announce(self) -> None:
        arrived, self._arrived = self._arrived, []
        if arrived:
            self.thumbnailsReady.emit(arrived)


def _cost(pixmap: QPixmap) -> int:
    return pixmap.width() * pixmap.height() * 4
