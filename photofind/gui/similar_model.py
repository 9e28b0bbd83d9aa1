"""The result grid of "browse similar": a thin list model over (path, similarity, tier, relation) answers,
with thumbnails loaded on demand, and the delegate that draws each answer as a card."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from photofind.gui.photo_delegate import Palette, PhotoDelegate
from photofind.gui.preview import PreviewLoader
from photofind.gui.text import TIER_COLORS, TIER_SHORT, percent

_Index = QModelIndex | QPersistentModelIndex

THUMB_SIDE = 256  # decoded thumbnail size; the cell draws it at up to 180 px
THUMB_CACHE = 240  # pixmaps kept (at most ~50 MB): four screens of results
TIER_COLOURS = {tier.value: colour for tier, colour in TIER_COLORS.items()}
TIER_NAMES = {tier.value: name for tier, name in TIER_SHORT.items()}
# Dark cards like the group grid's (photo_delegate.Palette), whatever the platform palette says.
_CARD, _CARD_HOVER, _CARD_SELECTED = QColor("#2a2d33"), QColor("#31353c"), QColor("#2c3a52")
_WELL, _TEXT, _DIM = QColor("#1c1e22"), QColor("#e8eaed"), QColor("#9aa0a8")


class SimilarResultsModel(QAbstractListModel):
    """Thin list model over the (path, similarity, tier, relation) answers; thumbnails load on demand."""

    PathRole = Qt.ItemDataRole.UserRole + 1
    SimilarityRole = Qt.ItemDataRole.UserRole + 2
    TierRole = Qt.ItemDataRole.UserRole + 3
    RelationRole = Qt.ItemDataRole.UserRole + 4  # "copy: resized", "burst", "similar scene"
    MarkedRole = Qt.ItemDataRole.UserRole + 5  # marked for clean-up (the review state's answer)

    def __init__(self, loader: PreviewLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float, str, str]] = []
        self._row_of: dict[str, list[int]] = {}
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._loader = loader
        self._is_marked: Callable[[str], bool] = lambda _path: False
        loader.loaded.connect(self._on_loaded)
        loader.failed.connect(self._on_failed)

    def set_results(self, rows: Sequence[tuple[str, float, str, str]]) -> None:
        self.beginResetModel()  # a new query replaces everything at once
        self._rows = list(rows)
        self._row_of = {}
        for row, (path, *_) in enumerate(self._rows):
            self._row_of.setdefault(path, []).append(row)
        self.endResetModel()

    def results(self) -> list[tuple[str, float, str, str]]:
        return list(self._rows)

    def set_mark_lookup(self, is_marked: Callable[[str], bool]) -> None:
        """Where MarkedRole is answered: the review state, through its owner."""
        self._is_marked = is_marked
        self.marks_changed()

    def is_marked(self, path: str) -> bool:
        return self._is_marked(path)

    def marks_changed(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0), [self.MarkedRole])

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        path, similarity, tier, relation = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(path)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{path}\n{similarity_text(similarity)} similar" + (
                f" · {relation or tier}" if tier else ""
            )
        if role == Qt.ItemDataRole.DecorationRole:
            return self._thumbnail(path)
        if role == self.PathRole:
            return path
        if role == self.SimilarityRole:
            return similarity
        if role == self.TierRole:
            return tier
        if role == self.RelationRole:
            return relation
        if role == self.MarkedRole:
            return self.is_marked(path)
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = super().roleNames()
        names[self.PathRole] = QByteArray(b"path")
        names[self.SimilarityRole] = QByteArray(b"similarity")
        names[self.TierRole] = QByteArray(b"tier")
        names[self.RelationRole] = QByteArray(b"relation")
        names[self.MarkedRole] = QByteArray(b"marked")
        return names

    def _thumbnail(self, path: str) -> QPixmap | None:
        # Asked for only by the delegate while painting, so only visible cells ever load.
        pixmap = self._pixmaps.get(path)
        if pixmap is not None:
            self._pixmaps.move_to_end(path)
            return pixmap
        if path not in self._failed:
            self._loader.request(path, THUMB_SIDE)
        return None

    @Slot(str, int, QImage)
    def _on_loaded(self, path: str, max_side: int, image: QImage) -> None:
        if max_side != THUMB_SIDE:
            return
        self._pixmaps[path] = QPixmap.fromImage(image)
        while len(self._pixmaps) > THUMB_CACHE:
            self._pixmaps.popitem(last=False)
        for row in self._row_of.get(path, ()):
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    @Slot(str, int, str)
    def _on_failed(self, path: str, max_side: int, reason: str) -> None:
        if max_side == THUMB_SIDE:
            self._failed.add(path)  # no retry loop: the cell shows a placeholder


def similarity_text(value: float) -> str:
    return percent(value)


class SimilarDelegate(QStyledItemDelegate):
    """A card: thumbnail, similarity with a tier chip, the relation to the query, file name.
    The round toggle at the thumbnail's top-right corner marks the photo, as in the group grid
    (the view catches its clicks: `toggle_rect`)."""

    CELL = QSize(200, 256)
    THUMB = 180

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._toggles: dict[tuple[bool, bool], QPixmap] = {}  # drawn once: ellipses are slow

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        return self.CELL

    def thumb_rect(self, cell: QRect) -> QRect:
        card = QRect(cell).adjusted(6, 6, -6, -6)
        return QRect(card.left() + (card.width() - self.THUMB) // 2, card.top() + 6, self.THUMB, self.THUMB)

    def toggle_rect(self, cell: QRect) -> QRect:
        thumb = self.thumb_rect(cell)
        return QRect(thumb.right() - 30, thumb.top() + 6, 24, 24)

    def _toggle(self, marked: bool, emphasised: bool) -> QPixmap:
        pixmap = self._toggles.get((marked, emphasised))
        if pixmap is None:
            pixmap = QPixmap(24, 24)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            PhotoDelegate.draw_toggle(painter, QRect(0, 0, 24, 24), marked, emphasised)
            painter.end()
            self._toggles[(marked, emphasised)] = pixmap
        return pixmap

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = QRect(option.rect).adjusted(6, 6, -6, -6)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        back = _CARD_SELECTED if selected else _CARD_HOVER if hovered else _CARD
        path = QPainterPath()
        path.addRoundedRect(card, 8, 8)
        painter.fillPath(path, back)
        painter.setPen(QColor("#4c8dff") if selected else QColor(255, 255, 255, 22))
        painter.drawPath(path)

        thumb_box = self.thumb_rect(option.rect)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            size = pixmap.size().scaled(thumb_box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(QPoint(0, 0), size)
            target.moveCenter(thumb_box.center())
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, pixmap)
        else:
            painter.fillRect(thumb_box, _WELL)
        marked = bool(index.data(SimilarResultsModel.MarkedRole))
        if marked:  # as the group grid shows a marked photo: a red veil and frame
            veil = QColor(Palette.marked)
            veil.setAlpha(70)
            painter.fillRect(thumb_box, veil)
            painter.setPen(QPen(Palette.marked, 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(thumb_box.adjusted(1, 1, -1, -1))
        painter.drawPixmap(self.toggle_rect(option.rect).topLeft(), self._toggle(marked, hovered or selected))

        text_colour = _TEXT
        line = QRect(card.left() + 8, thumb_box.bottom() + 6, card.width() - 16, 20)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_colour)
        similarity = index.data(SimilarResultsModel.SimilarityRole) or 0.0
        painter.drawText(
            line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, similarity_text(similarity)
        )
        tier = index.data(SimilarResultsModel.TierRole) or ""
        if tier:
            label = TIER_NAMES.get(tier, tier)
            painter.setFont(option.font)
            width = painter.fontMetrics().horizontalAdvance(label) + 14
            chip = QRect(line.right() - width, line.top() + 1, width, line.height() - 2)
            chip_path = QPainterPath()
            chip_path.addRoundedRect(chip, 9, 9)
            painter.fillPath(chip_path, QColor(TIER_COLOURS.get(tier, "#757575")))
            painter.setPen(QColor("white"))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, label)
        relation_line = QRect(line.left(), line.bottom() + 2, line.width(), 18)
        painter.setFont(option.font)
        painter.setPen(_TEXT)
        relation = painter.fontMetrics().elidedText(
            index.data(SimilarResultsModel.RelationRole) or "",
            Qt.TextElideMode.ElideRight,
            relation_line.width(),
        )
        painter.drawText(relation_line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, relation)
        name_line = QRect(line.left(), relation_line.bottom() + 2, line.width(), 18)
        painter.setPen(_DIM)
        name = painter.fontMetrics().elidedText(
            index.data() or "", Qt.TextElideMode.ElideMiddle, name_line.width()
        )
        painter.drawText(name_line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()
