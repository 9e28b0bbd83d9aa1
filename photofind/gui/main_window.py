"""The main window: folders and matching controls on the left, the group grid in the middle,
"browse similar" as a second page, skipped files in a bottom panel, progress in the status bar.

It wires widgets to the ScanController and the GroupModel and holds no engine logic itself.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from photofind.core.cleanup import edits
from photofind.core.cleanup.executor import BatchReport, Status
from photofind.core.cleanup.keep import RuleError, parse_rules
from photofind.core.cleanup.ready import ReadyGroups
from photofind.core.types import ScanResult, ScanSettings, Thresholds, Tier
from photofind.gui import assets, text
from photofind.gui.after_paint import after_next_paint
from photofind.gui.controller import ScanController, thresholds_at
from photofind.gui.dialogs import ModelBanner, SkippedPanel
from photofind.gui.filters import FilterPanel
from photofind.gui.folders import FoldersPanel, local_dirs
from photofind.gui.grid_view import GroupGridView
from photofind.gui.group_model import GroupModel
from photofind.gui.library_view import LibraryView
from photofind.gui.prefs import Prefs
from photofind.gui.review import Review
from photofind.gui.scan_status import ScanStatus
from photofind.gui.similar_review import SimilarReview
from photofind.gui.similar_view import SimilarView
from photofind.gui.toolbar import build_actions, build_toolbar

WEIGHTS_FILTER = "PyTorch weights (*.pth *.pt *.bin);;All files (*)"


class MainWindow(QMainWindow):
    """The app's one window. `controller` and `settings` are injectable so tests can give it
    a fast embedder, a private cache and a private settings file."""

    def __init__(
        self,
        controller: ScanController | None = None,
        settings: QSettings | None = None,
        *,
        base_thresholds: Thresholds | None = None,
        batch_size: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("photofind")
        self.setWindowIcon(assets.app_icon())
        self.setAcceptDrops(True)
        self.resize(1360, 860)
        self.prefs = Prefs(settings)
        self.controller = controller or ScanController(self)
        if self.controller.parent() is None:
            self.controller.setParent(self)
        self.base_thresholds = base_thresholds or Thresholds()
        self.default_thresholds = self.base_thresholds
        self.batch_size = batch_size
        self.model = GroupModel(self)
        self.controller.follow_review(lambda: self.model.review)  # new groups are made ready against it
        self._cleaned = (0, 0)  # files and bytes moved to the trash since the last scan
        self._build_widgets()
        self.review = Review(self.model, self.controller, self.grid, parent=self)
        self.similar_review = SimilarReview(self.similar, self.review, self.controller.library_row, self)
        self.actions = build_actions(
            self,
            self.review,
            choose_folder=self.folders.choose_folder,
            start_scan=self.start_scan,
            cancel_scan=self.controller.cancel_scan,
            keep_rules=self.prefs.keep_rules,
        )
        build_toolbar(self, self.actions)
        self._connect()
        self._restore()
        self._update_actions()

    # -- construction ----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        self.folders = FoldersPanel(parent=self)
        self.filters = FilterPanel(self)
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(16, 16, 16, 16)
        side.setSpacing(18)
        side.addWidget(self.folders, 1)
        line = QFrame()
        line.setObjectName("divider")
        line.setFrameShape(QFrame.Shape.HLine)
        side.addWidget(line)
        side.addWidget(self.filters)

        self.banner = ModelBanner()
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.grid = GroupGridView(parent=self)
        self.grid.setObjectName("groupGrid")
        self.grid.setModel(self.model)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        page = QWidget()
        page.setObjectName("groupsPage")
        body = QVBoxLayout(page)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        top = QVBoxLayout()
        top.setContentsMargins(16, 12, 16, 8)
        top.setSpacing(10)
        top.addWidget(self.banner)
        top.addWidget(self.summary)
        body.addLayout(top)
        body.addWidget(self.grid, 1)

        self.similar = SimilarView(self.controller.similar_search)
        self.similar.setObjectName("similarView")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("pages")
        self.tabs.setDocumentMode(True)
        self.tabs.tabBar().setDrawBase(False)
        self.library = LibraryView()
        self.tabs.addTab(page, assets.icon("photos"), "Duplicates")
        self.tabs.addTab(self.library, assets.icon("folder"), "Library")
        self.tabs.addTab(self.similar, assets.icon("similar"), "Browse similar")

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(sidebar)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 1060])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.skipped_panel = SkippedPanel()
        self.skipped_dock = QDockWidget("Skipped files", self)
        self.skipped_dock.setObjectName("skippedDock")
        self.skipped_dock.setWidget(self.skipped_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.skipped_dock)
        self.skipped_dock.hide()

        self.status = ScanStatus(self.statusBar())
        self.status_label, self.progress_label = self.status.message, self.status.progress_text
        self.skipped_button = self.status.skipped_button

    def _connect(self) -> None:
        c = self.controller
        c.scanStarted.connect(self._scan_started)
        c.progressed.connect(self.status.progressed)
        c.scanFinished.connect(self._scan_finished)
        c.scanFailed.connect(self._scan_failed)
        c.groupsChanged.connect(self._groups_changed)
        c.busyChanged.connect(self._update_actions)
        c.trashFinished.connect(self._trash_finished)
        r = self.review
        r.statusMessage.connect(self.show_status)
        r.actionsChanged.connect(self._update_actions)
        r.rescanRequested.connect(self.start_scan)
        r.similarRequested.connect(self._show_similar)
        r.keepRulesChanged.connect(self._keep_rules_changed)
        self.similar_review.statusMessage.connect(self.show_status)
        self.folders.foldersChanged.connect(self._folders_changed)
        self.filters.thresholdChanged.connect(self._threshold_changed)
        self.filters.automaticRequested.connect(self._automatic_threshold)
        self.filters.tiersChanged.connect(self._tiers_changed)
        self.filters.sortChanged.connect(self._sort_changed)
        self.model.reviewChanged.connect(self._update_summary)
        self.model.reviewChanged.connect(self._update_actions)
        self.model.markRefused.connect(lambda why: self.show_status(f"Not marked: {why}."))
        self.grid.compareRequested.connect(self.review.compare_group)
        self.grid.trashRequested.connect(self.review.trash_marked)
        self.grid.customContextMenuRequested.connect(self.review.context_menu)
        self.banner.chooseWeightsRequested.connect(self.choose_weights_file)
        self.banner.continueWithoutModelRequested.connect(self.continue_without_model)
        self.skipped_button.toggled.connect(self.skipped_dock.setVisible)
        self.skipped_dock.visibilityChanged.connect(self.skipped_button.setChecked)
        self.similar.centred.connect(lambda _path: self.tabs.setCurrentWidget(self.similar))
        self.similar.choosePhotoRequested.connect(self.library.choose_photo)
        self.similar.chooseWeightsRequested.connect(self.choose_weights_file)
        self.library.photoChosen.connect(self._show_similar)

    def _restore(self) -> None:
        p = self.prefs
        try:  # before any groups, so made here at once
            self.model.apply(edits.use_rules(parse_rules(p.keep_rules)))
        except RuleError:
            pass  # a hand-edited settings file: the default chain, and the next scan says why
        # The protected folders follow the folder list (its reset reaches _folders_changed).
        self.folders.model.load_json(p.folders_json)
        self.filters.set_threshold(p.similarity or self.base_thresholds.similar, emit=False)
        self.filters.set_automatic(p.similarity is None)
        self.filters.set_tiers(p.tiers)
        self.filters.set_sort_key(p.sort_key)
        self.model.set_tier_filter(self.filters.tiers())
        self.model.set_sort(self.filters.sort_key())
        for name, restore in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            ("splitter", self.splitter.restoreState),
        ):
            saved = p.window_state(name)
            if saved is not None:
                restore(saved)
        if not p.embed:
            self.banner.set_problem(p.model_problem or "You chose to continue with exact duplicates only.")
        else:
            self.banner.set_problem(self._model_problem_now())
        self.similar.set_model_problem(self.banner.problem)
        self._update_placeholder()

    def _model_problem_now(self) -> str | None:
        """Say at start, not after a scan, when the weights are missing and may not be
        downloaded. Only file checks here; a possible download waits for the scan."""
        if self.controller.embedders.current() is not None:
            return None  # a model was handed in (tests, scripts)
        from photofind.core.model.weights import NO_DOWNLOAD_ENV, WeightsUnavailable, resolve_weights

        explicit = self.prefs.weights
        if explicit:
            exists = explicit == "random" or os.path.isfile(os.path.expanduser(explicit))
            return (
                None if exists else f"ResNet-34 weights file not found: {explicit} (from the app's settings)"
            )
        if os.environ.get(NO_DOWNLOAD_ENV, "") in ("", "0"):
            return None
        try:
            resolve_weights(None, allow_download=False)
        except WeightsUnavailable as exc:
            return str(exc)
        return None

    # -- scanning ----------------------------------------------------------------------------------

    def add_folders(self, paths: list[str]) -> int:
        return self.folders.add_folders(paths)

    def scan_settings(self) -> ScanSettings:
        fields: dict[str, Any] = dict(
            roots=tuple(self.folders.model.paths()),
            thresholds=thresholds_at(self.filters.threshold(), self.base_thresholds),
            weights=self.prefs.weights,
            embed=self.prefs.embed,
            protected=tuple(self.folders.model.protected_paths()),
            keep_rules=self.prefs.keep_rules,
            calibrate=self.filters.is_automatic(),
        )
        if self.batch_size:
            fields["batch_size"] = self.batch_size
        return ScanSettings(**fields)

    def start_scan(self) -> bool:
        settings = self.scan_settings()
        if not settings.roots:
            self.show_status("Add a folder first: use Add folder or drop one on the window.")
            return False
        return self.controller.start_scan(settings)

    def _scan_started(self) -> None:
        self._cleaned = (0, 0)
        self.status.started()
        self.show_status("Scanning\u2026")
        self.grid.set_placeholder("Scanning\u2026", "Groups appear here when the scan is done.")

    def _scan_finished(self, result: ScanResult) -> None:
        self.status.finished()
        self.skipped_panel.set_skipped(result.skipped)
        self.status.set_skipped(len(result.skipped))
        self._show_model_problem(result)
        self._follow_calibration(result)
        # The Library's sections are made on a worker once the groups are painted: Python there
        # shares the GIL with the GUI thread and would slow that paint.
        after_next_paint(self.grid.viewport(), lambda: self.library.set_library(self.controller.photos))
        seconds = result.stats.seconds
        if result.cancelled:
            self.show_status(
                f"Scan stopped after {text.duration(seconds)}: {len(result.records):,} photos "
                "read so far are kept. Scan again to continue where it stopped."
            )
            self.controller.regroup(result.settings.thresholds)  # show what the finished part holds
        else:
            self.show_status(
                f"Scanned {len(result.records):,} photos in {text.duration(seconds)}: "
                f"{len(result.groups):,} groups, {len(result.skipped):,} skipped."
            )
        for warning in result.warnings:
            self.show_status(warning)

    def _scan_failed(self, message: str) -> None:
        self.status.finished()
        self.show_status(f"The scan failed: {message}")
        QMessageBox.warning(self, "Scan failed", f"The scan stopped with an error:\n\n{message}")

    def _follow_calibration(self, result: ScanResult) -> None:
        """When the engine calibrated thresholds for this model and library, the slider shows
        its `similar` bar (a cosine means different things under different weights), unless
        the user set the slider."""
        calibration = result.calibration
        # Without a model there is no cosine to tune: exact and pixel matching only.
        self.filters.set_calibration_note(
            text.calibration_note(calibration, tuning=result.settings.calibrate) if result.model else ""
        )
        if calibration is not None:
            self.default_thresholds = calibration.thresholds
            if self.filters.is_automatic():
                self.base_thresholds = calibration.thresholds
                self.filters.set_threshold(calibration.thresholds.similar, emit=False)

    def _automatic_threshold(self) -> None:
        self.prefs.similarity = None
        self.base_thresholds = self.default_thresholds
        self.filters.set_threshold(self.base_thresholds.similar, emit=False)
        self.controller.regroup(self.base_thresholds)

    def _show_model_problem(self, result: ScanResult) -> None:
        if result.model is not None:
            self.banner.set_problem(None)
        elif self.prefs.embed and result.model_problem:
            self.banner.set_problem(result.model_problem)
        self.similar.set_model_problem(
            None if result.model is not None else result.model_problem or "visual similarity is off"
        )

    def choose_weights_file(self) -> None:
        path = self.ask_weights_path()
        if not path:
            return
        self.prefs.weights = path
        self.prefs.embed = True
        self.prefs.model_problem = ""
        self.show_status(f"Using weights {os.path.basename(path)}; scanning again.")
        if self.folders.model.paths():
            self.start_scan()

    def ask_weights_path(self) -> str:
        """Asks for a weights file (tests replace this)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose ResNet-34 weights", os.path.expanduser("~"), WEIGHTS_FILTER
        )
        return path

    def continue_without_model(self) -> None:
        self.prefs.model_problem = self.banner.problem or ""
        self.prefs.embed = False
        self.show_status("Continuing with exact and same-pixel duplicates only.")

    # -- groups and view options -------------------------------------------------------------------

    def _groups_changed(self, ready: ReadyGroups) -> None:
        if self.model.records() is not ready.records:
            self.grid.loader.reset()  # a new library: files at the same paths may have changed
        self.model.show(ready)
        self.filters.set_tier_counts(self.model.tier_counts())
        self._update_placeholder()  # the summary followed show's reviewChanged

    def _trash_finished(self, report: BatchReport) -> None:
        # Before the groups without the trashed files arrive: their pairs go, marks with them.
        done = (self.controller.library_row(o.item.path) for o in report.outcomes if o.status is Status.DONE)
        self.model.forget_records(row for row in done if row is not None)
        self.library.set_records(self.controller.library_records(), self.controller.library_roots())
        files, size = self._cleaned
        self._cleaned = (files + report.count(Status.DONE), size + report.bytes_done)

    def _threshold_changed(self, value: float) -> None:
        self.prefs.similarity = value
        self.controller.regroup(thresholds_at(value, self.base_thresholds))

    def _tiers_changed(self, tiers: set[Tier]) -> None:
        self.prefs.tiers = tiers
        self.model.set_tier_filter(tiers)
        self._update_placeholder()
        self._update_summary()

    def _sort_changed(self, key) -> None:
        self.prefs.sort_key = key
        self.model.set_sort(key)

    def _folders_changed(self) -> None:
        self.prefs.folders_json = self.folders.model.to_json()
        self.review.protect(self.folders.model.protected_paths())
        self._update_placeholder()
        self._update_actions()

    def _update_placeholder(self) -> None:
        if not self.folders.model.paths():
            self.grid.set_placeholder(
                "Find duplicate photos",
                "Add a folder with Add folder, or drop folders on this window, then press Scan.",
            )
        elif self.controller.result is None:
            self.grid.set_placeholder(
                "Ready to scan", "Press Scan to look for duplicates and similar photos."
            )
        elif not self.model.groups() and self._cleaned[0]:
            files, size = self._cleaned
            self.grid.set_placeholder(
                "All duplicate groups are cleaned up",
                f"{files:,} file{'s' if files != 1 else ''} ({text.human_bytes(size)}) moved to the trash. "
                "Undo (Ctrl+Z) puts them back.",
            )
        elif not self.model.groups():
            self.grid.set_placeholder("No duplicates found", "Try a looser similarity in Matching.")
        else:
            self.grid.set_placeholder("Nothing to show", "All groups are hidden by the Show filters.")

    def _update_summary(self) -> None:
        groups, photos, free = self.model.shown_totals()
        text_ = (
            f"<b>{groups:,}</b> groups &nbsp;\u00b7&nbsp; <b>{photos:,}</b> photos &nbsp;\u00b7&nbsp; "
            f"<b>{text.human_bytes(free)}</b> can be freed"
        )
        review = self.model.review  # its count and bytes are kept as marks change: no pass here
        if review.count:
            text_ += (
                f" &nbsp;\u00b7&nbsp; <span style='color:#f0565a'><b>{review.count:,}</b> marked "
                f"({text.human_bytes(review.bytes)})</span>"
            )
        self.summary.setText(text_ if self.controller.result is not None else "")

    def _update_actions(self, *_args) -> None:
        self.actions.update(
            busy=self.controller.is_busy,
            scanning=self.controller.is_scanning,
            has_folders=bool(self.folders.model.paths()),
            has_groups=bool(self.model.groups()),
            has_marks=bool(self.model.review.count),
            can_undo=self.review.undo_available,
            editing=self.review.edits.busy,
        )

    def _show_similar(self, path: str) -> None:
        self.tabs.setCurrentWidget(self.similar)
        if path:
            self.similar.show_for(path)

    def _keep_rules_changed(self, chain: str) -> None:
        self.prefs.keep_rules = chain

    def show_status(self, message: str) -> None:
        self.status.show_message(message)

    # -- drag and drop, closing -------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and local_dirs(event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        added = self.add_folders(local_dirs(event.mimeData().urls()))
        if added:
            event.acceptProposedAction()
            self.show_status(f"Added {added} folder{'s' if added > 1 else ''}. Press Scan when ready.")

    def closeEvent(self, event: QCloseEvent) -> None:
        p = self.prefs
        p.set_window_state("geometry", self.saveGeometry())
        p.set_window_state("state", self.saveState())
        p.set_window_state("splitter", self.splitter.saveState())
        p.sync()
        self.controller.shutdown()
        self.grid.loader.wait_idle(3000)
        super().closeEvent(event)
