"""Side-by-side compare of the photos of one group: large previews with synced zoom and pan, the
metadata with differences highlighted, and keyboard decisions (arrows, Space, K, Delete, Esc).

Run `python -m photofind.gui.compare PHOTO PHOTO…` (or a folder) for a quick manual look.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photofind.core.cleanup.keep import pick_keeper
from photofind.core.cleanup.marks import Marks
from photofind.core.scan.companions import Companion
from photofind.core.types import Derivation, Group, ImageRecord, Member, Tier
from photofind.gui.compare_facts import is_original, metadata_rows
from photofind.gui.image_pane import WHEEL_STEP, ImagePane, ViewSync
from photofind.gui.preview import PreviewLoader

DiffRole = Qt.ItemDataRole.UserRole + 1  # True: this cell differs from the keeper's value
RecordRole = Qt.ItemDataRole.UserRole + 2  # the record index a table column shows

# The grid's colours (photo_delegate.Palette), so a keeper or a mark looks the same everywhere.
_DIFF_BACKGROUND = QColor("#4a3b12")
_DIFF_FOREGROUND = QColor("#ffd98a")
_KEEP_PILL = "background-color:#3fb27f; color:#ffffff;"
_MARK_PILL = "background-color:#f0565a; color:#ffffff;"
_LOCK_PILL = "background-color:#e0a030; color:#1e2024;"
_ORIGINAL_PILL = "background-color:#4f7fd9; color:#ffffff;"


class CompareDialog(QDialog):
    """The photos of one group side by side. Marks and the keeper are read from and written to
    the review state (`Marks`) the grid shows too; after each change the dialog says so with
    `reviewEdited(group id)` (and `markToggled` / `keeperChanged` for the detail)."""

    keeperChanged = Signal(int)
    markToggled = Signal(int, bool)
    reviewEdited = Signal(int)  # the group's marks or keeper changed
    trashRequested = Signal()

    def __init__(
        self,
        review: Marks,
        group_id: int,
        parent: QWidget | None = None,
        *,
        similarities: Mapping[int, float] | None = None,
        companions: Mapping[int, Sequence[Companion]] | None = None,
        derivation: Sequence[Derivation] = (),
    ) -> None:
        super().__init__(parent)
        group = review.group(group_id)
        if group is None:
            raise ValueError(f"CompareDialog: no group {group_id}")
        self._review, self._group_id = review, group_id
        self._indices = list(group.indices)
        self._records = review.records
        self._similarities = dict(similarities or {})
        self._companions = dict(companions or {})
        self._derivation = {d.index: d for d in derivation}  # how each photo was made (phylogeny)
        self._pos = self._indices.index(self.keeper)
        self.setObjectName("compareDialog")
        self.setWindowTitle(f"Compare {len(self._indices)} photo{'s' if len(self._indices) != 1 else ''}")
        self.setSizeGripEnabled(True)
        self.resize(1280, 860)

        self.panes = [ImagePane() for _ in self._indices]
        self._captions = [QLabel() for _ in self._indices]
        self._sync = ViewSync(self.panes, self)
        self._loader = PreviewLoader(self)
        self._loader.loaded.connect(self._on_preview)
        self._loader.failed.connect(self._on_preview_failed)
        self._build()
        self._request_previews()
        self._refresh()

    # ---- public state ----------------------------------------------------------------------------
    @property
    def review(self) -> Marks:
        return self._review

    @property
    def group_id(self) -> int:
        return self._group_id

    @property
    def keeper(self) -> int:
        return self._review.keeper(self._group_id)

    @property
    def marked(self) -> frozenset[int]:
        return self._review.marked(self._group_id)

    @property
    def current(self) -> int:
        """The record index of the photo the keys act on."""
        return self._indices[self._pos]

    @property
    def indices(self) -> list[int]:
        return list(self._indices)

    def set_current(self, record_index: int) -> None:
        if record_index in self._indices:
            self._pos = self._indices.index(record_index)
            self._refresh()

    def refresh(self) -> None:
        """Show the review state as it is now (it changed elsewhere, e.g. in the grid); emits
        nothing. Closes the dialog when its group no longer exists as shown (a regroup)."""
        group = self._review.group(self._group_id)
        if group is None or list(group.indices) != self._indices:
            self.close()
            return
        self._refresh()

    # ---- actions (keys and buttons) --------------------------------------------------------------
    def move(self, step: int) -> None:
        self._pos = (self._pos + step) % len(self._indices)
        self._refresh()

    def toggle_mark(self) -> None:
        index, gid, keeper = self.current, self._group_id, self.keeper
        if self._review.is_marked(gid, index):
            self._review.unmark(gid, index)
            self._say("")
            self.markToggled.emit(index, False)
            self._edited()
            return
        refusal = self._review.mark(gid, index)
        if refusal is not None:
            self._say(f"Not marked: {refusal.value}.")
            return
        self._say("")
        if index == keeper:  # the keeper role moved to the best photo still unmarked
            self.keeperChanged.emit(self.keeper)
        self.markToggled.emit(index, True)
        self._edited()

    def make_keeper(self) -> None:
        index, gid = self.current, self._group_id
        self._say("")
        if index == self.keeper:
            return
        was_marked = self._review.is_marked(gid, index)
        self._review.choose_keeper(gid, index)
        if was_marked:
            self.markToggled.emit(index, False)
        self.keeperChanged.emit(index)
        self._edited()

    def _edited(self) -> None:
        self.reviewEdited.emit(self._group_id)
        self._refresh()

    def request_trash(self) -> None:
        if not self.marked:
            self._say("Nothing is marked yet: press Space to mark the photos to trash.")
            return
        self._say("")
        self.trashRequested.emit()

    def zoom_fit(self) -> None:
        self.panes[self._pos].zoom_to(1.0)

    def zoom_actual(self) -> None:
        pane = self.panes[self._pos]
        pane.zoom_to(pane.actual_size_zoom())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        actions: dict[int, Callable[[], None]] = {
            Qt.Key.Key_Left: lambda: self.move(-1),
            Qt.Key.Key_Right: lambda: self.move(1),
            Qt.Key.Key_Space: self.toggle_mark,
            Qt.Key.Key_K: self.make_keeper,
            Qt.Key.Key_Delete: self.request_trash,
            Qt.Key.Key_Backspace: self.request_trash,  # the "delete" key of Mac keyboards
            Qt.Key.Key_Plus: lambda: self.panes[self._pos].zoom_by(WHEEL_STEP),
            Qt.Key.Key_Equal: lambda: self.panes[self._pos].zoom_by(WHEEL_STEP),
            Qt.Key.Key_Minus: lambda: self.panes[self._pos].zoom_by(1 / WHEEL_STEP),
            Qt.Key.Key_0: self.zoom_fit,
            Qt.Key.Key_1: self.zoom_actual,
        }
        action = actions.get(event.key())
        if action is None or event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        ):
            super().keyPressEvent(event)  # Esc closes (QDialog's reject)
            return
        try:
            action()
        except Exception as exc:  # noqa: BLE001
            # Re-raised from Python on purpose: PySide6 (6.11 and 6.12, CPython 3.11) segfaults when
            # an exception raised inside C code (min() of nothing, 1 / 0) leaves a virtual override.
            raise exc from exc.__cause__
        event.accept()

    # ---- building and refreshing -----------------------------------------------------------------
    def _build(self) -> None:
        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(10)
        columns = min(len(self.panes), 4)
        for pos, (pane, caption) in enumerate(zip(self.panes, self._captions)):
            caption.setTextFormat(Qt.TextFormat.RichText)
            caption.setObjectName("compareCaption")
            pane.clicked.connect(lambda p=pos: self._click(p))
            pane.viewChanged.connect(self._update_zoom_label)
            box = QVBoxLayout()
            box.setSpacing(4)
            box.addWidget(caption)
            box.addWidget(pane, 1)
            grid.addLayout(box, pos // columns, pos % columns)

        self.table = QTableWidget(0, len(self._indices))
        self.table.setObjectName("compareTable")
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows and Space belong to the dialog
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().sectionClicked.connect(self._click)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(grid_host)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([560, 270])  # room for every metadata row without scrolling

        self.notice = QLabel()
        self.notice.setObjectName("compareNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(
            "#compareNotice { background: #3d2225; color: #ffc9c9; "
            "border: 1px solid #7a3a40; border-radius: 6px; padding: 6px 10px; }"
        )
        self.notice.hide()

        self.zoom_label = QLabel()
        self.zoom_label.setObjectName("compareZoom")
        self.zoom_label.setMinimumWidth(90)
        hint = QLabel(
            "← → move · Space mark · K keep · Del trash marked · wheel/drag zoom and pan · Esc close"
        )
        hint.setObjectName("hint")  # the app style sheet's muted small print
        hint.setEnabled(False)  # muted without the style sheet too

        self.prev_button = self._button("◀  Previous", lambda: self.move(-1))
        self.next_button = self._button("Next  ▶", lambda: self.move(1))
        self.keep_button = self._button("Keep this  (K)", self.make_keeper)
        self.mark_button = self._button("Mark  (Space)", self.toggle_mark)
        self.trash_button = self._button("Trash marked  (Del)", self.request_trash)
        self.trash_button.setObjectName("dangerButton")
        fit = self._button("Fit", self.zoom_fit)
        actual = self._button("1:1", self.zoom_actual)
        close = self._button("Close", self.reject)

        bar = QHBoxLayout()
        for w in (self.prev_button, self.next_button):
            bar.addWidget(w)
        bar.addSpacing(16)
        for w in (self.keep_button, self.mark_button, self.trash_button):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.zoom_label, fit, actual):
            bar.addWidget(w)
        bar.addSpacing(16)
        bar.addWidget(close)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 14)
        layout.setSpacing(10)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.notice)
        layout.addWidget(hint)
        layout.addLayout(bar)

    def _button(self, text: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space must mark, never "click" a button
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def _request_previews(self) -> None:
        n = len(self._indices)
        # Memory bound: fewer, larger previews when fewer photos share the screen.
        self._max_side = 3072 if n <= 2 else 2048 if n <= 4 else 1280
        order = [self._pos] + [p for p in range(n) if p != self._pos]
        for rank, pos in enumerate(order):
            self._loader.request(self._records[self._indices[pos]].path, self._max_side, priority=n - rank)

    def _on_preview(self, path: str, max_side: int, image: QImage) -> None:
        for pos, index in enumerate(self._indices):
            record = self._records[index]
            if record.path == path:
                self.panes[pos].set_image(image, QSize(record.facts.width, record.facts.height))
                self.panes[pos].set_view(self.panes[self._pos].zoom, self.panes[self._pos].center)
        self._update_zoom_label()

    def _on_preview_failed(self, path: str, max_side: int, reason: str) -> None:
        for pos, index in enumerate(self._indices):
            if self._records[index].path == path:
                self.panes[pos].set_message(f"Cannot show this photo:\n{reason}")

    def _click(self, pos: int) -> None:
        if 0 <= pos < len(self._indices):
            self._pos = pos
            self._refresh()

    def _say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _refresh(self) -> None:
        for pos, index in enumerate(self._indices):
            self.panes[pos].set_current(pos == self._pos)
            self._captions[pos].setText(self._caption(index, pos == self._pos))
        current = self.current
        self.mark_button.setText("Unmark  (Space)" if current in self.marked else "Mark  (Space)")
        self.keep_button.setEnabled(current != self.keeper)
        self.trash_button.setEnabled(bool(self.marked))
        self._fill_table()
        self._update_zoom_label()

    def _caption(self, index: int, is_current: bool) -> str:
        name = os.path.basename(self._records[index].path)
        weight = "700" if is_current else "500"
        pills = []
        if index == self.keeper:
            pills.append(f'<span style="{_KEEP_PILL}">&nbsp;KEEP&nbsp;</span>')
        if is_original(self._derivation, index):
            pills.append(f'<span style="{_ORIGINAL_PILL}">&nbsp;ORIGINAL&nbsp;</span>')
        if index in self.marked:
            pills.append(f'<span style="{_MARK_PILL}">&nbsp;MARKED&nbsp;</span>')
        if self._review.is_protected(index):
            pills.append(f'<span style="{_LOCK_PILL}">&nbsp;PROTECTED&nbsp;</span>')
        return f'<span style="font-weight:{weight};">{_html(name)}</span>&nbsp;&nbsp;' + "&nbsp;".join(pills)

    def _fill_table(self) -> None:
        rows = metadata_rows(
            self._records, self._indices, self._similarities, self._companions, self._derivation
        )
        keeper_col = self._indices.index(self.keeper)
        self.table.setRowCount(len(rows))
        self.table.setVerticalHeaderLabels([label for label, _, _ in rows])
        self.table.setHorizontalHeaderLabels(
            [
                ("Keeper · " if i == self.keeper else "") + os.path.basename(self._records[i].path)
                for i in self._indices
            ]
        )
        bold = QFont(self.table.font())
        bold.setBold(True)
        for row, (_label, texts, keys) in enumerate(rows):
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                item.setData(RecordRole, self._indices[col])
                differs = keys is not None and keys[col] != keys[keeper_col]
                item.setData(DiffRole, differs)
                if differs:
                    item.setBackground(QBrush(_DIFF_BACKGROUND))
                    item.setForeground(QBrush(_DIFF_FOREGROUND))
                    item.setToolTip(f"{text}\n(differs from the keeper: {texts[keeper_col]})")
                if col == self._pos:
                    item.setFont(bold)
                self.table.setItem(row, col, item)

    def _update_zoom_label(self, *_: object) -> None:
        pane = self.panes[self._pos]
        self.zoom_label.setText(f"Zoom {pane.percent():.0f} %" if pane.has_image else "")


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _records_for_demo(paths: Sequence[str]) -> list[ImageRecord]:
    from photofind.core.scan.imageio import decode_file
    from photofind.core.types import FileRef, Skipped

    records = []
    for path in paths:
        decoded = decode_file(path)
        if isinstance(decoded, Skipped):
            print(f"skipped {path}: {decoded.reason.value} {decoded.detail}", file=sys.stderr)
            continue
        st = os.stat(path)
        records.append(ImageRecord(FileRef(path, st.st_size, st.st_mtime_ns), "", decoded.facts))
    return records


def main(argv: Sequence[str] | None = None) -> int:
    """Manual demo: compare the given photos (or the first six photos of a folder)."""
    from PySide6.QtWidgets import QApplication

    args = list(sys.argv[1:] if argv is None else argv)
    paths: list[str] = []
    for arg in args:
        if os.path.isdir(arg):
            paths += sorted(os.path.join(arg, n) for n in os.listdir(arg) if not n.startswith("."))[:6]
        else:
            paths.append(arg)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    records = _records_for_demo(paths)
    if not records:
        print("usage: python -m photofind.gui.compare PHOTO PHOTO… | FOLDER", file=sys.stderr)
        return 2
    keep = pick_keeper(records, range(len(records)))
    members = (Member(keep, 1.0), *(Member(i, 0.0) for i in range(len(records)) if i != keep))
    dialog = CompareDialog(Marks(records, [Group(1, Tier.SIMILAR, members, 0.0, 0.0)]), 1)
    dialog.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
