"""A virtualised grid of groups: a header band per group, then its photos in wrapped rows.

The layout is one list of group offsets, recomputed in O(groups) on a reset or a resize;
painting and hit-testing find the first visible group by bisection and touch only what is on
screen. So 10k groups cost the same per frame as 10, and no widget exists per photo.
"""

from __future__ import annotations

import bisect

import numpy as np
from PySide6.QtCore import QItemSelection, QItemSelectionModel, QModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent, QMouseEvent, QPainter, QRegion
from PySide6.QtWidgets import QAbstractItemView, QStyle, QStyleOptionViewItem, QWidget

from photofind.gui import assets
from photofind.gui.group_model import GroupModel, Roles
from photofind.gui.photo_delegate import CellMetrics, PhotoDelegate
from photofind.gui.thumbnails import ThumbnailLoader

MARGIN = 20
SPACING = 12
GROUP_GAP = 22


class GroupGridView(QAbstractItemView):
    """Shows a GroupModel. Space marks/unmarks the selected photos, K makes the current photo
    the keeper, Enter or a double-click asks to compare its group, Delete asks to trash."""

    compareRequested = Signal(int)  # top-level row of the group
    trashRequested = Signal()

    def __init__(self, loader: ThumbnailLoader | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Layout state first: the setters below already call back into updateGeometries().
        self._tops: list[int] = []  # y of each group's header, in content coordinates
        self._counts: list[int] = []
        self._cols = 1
        self._content_height = 0
        self._hover = QModelIndex()
        self._painted: dict[str, QRect] = {}  # path -> where it was last drawn, in content coordinates
        self.metrics = CellMetrics()
        ratio = self.devicePixelRatioF()
        # Thumbnails are decoded at exactly the painted size (rounded corners included), so a
        # frame is a set of blits: no scaling or clipping on the GUI thread.
        self.loader = loader or ThumbnailLoader(
            round(self.metrics.thumb * ratio), radius=6, device_pixel_ratio=ratio, parent=self
        )
        self._delegate = PhotoDelegate(self.loader, self.metrics, self)
        self._delegate.device_pixel_ratio = ratio
        self._delegate.toggleClicked.connect(self._toggle_index)
        self.setItemDelegate(self._delegate)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_Hover, True)
        self.placeholder = ("No groups yet", "Add a folder, then press Scan.")
        self.loader.thumbnailsReady.connect(self._thumbnails_arrived)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        # `activated` covers Enter and, in every desktop style, a double-click; listening to
        # doubleClicked as well would open the compare view twice.
        self.activated.connect(self._activated)

    # -- model hookup and layout ---------------------------------------------------------------

    def setModel(self, model: GroupModel) -> None:  # type: ignore[override]
        old = self.model()
        if old is not None:
            for signal in (old.modelReset, old.layoutChanged, old.rowsInserted, old.rowsRemoved):
                signal.disconnect(self._relayout)
        super().setModel(model)
        for signal in (model.modelReset, model.layoutChanged, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._relayout)
        self._relayout()

    @property
    def cell(self) -> QSize:
        return self.metrics.card

    def columns(self) -> int:
        return self._cols

    def _relayout(self, *args) -> None:
        model = self.model()
        self._hover = QModelIndex()
        self._painted.clear()
        cell = self.cell
        usable = max(cell.width(), self.viewport().width() - 2 * MARGIN)
        self._cols = max(1, (usable + SPACING) // (cell.width() + SPACING))
        self._counts = model.member_counts() if model else []
        # Each group's height, then running sums: one vectorised pass, not a Python loop per
        # group (20k groups at 100k photos would hold the GUI thread for a frame or more).
        counts = np.asarray(self._counts, np.int64)
        heights = self.metrics.header + -(-counts // self._cols) * (cell.height() + SPACING) + GROUP_GAP
        ends = MARGIN + np.cumsum(heights)
        self._tops = (ends - heights).tolist()
        self._content_height = int(ends[-1]) + MARGIN - GROUP_GAP if len(ends) else MARGIN
        self.updateGeometries()
        self.viewport().update()

    def updateGeometries(self) -> None:
        bar = self.verticalScrollBar()
        bar.setPageStep(self.viewport().height())
        bar.setSingleStep(48)
        bar.setRange(0, max(0, self._content_height - self.viewport().height()))
        super().updateGeometries()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        cell = self.cell
        usable = max(cell.width(), self.viewport().width() - 2 * MARGIN)
        if max(1, (usable + SPACING) // (cell.width() + SPACING)) != self._cols:
            self._relayout()
        else:
            self.updateGeometries()

    # -- geometry: the QAbstractItemView contract ----------------------------------------------

    def _content_rect(self, index: QModelIndex) -> QRect:
        model = self.model()
        if model is None or not index.isValid():
            return QRect()
        parent = index.parent()
        if not parent.isValid():
            if index.row() >= len(self._tops):
                return QRect()
            width = self._cols * (self.cell.width() + SPACING) - SPACING
            return QRect(
                MARGIN,
                self._tops[index.row()],
                max(width, self.viewport().width() - 2 * MARGIN),
                self.metrics.header,
            )
        g = parent.row()
        if g >= len(self._tops):
            return QRect()
        r, c = divmod(index.row(), self._cols)
        cell = self.cell
        return QRect(
            MARGIN + c * (cell.width() + SPACING),
            self._tops[g] + self.metrics.header + r * (cell.height() + SPACING),
            cell.width(),
            cell.height(),
        )

    def visualRect(self, index: QModelIndex) -> QRect:
        rect = self._content_rect(index)
        return rect.translated(0, -self.verticalOffset()) if rect.isValid() else rect

    def indexAt(self, point: QPoint) -> QModelIndex:
        model = self.model()
        if model is None or not self._tops:
            return QModelIndex()
        y = point.y() + self.verticalOffset()
        g = bisect.bisect_right(self._tops, y) - 1
        if g < 0:
            return QModelIndex()
        group = model.index(g, 0)
        local = y - self._tops[g]
        if local < self.metrics.header:
            return group if self._content_rect(group).contains(point.x(), y) else QModelIndex()
        local -= self.metrics.header
        cell = self.cell
        r, dy = divmod(local, cell.height() + SPACING)
        c, dx = divmod(point.x() - MARGIN, cell.width() + SPACING)
        if point.x() < MARGIN or dy >= cell.height() or dx >= cell.width() or c >= self._cols:
            return QModelIndex()
        k = r * self._cols + c
        return model.index(k, 0, group) if k < self._counts[g] else QModelIndex()

    def horizontalOffset(self) -> int:
        return 0

    def verticalOffset(self) -> int:
        return self.verticalScrollBar().value()

    def isIndexHidden(self, index: QModelIndex) -> bool:
        return False

    def scrollTo(self, index: QModelIndex, hint=QAbstractItemView.ScrollHint.EnsureVisible) -> None:
        rect = self._content_rect(index)
        if not rect.isValid():
            return
        bar, height = self.verticalScrollBar(), self.viewport().height()
        if index.parent().isValid() and index.row() < self._cols:
            rect.setTop(rect.top() - self.metrics.header)  # show the group's header with its first row
        top = bar.value()
        if hint == QAbstractItemView.ScrollHint.PositionAtTop or rect.top() < top:
            bar.setValue(rect.top() - SPACING)
        elif hint == QAbstractItemView.ScrollHint.PositionAtCenter:
            bar.setValue(rect.center().y() - height // 2)
        elif rect.bottom() > top + height:
            bar.setValue(rect.bottom() - height + SPACING)

    def moveCursor(self, action, modifiers) -> QModelIndex:
        model = self.model()
        if model is None or not self._tops:
            return QModelIndex()
        current = self.currentIndex()
        if not current.isValid() or not current.parent().isValid():
            g = current.row() if current.isValid() else 0
            return model.index(0, 0, model.index(g, 0))
        g, k = current.parent().row(), current.row()
        A = QAbstractItemView.CursorAction
        if action in (A.MoveLeft, A.MovePrevious):
            g, k = self._step(g, k, -1)
        elif action in (A.MoveRight, A.MoveNext):
            g, k = self._step(g, k, +1)
        elif action == A.MoveUp:
            if k >= self._cols:
                k -= self._cols
            elif g > 0:
                g -= 1
                last_row_start = (self._counts[g] - 1) // self._cols * self._cols
                k = min(self._counts[g] - 1, last_row_start + k % self._cols)
        elif action == A.MoveDown:
            if k + self._cols < self._counts[g]:
                k += self._cols
            elif (k // self._cols) < (self._counts[g] - 1) // self._cols:
                k = self._counts[g] - 1
            elif g + 1 < len(self._counts):
                g, k = g + 1, min(k % self._cols, self._counts[g + 1] - 1)
        elif action == A.MoveHome:
            g, k = 0, 0
        elif action == A.MoveEnd:
            g = len(self._counts) - 1
            k = self._counts[g] - 1
        elif action in (A.MovePageUp, A.MovePageDown):
            step = self.viewport().height() * (-1 if action == A.MovePageUp else 1)
            target = self.indexAt(self.visualRect(current).center() + QPoint(0, step))
            return target if target.isValid() and target.parent().isValid() else current
        return model.index(max(0, k), 0, model.index(g, 0))

    def _step(self, g: int, k: int, delta: int) -> tuple[int, int]:
        """Move `delta` photos in reading order, across group boundaries, clamped at the ends."""
        k += delta
        while k < 0 and g > 0:
            g -= 1
            k += self._counts[g]
        while k >= self._counts[g] and g + 1 < len(self._counts):
            k -= self._counts[g]
            g += 1
        return g, max(0, min(k, self._counts[g] - 1))

    def setSelection(self, rect: QRect, flags) -> None:
        model = self.model()
        selection = QItemSelection()
        area = rect.normalized().translated(0, self.verticalOffset())
        for g in self._groups_between(area.top(), area.bottom()):
            parent = model.index(g, 0)
            run_start = None
            for k in range(self._counts[g] + 1):
                hit = k < self._counts[g] and self._content_rect(model.index(k, 0, parent)).intersects(area)
                if hit and run_start is None:
                    run_start = k
                elif not hit and run_start is not None:
                    selection.select(model.index(run_start, 0, parent), model.index(k - 1, 0, parent))
                    run_start = None
        self.selectionModel().select(selection, flags)

    def visualRegionForSelection(self, selection: QItemSelection) -> QRegion:
        region = QRegion()
        visible = self.viewport().rect()
        for item in selection:
            for row in range(item.top(), item.bottom() + 1):
                rect = self.visualRect(self.model().index(row, 0, item.parent()))
                if rect.intersects(visible):
                    region += rect
        return region

    def _groups_between(self, top: int, bottom: int) -> range:
        first = max(0, bisect.bisect_right(self._tops, top) - 1)
        last = bisect.bisect_right(self._tops, bottom)
        return range(first, min(last, len(self._tops)))

    # -- painting ------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        painter = QPainter(self.viewport())
        model = self.model()
        if model is None or not self._tops:
            self._paint_placeholder(painter)
            return
        # Only the exposed area: a scroll blits the rest, a thumbnail arrival dirties one cell.
        region = event.region()
        dirty = region.boundingRect()
        offset = self.verticalOffset()
        selection = self.selectionModel()
        current = self.currentIndex()
        base = QStyleOptionViewItem()
        self.initViewItemOption(base)
        if dirty == self.viewport().rect() or len(self._painted) > 4096:
            self._painted.clear()
        for g in self._groups_between(offset + dirty.top(), offset + dirty.bottom()):
            parent = model.index(g, 0)
            header = self.visualRect(parent)
            if region.intersects(header):
                self._paint_index(painter, base, parent, selection, current, header)
            top_row = max(
                0,
                (offset + dirty.top() - self._tops[g] - self.metrics.header)
                // (self.cell.height() + SPACING),
            )
            for k in range(top_row * self._cols, self._counts[g]):
                index = model.index(k, 0, parent)
                rect = self.visualRect(index)
                if rect.top() > dirty.bottom():
                    break
                if region.intersects(rect):
                    self._paint_index(painter, base, index, selection, current, rect)
                    self._painted[index.data(Roles.PATH)] = rect.translated(0, offset)

    def _paint_index(self, painter, base, index, selection, current, rect=None) -> None:
        option = QStyleOptionViewItem(base)
        option.rect = rect if rect is not None else self.visualRect(index)
        State = QStyle.StateFlag
        if selection is not None and selection.isSelected(index):
            option.state |= State.State_Selected
        if index == self._hover:
            option.state |= State.State_MouseOver
        if index == current and self.hasFocus():
            option.state |= State.State_HasFocus
        self.itemDelegate().paint(painter, option, index)

    def _paint_placeholder(self, painter: QPainter) -> None:
        rect = self.viewport().rect()
        icon_rect = QRect(0, 0, 72, 72)
        icon_rect.moveCenter(rect.center() - QPoint(0, 60))
        painter.setOpacity(0.6)
        assets.icon("photos").paint(painter, icon_rect)
        painter.setOpacity(1.0)
        title, subtitle = self.placeholder
        font = QFont(self.font())
        font.setPointSizeF(max(12.0, font.pointSizeF() * 1.45))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#e8eaed"))
        painter.drawText(
            QRect(rect.left(), icon_rect.bottom() + 16, rect.width(), 36), Qt.AlignmentFlag.AlignCenter, title
        )
        painter.setFont(self.font())
        painter.setPen(QColor("#9aa0a8"))
        painter.drawText(
            QRect(rect.left() + 40, icon_rect.bottom() + 56, rect.width() - 80, 60),
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
            subtitle,
        )

    def set_placeholder(self, title: str, subtitle: str) -> None:
        """What an empty grid says. The window sets it on every change of folders or marks:
        only a new text, on an empty grid, is worth a repaint (a full one costs ~10 ms)."""
        if (title, subtitle) == self.placeholder:
            return
        self.placeholder = (title, subtitle)
        model = self.model()
        if model is None or model.rowCount() == 0:
            self.viewport().update()

    # -- input ---------------------------------------------------------------------------------

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.indexAt(event.position().toPoint())
        if index != self._hover:
            for old in (self._hover, index):
                if old.isValid():
                    self.viewport().update(self.visualRect(old))
            self._hover = index
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        if self._hover.isValid():
            self.viewport().update(self.visualRect(self._hover))
        self._hover = QModelIndex()
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and not event.modifiers():
            self.toggle_selected_marks()
        elif key == Qt.Key.Key_K and not event.modifiers():
            record = self.model().record_index(self.currentIndex()) if self.model() else None
            if record is not None:
                self.model().set_keeper(record)
        elif key == Qt.Key.Key_Delete:
            self.trashRequested.emit()
        else:
            super().keyPressEvent(event)

    def selected_records(self) -> list[int]:
        model = self.model()
        chosen = [model.record_index(i) for i in self.selectionModel().selectedIndexes()]
        chosen = [r for r in chosen if r is not None]
        if not chosen:
            current = model.record_index(self.currentIndex())
            chosen = [current] if current is not None else []
        return chosen

    def toggle_selected_marks(self) -> None:
        model = self.model()
        records = self.selected_records()
        if not records:
            return
        # Toggle as one: if any selected photo is unmarked, mark them all (where allowed).
        target = not all(model.review.marked_anywhere(r) for r in records)
        for record in records:
            model.set_marked(record, target)

    def current_group_row(self) -> int | None:
        model = self.model()
        return model.group_row(self.currentIndex()) if model is not None else None

    def _toggle_index(self, index: QModelIndex) -> None:
        record = self.model().record_index(index)
        if record is not None:
            self.model().toggle_marked(record)

    def _activated(self, index: QModelIndex) -> None:
        row = self.model().group_row(index) if self.model() else None
        if row is not None:
            self.compareRequested.emit(row)

    def hideEvent(self, event) -> None:
        # Another page is shown: thumbnails still queued for this one would only take cores
        # from it. Shown again, the next paint asks for what is visible then.
        self.loader.drop_queued()
        super().hideEvent(event)

    def _scrolled(self, _value: int) -> None:
        self.loader.drop_queued()  # Qt scrolls the pixels itself and repaints what came into view

    def _thumbnails_arrived(self, paths: list[str]) -> None:
        offset, visible = self.verticalOffset(), self.viewport().rect()
        for path in paths:
            rect = self._painted.get(path)
            if rect is not None:
                rect = rect.translated(0, -offset)
                if rect.intersects(visible):
                    self.viewport().update(rect)

    def selectionCommand(self, index: QModelIndex, event=None):
        if index.isValid() and not index.parent().isValid():
            # A header click makes its group current without selecting the band itself.
            return QItemSelectionModel.SelectionFlag.NoUpdate
        return super().selectionCommand(index, event)
