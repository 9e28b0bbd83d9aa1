"""Browse similar: the photos most like one query photo, as a thumbnail grid with similarity labels.

The search runs off the GUI thread (results come back by signal, stale ones are dropped by a
generation number). Clicking a result re-centres the view on it; a photo dropped from outside
the app becomes the query. Results are marked for clean-up as in the group grid (the round
toggle, Space, or the context menu; Delete trashes): the view asks, its owner decides
(photofind.gui.similar_review), and the marks shown are the review state's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPoint,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
    QMouseEvent,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from photofind.gui.preview import PreviewLoader
from photofind.gui.similar_model import SimilarDelegate, SimilarResultsModel

QUERY_SIDE = 720  # the query preview is shown large

SearchFn = Callable[[str, int], Sequence[tuple]]  # (path, similarity, tier[, relation]) answers
Row = tuple[str, float, str, str]  # path, similarity, tier, relation


class _Relay(QObject):
    finished = Signal(int, str, object)  # generation, query path, results
    failed = Signal(int, str, str)  # generation, query path, message


class _SearchTask(QRunnable):
    # The task holds the relay and a one-item list with the view's latest generation, never the
    # view itself: the last reference to a widget must not be dropped on a worker thread.
    def __init__(
        self, relay: _Relay, search: SearchFn, generation: int, path: str, top: int, latest: list[int]
    ) -> None:
        super().__init__()
        self._relay, self._search = relay, search
        self._generation, self._path, self._top = generation, path, top
        self._latest = latest

    def run(self) -> None:
        if self._latest[0] != self._generation:
            return  # superseded before it started: skip the work
        try:
            results = self._search(self._path, self._top)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            self._relay.failed.emit(self._generation, self._path, str(exc) or type(exc).__name__)
            return
        self._relay.finished.emit(self._generation, self._path, results)


_POOL: QThreadPool | None = None


def _search_pool() -> QThreadPool:
    # One thread: searches are replaced, not run side by side; stale ones skip themselves.
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(1)
    return _POOL


def _clean(results: Any, query: str, top: int) -> list[Row]:
    """Best first, the query itself left out, malformed answers dropped; an answer without a
    relation gets an empty one."""
    rows: list[Row] = []
    same = os.path.normcase(os.path.abspath(query))
    for item in results or ():
        try:
            path, similarity, tier = str(item[0]), float(item[1]), str(item[2] or "")
            relation = str(item[3] or "") if len(item) > 3 else ""
        except (TypeError, ValueError, IndexError):
            continue
        if os.path.normcase(os.path.abspath(path)) != same:
            rows.append((path, similarity, tier, relation))
    rows.sort(key=lambda r: -r[1])  # stable: equal scores keep the engine's order
    return rows[:top]


class SimilarView(QWidget):
    """The query photo on the left, the most similar photos of the library on the right."""

    centred = Signal(str)  # the view now shows photos like this path
    choosePhotoRequested = Signal()  # the user wants to pick a query photo from a file dialog
    chooseWeightsRequested = Signal()  # the user wants to give the model's weights file
    searchFinished = Signal(str, int)  # query path, number of results shown
    searchFailed = Signal(str, str)  # query path, message
    compareRequested = Signal(str, str)  # query path, result path: compare them side by side
    markToggleRequested = Signal(str, list)  # query path, result paths: mark them, or unmark them all
    trashRequested = Signal()  # move what is marked to the trash

    def __init__(self, search: SearchFn, parent: QWidget | None = None, *, top: int = 60) -> None:
        super().__init__(parent)
        self.setObjectName("similarView")
        self.setAcceptDrops(True)
        self._search = search
        self._top = top
        self._query: str | None = None
        self._history: list[str] = []
        self._latest = [0]  # the newest search generation, shared with the search tasks
        self._query_image: QPixmap | None = None
        self._model_problem: str | None = None
        self._extending = False  # the last click on a result held Ctrl or Shift
        self._relay = _Relay()
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._loader = PreviewLoader(self)
        self._loader.loaded.connect(self._on_query_preview)
        self._loader.failed.connect(self._on_query_preview_failed)
        self.model = SimilarResultsModel(self._loader, self)
        self._build()

    # ---- public ---------------------------------------------------------------------------------
    @property
    def query(self) -> str | None:
        return self._query

    def results(self) -> list[Row]:
        return self.model.results()

    def result_of(self, path: str) -> Row | None:
        """The shown result for `path` (its similarity, tier and relation), if it is shown."""
        return next((row for row in self.model.results() if row[0] == path), None)

    def set_mark_lookup(self, is_marked: Callable[[str], bool]) -> None:
        """How to tell a marked result (the review state's owner answers)."""
        self.model.set_mark_lookup(is_marked)

    def marks_changed(self) -> None:
        """The review state changed: repaint the marks."""
        self.model.marks_changed()

    def toggle_selected_marks(self) -> None:
        """Mark the selected results (or the current one), or unmark them if all are marked."""
        rows = {i.row() for i in self.list.selectionModel().selectedIndexes()}
        if not rows and self.list.currentIndex().isValid():
            rows = {self.list.currentIndex().row()}
        paths = [self.model.index(r, 0).data(SimilarResultsModel.PathRole) for r in sorted(rows)]
        if self._query and paths:
            self.markToggleRequested.emit(self._query, paths)

    def show_for(self, path: str, *, remember: bool = True) -> None:
        """Search for photos like `path` (in the library or not) and show them."""
        if remember and self._query and self._query != path:
            self._history.append(self._query)
            del self._history[:-100]  # Back goes far enough; memory stays bounded
        self._query = path
        self._latest[0] += 1
        self.back_button.setEnabled(bool(self._history))
        self.query_name.setText(os.path.basename(path) or path)
        self.query_folder.setText(os.path.dirname(path))
        self.query_folder.setToolTip(path)
        self._query_image = None
        self.query_image.setPixmap(QPixmap())
        self.query_image.setText("Loading…")
        self._loader.request(path, QUERY_SIDE, priority=1)
        self.status.setText("Searching…")
        self.model.set_results([])
        self.centred.emit(path)
        # One extra answer: a photo of the library finds itself first, and is left out.
        _search_pool().start(
            _SearchTask(self._relay, self._search, self._latest[0], path, self._top + 1, self._latest)
        )

    def set_model_problem(self, problem: str | None) -> None:
        """Why there is no similarity model (None: there is one). Without it the view still
        lists a photo's copies, and says plainly that finding similar photos needs the model."""
        self._model_problem = problem or None
        self.offline.setVisible(self._model_problem is not None)
        self.offline_text.setText(
            "Finding similar photos needs the model. Only copies of the photo are shown."
            if self._model_problem
            else ""
        )
        self.offline_text.setToolTip(self._model_problem or "")

    def set_top(self, top: int) -> None:
        """How many results to show; a shown search is run again with the new count."""
        if top == self._top:
            return
        self._top = top
        self.count_box.setValue(top)
        if self._query:
            self.show_for(self._query, remember=False)

    def back(self) -> None:
        if self._history:
            self.show_for(self._history.pop(), remember=False)

    # ---- drag and drop --------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _first_local_file(event.mimeData().urls() if event.mimeData().hasUrls() else []):
            event.acceptProposedAction()
            self._set_drop_highlight(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: Any) -> None:
        self._set_drop_highlight(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_drop_highlight(False)
        path = _first_local_file(event.mimeData().urls() if event.mimeData().hasUrls() else [])
        if not path:
            event.ignore()
            return
        event.acceptProposedAction()
        self.show_for(path)

    # ---- building --------------------------------------------------------------------------------
    def _build(self) -> None:
        title = QLabel("Photos like")
        title.setObjectName("sectionTitle")
        title_font = title.font()
        title_font.setBold(True)
        title.setFont(title_font)
        self.query_image = QLabel("Drop a photo here")
        self.query_image.setObjectName("similarQueryImage")
        self.query_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_image.setMinimumSize(300, 300)
        self.query_image.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._set_drop_highlight(False)
        self.query_name = QLabel()
        self.query_name.setObjectName("similarQueryName")
        font = self.query_name.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.query_name.setFont(font)
        self.query_name.setWordWrap(True)
        self.query_folder = QLabel()
        self.query_folder.setWordWrap(True)
        self.query_folder.setObjectName("hint")
        self.status = QLabel("Choose a photo, or drop one here from your file manager.")
        self.status.setObjectName("similarStatus")
        self.status.setWordWrap(True)
        self.choose_button = QPushButton("Choose photo\u2026")
        self.choose_button.setObjectName("choosePhoto")
        self.choose_button.setToolTip("Find photos like any photo file, in the library or not")
        self.choose_button.clicked.connect(self.choosePhotoRequested)
        self.count_box = QSpinBox()
        self.count_box.setObjectName("similarCount")
        self.count_box.setRange(1, 500)
        self.count_box.setSingleStep(5)
        self.count_box.setValue(self._top)
        self.count_box.setPrefix("Show ")
        self.count_box.setSuffix(" results")
        self.count_box.setKeyboardTracking(False)  # one search when typing "120", not three
        self.count_box.valueChanged.connect(self.set_top)
        self.offline_text = QLabel()
        self.offline_text.setObjectName("similarOffline")
        self.offline_text.setWordWrap(True)
        weights = QPushButton("Choose weights file\u2026")
        weights.setObjectName("similarChooseWeights")
        weights.clicked.connect(self.chooseWeightsRequested)
        self.offline = QWidget()
        offline_layout = QVBoxLayout(self.offline)
        offline_layout.setContentsMargins(0, 0, 0, 0)
        offline_layout.addWidget(self.offline_text)
        offline_layout.addWidget(weights, 0, Qt.AlignmentFlag.AlignLeft)
        self.offline.setVisible(False)
        self.back_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_ArrowBack), "Back")
        self.back_button.setEnabled(False)
        self.back_button.clicked.connect(self.back)
        QShortcut(QKeySequence.StandardKey.Back, self, activated=self.back)
        hint = QLabel(
            "Click a result to see photos like it. Choose or drop any photo to search with it. "
            "Space or the round toggle marks a result for the trash; Delete moves what is marked there."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        side = QVBoxLayout()
        side.setSpacing(8)
        for w in (title, self.query_image, self.query_name, self.query_folder, self.status, self.offline):
            side.addWidget(w)
        side.addStretch(1)
        side.addWidget(hint)
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.choose_button)
        buttons.addStretch(1)
        side.addLayout(buttons)
        side.addWidget(self.count_box, 0, Qt.AlignmentFlag.AlignLeft)
        side_host = QWidget()
        side_host.setLayout(side)
        side_host.setFixedWidth(340)

        self.list = QListView()
        self.list.setObjectName("similarGrid")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)  # no per-row size queries: cheap layout for any count
        self.list.setGridSize(SimilarDelegate.CELL)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setMouseTracking(True)
        self.list.setItemDelegate(SimilarDelegate(self.list))
        self.list.viewport().installEventFilter(self)
        self.list.setModel(self.model)
        for key, slot in (
            (Qt.Key.Key_Space, self.toggle_selected_marks),
            (Qt.Key.Key_Delete, self.trashRequested.emit),
        ):
            QShortcut(QKeySequence(key), self.list, activated=slot, context=Qt.ShortcutContext.WidgetShortcut)
        self.list.clicked.connect(self._open_index)
        self.list.activated.connect(self._open_index)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(14)
        layout.addWidget(side_host)
        layout.addWidget(self.list, 1)

    def _set_drop_highlight(self, on: bool) -> None:
        background = "#243447" if on else "#1c1e22"
        border = "2px dashed #4c8dff" if on else "1px solid #30343a"
        self.query_image.setStyleSheet(
            f"#similarQueryImage {{ background: {background}; color: #9aa0a8; border-radius: 8px; border: {border}; }}"
        )

    # ---- results -----------------------------------------------------------------------------------
    def _open_index(self, index: QModelIndex) -> None:
        if self._extending:
            return  # Ctrl or Shift + click adds to the selection (to mark several); no walking on
        path = index.data(SimilarResultsModel.PathRole)
        if path and path != self._query:
            self.show_for(path)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        path = index.data(SimilarResultsModel.PathRole) if index.isValid() else None
        if path:
            self.result_menu(path).exec(self.list.viewport().mapToGlobal(pos))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A click on a result's round toggle marks it; it neither selects nor walks on."""
        if watched is self.list.viewport() and isinstance(event, QMouseEvent):
            self._extending = bool(
                event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
            )
        if (
            watched is self.list.viewport()
            and event.type()
            in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick)
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
        ):
            pos = event.position().toPoint()
            index = self.list.indexAt(pos)
            delegate = self.list.itemDelegate()
            if (
                index.isValid()
                and isinstance(delegate, SimilarDelegate)
                and delegate.toggle_rect(self.list.visualRect(index)).contains(pos)
            ):
                path = index.data(SimilarResultsModel.PathRole)
                if event.type() == QEvent.Type.MouseButtonRelease and self._query and path:
                    self.markToggleRequested.emit(self._query, [path])
                return True
        return super().eventFilter(watched, event)

    def result_menu(self, path: str) -> QMenu:
        """The context menu of the result at `path`."""
        menu = QMenu(self)
        menu.addAction("Show photos like this", lambda: self.show_for(path))
        query = self._query
        if query:
            menu.addAction("Compare with the searched photo", lambda: self.compareRequested.emit(query, path))
            menu.addAction(
                "Unmark" if self.model.is_marked(path) else "Mark for the trash",
                lambda: self.markToggleRequested.emit(query, [path]),
            )
            menu.addAction("Move marked photos to the trash", self.trashRequested.emit)
        menu.addAction("Open", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))
        menu.addAction(
            "Show in folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))
        )
        return menu

    @Slot(int, str, object)
    def _on_finished(self, generation: int, path: str, results: object) -> None:
        if generation != self._latest[0]:
            return  # the user moved on; an older answer must not overwrite the newer one
        rows = _clean(results, path, self._top)
        self.model.set_results(rows)
        self.list.scrollToTop()
        self.status.setText(self._summary(len(rows)))
        self.searchFinished.emit(path, len(rows))

    def _summary(self, shown: int) -> str:
        if self._model_problem:  # the similarity search did not run: never claim "no similar photos"
            return (
                f"{shown} cop{'ies' if shown != 1 else 'y'} of this photo."
                if shown
                else "No copies of this photo."
            )
        if shown:
            return f"{shown} similar photo{'s' if shown != 1 else ''}, most similar first."
        return "No similar photos in the library."

    @Slot(int, str, str)
    def _on_failed(self, generation: int, path: str, message: str) -> None:
        if generation != self._latest[0]:
            return
        self.model.set_results([])
        self.status.setText(f"Could not search with this photo: {message}")
        self.searchFailed.emit(path, message)

    @Slot(str, int, QImage)
    def _on_query_preview(self, path: str, max_side: int, image: QImage) -> None:
        if max_side == QUERY_SIDE and path == self._query:
            self._query_image = QPixmap.fromImage(image)
            self.query_image.setText("")
            self._fit_query_image()

    @Slot(str, int, str)
    def _on_query_preview_failed(self, path: str, max_side: int, reason: str) -> None:
        if max_side == QUERY_SIDE and path == self._query:
            self.query_image.setText(f"Cannot show this photo:\n{reason}")

    def _fit_query_image(self) -> None:
        if self._query_image is not None:
            box = QSize(self.query_image.width(), max(self.query_image.height(), 300))
            self.query_image.setPixmap(
                self._query_image.scaled(
                    box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            )

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit_query_image()


def _first_local_file(urls: Sequence[QUrl]) -> str | None:
    for url in urls:
        if url.isLocalFile() and os.path.isfile(url.toLocalFile()):
            return url.toLocalFile()
    return None
