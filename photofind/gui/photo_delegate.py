"""Paints one grid cell: a group header band, or a photo card with its badges and state.

A delegate paints; it owns no widgets, so 100k photos cost no more than the cells on screen.
Thumbnails come from the ThumbnailLoader, which loads on first paint.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from photofind.core.types import Tier
from photofind.gui import assets, text
from photofind.gui.group_model import Roles
from photofind.gui.thumbnails import ThumbnailLoader


@dataclass(frozen=True)
class CellMetrics:
    thumb: int = 168  # logical pixels of the square thumbnail box
    pad: int = 8
    text_lines: int = 3
    line: int = 17
    header: int = 46

    @property
    def card(self) -> QSize:
        return QSize(self.thumb + 2 * self.pad, self.thumb + 2 * self.pad + self.text_lines * self.line + 4)


class Palette:
    card = QColor("#2a2d33")
    card_hover = QColor("#31353c")
    card_selected = QColor("#2c3a52")
    accent = QColor("#4c8dff")
    well = QColor("#1c1e22")
    text = QColor("#e8eaed")
    dim = QColor("#9aa0a8")
    keep = QColor("#3fb27f")
    marked = QColor("#f0565a")
    protected = QColor("#e0a030")
    unit = QColor(110, 80, 200, 220)  # the capture-unit badge (LIVE, RAW+JPEG, XMP)


class PhotoDelegate(QStyledItemDelegate):
    """Group headers and photo cards for GroupGridView. Clicking the round toggle at a
    card's top-right corner marks or unmarks the photo (through the model, which may refuse)."""

    toggleClicked = Signal(QModelIndex)

    def __init__(self, loader: ThumbnailLoader, metrics: CellMetrics | None = None, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.metrics = metrics or CellMetrics()
        self._lock_icon = assets.icon("lock")
        self._sprites: dict[tuple, QPixmap] = {}
        self.device_pixel_ratio = 1.0

    # -- geometry ------------------------------------------------------------------------------

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        if index.data(Roles.KIND) == "group":
            return QSize(option.rect.width(), self.metrics.header)
        return self.metrics.card

    def thumb_rect(self, card: QRect) -> QRect:
        m = self.metrics
        return QRect(card.left() + m.pad, card.top() + m.pad, m.thumb, m.thumb)

    def toggle_rect(self, card: QRect) -> QRect:
        thumb = self.thumb_rect(card)
        return QRect(thumb.right() - 30, thumb.top() + 6, 24, 24)

    # -- painting ------------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if index.data(Roles.KIND) == "group":
            self._paint_header(painter, option, index)
        else:
            self._paint_card(painter, option, index)
        painter.restore()

    def _paint_header(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        if index.data(Roles.TIER) is None:
            self._paint_section_header(p, option, index)
            return
        rect = option.rect
        tier = Tier(index.data(Roles.TIER))
        colour = QColor(text.TIER_COLORS[tier])
        font = QFont(option.font)
        font.setBold(True)
        fm = QFontMetrics(font)
        label = text.TIER_LABELS[tier]
        chip = QRect(rect.left(), rect.top() + 10, fm.horizontalAdvance(label) + 22, 24)
        fill = QColor(colour)
        fill.setAlpha(48)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawRoundedRect(chip, 12, 12)
        p.setFont(font)
        p.setPen(colour)
        p.drawText(chip, Qt.AlignmentFlag.AlignCenter, label)

        count, marked = index.data(Roles.COUNT), index.data(Roles.MARKED_COUNT)
        mean = index.data(Roles.MEAN_SIMILARITY)
        parts = [f"{count} photos"]
        if tier != Tier.EXACT:
            parts.append(f"{text.percent(mean)} similar")
        parts.append(f"{text.human_bytes(index.data(Roles.RECLAIMABLE))} reclaimable")
        summary = "  \u00b7  ".join(parts)
        p.setFont(option.font)
        x = chip.right() + 14
        p.setPen(Palette.text)
        body = QRect(x, chip.top(), rect.right() - x, chip.height())
        p.drawText(body, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, summary)
        why = index.data(Roles.WHY)
        if why:
            offset = QFontMetrics(option.font).horizontalAdvance(summary) + 18
            p.setPen(Palette.dim)
            p.drawText(body.adjusted(offset, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, why)
        if marked:
            p.setPen(Palette.marked)
            p.drawText(body, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, f"{marked} marked")
        p.setPen(QPen(QColor(255, 255, 255, 22), 1))
        p.drawLine(rect.left(), rect.bottom() - 2, rect.right(), rect.bottom() - 2)

    def _paint_section_header(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        """A library section (a folder or a month): its title and how many photos it holds."""
        rect = option.rect
        font = QFont(option.font)
        font.setBold(True)
        title = index.data(Qt.ItemDataRole.DisplayRole) or ""
        count = index.data(Roles.COUNT) or 0
        band = QRect(rect.left(), rect.top() + 10, rect.width(), 24)
        p.setFont(font)
        p.setPen(Palette.text)
        width = QFontMetrics(font).horizontalAdvance(title)
        p.drawText(band, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, title)
        p.setFont(option.font)
        p.setPen(Palette.dim)
        label = f"{count} photo{'s' if count != 1 else ''}"
        p.drawText(band.adjusted(width + 14, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, label)
        p.setPen(QPen(QColor(255, 255, 255, 22), 1))
        p.drawLine(rect.left(), rect.bottom() - 2, rect.right(), rect.bottom() - 2)

    def _paint_card(self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        card = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        keeper, marked = index.data(Roles.IS_KEEPER), index.data(Roles.IS_MARKED)
        protected = index.data(Roles.IS_PROTECTED)

        state = "selected" if selected else "hover" if hover else "normal"
        p.drawPixmap(
            card.topLeft(),
            self._sprite(("card", state), card.size(), lambda q, r: self._draw_card(q, r, state)),
        )

        thumb = self.thumb_rect(card)
        self._paint_thumbnail(p, thumb, index.data(Roles.PATH), option)
        if marked:
            veil = QColor(Palette.marked)
            veil.setAlpha(70)
            p.fillRect(thumb, veil)
            p.setPen(QPen(Palette.marked, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(QRectF(thumb).adjusted(1, 1, -1, -1), 6, 6)
        if keeper:
            self._pill(p, QPoint(thumb.left() + 6, thumb.top() + 6), "\u2605 KEEP", Palette.keep, option.font)
        elif marked:
            self._pill(p, QPoint(thumb.left() + 6, thumb.top() + 6), "MARKED", Palette.marked, option.font)
        if protected:
            lock = QRect(thumb.right() - 30, thumb.top() + 6, 24, 24)
            p.drawPixmap(lock.topLeft(), self._sprite(("lock",), lock.size(), self._draw_lock))
        elif marked is not None:  # None: a view without marks (the library)
            self._paint_toggle(p, self.toggle_rect(card), marked, hover or selected)
        similarity = index.data(Roles.SIMILARITY)
        if not keeper and similarity is not None:
            label = text.percent(similarity)
            fm = QFontMetrics(self._small(option.font))
            at = QPoint(thumb.right() - fm.horizontalAdvance(label) - 20, thumb.bottom() - 26)
            self._pill(p, at, label, QColor(0, 0, 0, 170), option.font)
        fmt = (index.data(Roles.FORMAT) or "").upper()
        if fmt:
            at = QPoint(thumb.left() + 6, thumb.bottom() - 26)
            right = self._pill(p, at, fmt, QColor(0, 0, 0, 150), option.font)
            unit = index.data(Roles.UNIT)
            if unit:  # the files that travel with this photo: LIVE, RAW+JPEG, XMP...
                self._pill(p, QPoint(right + 4, at.y()), " · ".join(unit), Palette.unit, option.font)
        self._paint_badges(p, card, thumb, index, option)

    def _paint_thumbnail(self, p: QPainter, box: QRect, path: str, option) -> None:
        pixmap = self.loader.get(path) if path else None
        if pixmap is None:
            p.drawPixmap(box.topLeft(), self._sprite(("well",), box.size(), self._draw_well))
            p.setPen(Palette.dim)
            p.setFont(self._small(option.font))
            label = "No preview" if path and self.loader.failed(path) else "Loading\u2026"
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
            return
        size = pixmap.deviceIndependentSize().toSize()
        if size.width() < box.width() or size.height() < box.height():
            p.drawPixmap(box.topLeft(), self._sprite(("well",), box.size(), self._draw_well))
        if size.width() > box.width() or size.height() > box.height():
            size = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(box.center())
        # The loader delivers thumbnails at this exact size with rounded corners: a plain blit.
        p.drawPixmap(target, pixmap)

    def _paint_toggle(self, p: QPainter, rect: QRect, marked: bool, emphasised: bool) -> None:
        key = ("toggle", marked, emphasised)
        p.drawPixmap(
            rect.topLeft(),
            self._sprite(key, rect.size(), lambda q, r: self.draw_toggle(q, r, marked, emphasised)),
        )

    # -- sprites: shapes drawn once, then blitted (antialiased ellipses cost ~1 ms each) --------

    def _sprite(self, key: tuple, size: QSize, draw) -> QPixmap:
        ratio = self.device_pixel_ratio
        full_key = (*key, size.width(), size.height(), ratio)
        pixmap = self._sprites.get(full_key)
        if pixmap is None:
            pixmap = QPixmap(round(size.width() * ratio), round(size.height() * ratio))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            draw(painter, QRect(0, 0, size.width(), size.height()))
            painter.end()
            self._sprites[full_key] = pixmap
        return pixmap

    @staticmethod
    def _draw_card(p: QPainter, rect: QRect, state: str) -> None:
        p.setPen(QPen(Palette.accent, 2) if state == "selected" else Qt.PenStyle.NoPen)
        p.setBrush({"selected": Palette.card_selected, "hover": Palette.card_hover}.get(state, Palette.card))
        p.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), 10, 10)

    def _draw_lock(self, p: QPainter, rect: QRect) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawEllipse(rect)
        self._lock_icon.paint(p, rect.adjusted(4, 4, -4, -4))

    @staticmethod
    def _draw_well(p: QPainter, rect: QRect) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(Palette.well)
        p.drawRoundedRect(QRectF(rect), 6, 6)

    @staticmethod
    def draw_toggle(p: QPainter, rect: QRect, marked: bool, emphasised: bool) -> None:
        """The round mark toggle (a check on red when marked); the similar page draws it too."""
        if marked:
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(Palette.marked)
            p.drawEllipse(rect)
            pen = QPen(QColor("white"), 2.2)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            p.setPen(pen)
            c = rect.center()
            p.drawPolyline(
                [QPoint(c.x() - 5, c.y()), QPoint(c.x() - 1, c.y() + 4), QPoint(c.x() + 6, c.y() - 4)]
            )
        else:
            p.setPen(QPen(QColor(255, 255, 255, 230 if emphasised else 140), 2))
            p.setBrush(QColor(0, 0, 0, 90))
            p.drawEllipse(rect.adjusted(1, 1, -1, -1))

    def _paint_badges(self, p: QPainter, card: QRect, thumb: QRect, index: QModelIndex, option) -> None:
        m = self.metrics
        left, width = card.left() + m.pad + 2, card.width() - 2 * m.pad - 4
        y = thumb.bottom() + 6
        bold = QFont(option.font)
        bold.setBold(True)
        small = self._small(option.font)
        name = QFontMetrics(bold).elidedText(
            index.data(Qt.ItemDataRole.DisplayRole) or "", Qt.TextElideMode.ElideMiddle, width
        )
        p.setFont(bold)
        p.setPen(Palette.text)
        p.drawText(QRect(left, y, width, m.line), Qt.AlignmentFlag.AlignVCenter, name)
        w, h = index.data(Roles.WIDTH), index.data(Roles.HEIGHT)
        line2 = f"{text.resolution(w, h)}  \u00b7  {text.human_bytes(index.data(Roles.BYTES))}"
        details = [text.short_date(index.data(Roles.TAKEN))[:10], index.data(Roles.CAMERA)]
        line3 = "  \u00b7  ".join(d for d in details if d) or "no date or camera"
        fm = QFontMetrics(small)
        p.setFont(small)
        p.setPen(Palette.dim)
        for k, line in enumerate((line2, line3), start=1):
            p.drawText(
                QRect(left, y + k * m.line, width, m.line),
                Qt.AlignmentFlag.AlignVCenter,
                fm.elidedText(line, Qt.TextElideMode.ElideRight, width),
            )

    def _pill(self, p: QPainter, at: QPoint, label: str, colour: QColor, base: QFont) -> int:
        """Paint a rounded label at `at`; returns its right edge."""
        font = self._small(base)
        font.setBold(True)
        fm = QFontMetrics(font)
        rect = QRect(at.x(), at.y(), fm.horizontalAdvance(label) + 14, 20)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        p.drawRoundedRect(QRectF(rect), 10, 10)
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
        return rect.right()

    @staticmethod
    def _small(base: QFont) -> QFont:
        font = QFont(base)
        size = base.pointSizeF()
        if size > 0:
            font.setPointSizeF(max(7.0, size - 1.0))
        return font

    # -- input ---------------------------------------------------------------------------------

    def editorEvent(self, event: QEvent, model, option: QStyleOptionViewItem, index: QModelIndex) -> bool:
        if (
            index.data(Roles.KIND) != "photo"
            or index.data(Roles.IS_PROTECTED)
            or index.data(Roles.IS_MARKED) is None
        ):
            return False
        if event.type() not in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
        ):
            return False
        if not isinstance(event, QMouseEvent) or event.button() != Qt.MouseButton.LeftButton:
            return False
        if not self.toggle_rect(option.rect).contains(event.position().toPoint()):
            return False
        if event.type() == QEvent.Type.MouseButtonRelease:
            self.toggleClicked.emit(index)
        return True  # swallow press/double-click too, so the toggle does not change selection
