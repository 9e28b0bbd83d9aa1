"""A photo pane with zoom and pan, and a ViewSync that keeps several panes on the same spot.

The view state is (zoom relative to "fit", centre in 0..1 image coordinates). Because it is
relative, a half-size copy and its original line up: zooming into a face in one pane shows the
same face in every pane, whatever each file's resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

MAX_ZOOM = 64.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch
_BACKGROUND = QColor("#1c1e22")
_ACCENT = QColor("#4c8dff")
_TEXT = QColor("#9aa0a8")


class ImagePane(QWidget):
    """Paints one photo at the current zoom/centre; wheel zooms at the cursor, drag pans."""

    viewChanged = Signal(float, QPointF)  # zoom (1 = fit), centre in image fractions
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pixmap: QPixmap | None = None
        self._original = QSize()  # the file's real size, so "100%" means one file pixel
        self._message = "Loading…"
        self._zoom = 1.0
        self._center = QPointF(0.5, 0.5)
        self._drag_from: QPointF | None = None
        self._current = False
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the dialog
        self.setMinimumSize(180, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    # ---- state -------------------------------------------------------------------------------
    @property
    def has_image(self) -> bool:
        return self._pixmap is not None

    @property
    def image_size(self) -> QSize:
        return self._pixmap.size() if self._pixmap is not None else QSize()

    @property
    def message(self) -> str:
        return self._message

    @property
    def zoom(self) -> float:
        return self._zoom

    @property
    def center(self) -> QPointF:
        return QPointF(self._center)

    def set_image(self, image: QImage, original: QSize | None = None) -> None:
        self._pixmap = QPixmap.fromImage(image)  # GUI thread only
        self._original = (
            QSize(original) if original is not None and original.isValid() else self._pixmap.size()
        )
        self._message = ""
        self.update()

    def set_message(self, text: str) -> None:
        """Show `text` instead of a photo (loading, or why it cannot be shown)."""
        self._pixmap = None
        self._message = text
        self.update()

    def set_current(self, current: bool) -> None:
        if current != self._current:
            self._current = current
            self.update()

    def set_view(self, zoom: float, center: QPointF, *, notify: bool = False) -> None:
        zoom = min(MAX_ZOOM, max(1.0, float(zoom)))
        center = QPointF(min(1.0, max(0.0, center.x())), min(1.0, max(0.0, center.y())))
        if zoom == 1.0:
            center = QPointF(0.5, 0.5)  # "fit" always shows the whole photo
        if zoom == self._zoom and center == self._center:
            return
        self._zoom, self._center = zoom, center
        self.update()
        if notify:
            self.viewChanged.emit(self._zoom, QPointF(self._center))

    # ---- geometry ----------------------------------------------------------------------------
    def fit_scale(self) -> float:
        """Screen pixels per preview pixel when the whole photo fits."""
        if self._pixmap is None or self._pixmap.isNull():
            return 1.0
        area = self.rect().adjusted(4, 4, -4, -4)
        return min(area.width() / self._pixmap.width(), area.height() / self._pixmap.height())

    def scale(self) -> float:
        return self.fit_scale() * self._zoom

    def actual_size_zoom(self) -> float:
        """The zoom at which one pixel of the original file is one screen pixel."""
        if self._pixmap is None or self._pixmap.width() == 0:
            return 1.0
        per_preview_px = self._original.width() / self._pixmap.width()
        return max(1.0, per_preview_px / max(self.fit_scale(), 1e-9))

    def percent(self) -> float:
        """Zoom as the user thinks of it: 100 means one file pixel per screen pixel."""
        if self._pixmap is None or self._original.width() == 0:
            return 100.0 * self._zoom
        return 100.0 * self.scale() * self._pixmap.width() / self._original.width()

    def target_rect(self) -> QRectF:
        """Where the whole photo lands in widget coordinates at the current view."""
        if self._pixmap is None:
            return QRectF()
        s = self.scale()
        w, h = self._pixmap.width() * s, self._pixmap.height() * s
        cx, cy = self.width() / 2, self.height() / 2
        return QRectF(cx - self._center.x() * w, cy - self._center.y() * h, w, h)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the photo point under `anchor` (widget coordinates) where it is."""
        self.zoom_to(self._zoom * factor, anchor)

    def zoom_to(self, zoom: float, anchor: QPointF | None = None) -> None:
        if self._pixmap is None:
            self.set_view(zoom, self._center, notify=True)
            return
        zoom = min(MAX_ZOOM, max(1.0, zoom))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        before = self.target_rect()
        fx = (anchor.x() - before.x()) / max(before.width(), 1e-9)
        fy = (anchor.y() - before.y()) / max(before.height(), 1e-9)
        s = self.fit_scale() * zoom
        w, h = self._pixmap.width() * s, self._pixmap.height() * s
        # Solve for the centre that keeps image point (fx, fy) under the anchor.
        cx = fx - (anchor.x() - self.width() / 2) / max(w, 1e-9)
        cy = fy - (anchor.y() - self.height() / 2) / max(h, 1e-9)
        self.set_view(zoom, QPointF(cx, cy), notify=True)

    # ---- events ------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_by(WHEEL_STEP**notches, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        self.clicked.emit()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is None or self._pixmap is None:
            return
        delta = event.position() - self._drag_from
        self._drag_from = event.position()
        rect = self.target_rect()
        center = QPointF(
            self._center.x() - delta.x() / max(rect.width(), 1e-9),
            self._center.y() - delta.y() / max(rect.height(), 1e-9),
        )
        self.set_view(self._zoom, center, notify=True)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_from = None
        self.setCursor(Qt.CursorShape.OpenHandCursor)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """Toggle between "fit" and one file pixel per screen pixel, at the clicked spot."""
        if self._zoom > 1.0:
            self.set_view(1.0, QPointF(0.5, 0.5), notify=True)
        else:
            self.zoom_to(self.actual_size_zoom(), event.position())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), _BACKGROUND)
        if self._pixmap is not None:
            target = self.target_rect()
            visible = target.intersected(QRectF(self.rect()))
            if not visible.isEmpty():
                # Draw only the visible part: at 30x zoom the whole photo would be huge.
                sx = self._pixmap.width() / target.width()
                sy = self._pixmap.height() / target.height()
                source = QRectF(
                    (visible.x() - target.x()) * sx,
                    (visible.y() - target.y()) * sy,
                    visible.width() * sx,
                    visible.height() * sy,
                )
                # Smooth when shrinking; crisp pixels when zoomed in past 1:1, to judge detail.
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 1.5)
                painter.drawPixmap(visible, self._pixmap, source)
        elif self._message:
            painter.setPen(_TEXT)
            painter.drawText(
                self.rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
        if self._current:
            painter.setPen(QPen(_ACCENT, 3))
            painter.drawRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5))
        painter.end()


class ViewSync(QObject):
    """Keeps the zoom and centre of several panes equal: a change in one is copied to the rest."""

    def __init__(self, panes: Sequence[ImagePane], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._panes = list(panes)
        for pane in self._panes:
            pane.viewChanged.connect(partial(self._copy_from, pane))

    def _copy_from(self, source: ImagePane, zoom: float, center: QPointF) -> None:
        for pane in self._panes:
            if pane is not source:
                pane.set_view(zoom, center)  # notify=False: no echo back to the source
