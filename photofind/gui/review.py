"""What the user does with groups: mark by rule, trash with confirmation, undo, compare side by
side, browse similar, and the grid's context menu. Kept apart from main_window.py, which only
builds and lays out the window.

`Review` is given what it works on (the group model with its review state, the controller, the
grid) and reports back by signal; it knows nothing of the window around it. What changes every
group (mark by rule, clear all marks, a keeper rule chain, protected folders) is made on a
worker through `edits` (photofind.gui.review_edits), so the window stays responsive at 100k."""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import QObject, QPoint, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from photofind.core.cleanup import edits
from photofind.core.cleanup.executor import BatchReport, Status
from photofind.core.cleanup.keep import KEEP_PRESETS, KeeperPolicy, parse_rules
from photofind.core.cleanup.restore import UndoReport, UndoStatus
from photofind.core.types import Group, Tier
from photofind.gui import assets, text
from photofind.gui.compare import CompareDialog
from photofind.gui.controller import ScanController
from photofind.gui.grid_view import GroupGridView
from photofind.gui.group_model import GroupModel, Roles
from photofind.gui.review_edits import ReviewEdits


class Review(QObject):
    statusMessage = Signal(str)  # a sentence for the status bar
    actionsChanged = Signal()  # what may be done changed (undo became possible, ...)
    rescanRequested = Signal()  # files came back: the groups must be found again
    similarRequested = Signal(str)  # show the "browse similar" page for this path ("": none chosen)
    keepRulesChanged = Signal(str)  # the keeper rule chain the user chose, for the next scans

    def __init__(
        self,
        model: GroupModel,
        controller: ScanController,
        grid: GroupGridView,
        *,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.controller = controller
        self.grid = grid
        self._dialog_parent = parent
        self.compare_dialog: CompareDialog | None = None
        self.undo_available = controller.can_undo()
        self.carry_metadata = False  # the confirmation's "write missing metadata into sidecars" box
        self.edits = ReviewEdits(model, controller, self)
        self.edits.statusMessage.connect(self.statusMessage)
        self.edits.busyChanged.connect(self.actionsChanged)  # no trash while marks are about to change
        controller.trashFinished.connect(self._trash_finished)
        controller.trashFailed.connect(self._trash_failed)
        controller.undoFinished.connect(self._undo_finished)
        controller.undoFailed.connect(self._undo_failed)
        controller.regroupFailed.connect(self._regroup_failed)
        model.reviewChanged.connect(self._refresh_compare)

    # -- marking and cleaning up --------------------------------------------------------------------

    def keep_by_rule(self, chain: str) -> None:
        """Re-pick every group's keeper with a rule chain (photofind.core.cleanup.keep), on a
        worker; remembered for the next scans too. Raises RuleError, at once, if invalid."""
        rules = parse_rules(chain)
        self.keepRulesChanged.emit(chain)
        label = next((name for name, c in KEEP_PRESETS if c == chain), chain).lower()
        self.statusMessage.emit(f"Choosing the keepers: {label}…")

        def done(changed: int) -> None:
            self.statusMessage.emit(f"Keeping: {label}. {changed:,} groups changed keeper.")

        self.edits.start("choosing the keepers", lambda: edits.keep_by_rule(rules, self.model.groups()), done)

    def mark_by_rule(self, tiers: Iterable[Tier]) -> None:
        """Mark every photo but the keeper in the shown groups of `tiers`, on a worker."""
        tiers = set(tiers)
        names = ", ".join(text.TIER_SHORT[t].lower() for t in Tier if t in tiers)
        self.statusMessage.emit(f"Marking the copies in {names} groups…")

        def done(added: int) -> None:
            self.statusMessage.emit(
                f"Marked {added:,} photos in {names} groups; the keeper of every group stays."
                if added
                else "Nothing new to mark in the shown groups."
            )

        self.edits.start(
            "marking by rule", lambda: edits.mark_by_rule(tiers, self.model.shown_group_ids()), done
        )

    def clear_marks(self) -> None:
        """Unmark every photo (chosen keepers stay), on a worker."""
        self.edits.start(
            "clearing the marks",
            edits.clear_marks,
            lambda _: self.statusMessage.emit("Every mark is cleared."),
        )

    def protect(self, folders: Iterable[str]) -> None:
        """Protect these folders and no others (their photos are kept, never marked), on a
        worker; nothing happens if they are the protected ones already (and no edit waits,
        which may change them)."""
        folders = tuple(folders)
        protected = KeeperPolicy.parse("", folders).protected
        if not self.edits.busy and protected == self.model.review.policy.protected:
            return
        self.edits.start("protecting the folders", lambda: edits.protect(folders), lambda _: None)

    def trash_marked(self) -> bool:
        if self.edits.busy:
            self.statusMessage.emit("The marks are being changed: move them to the trash once that is done.")
            return False
        review = self.model.review
        if not review.count:
            self.statusMessage.emit(
                "Nothing is marked. Mark photos with Space or the round toggle on each photo."
            )
            return False
        groups = len({group.id for group, _record in review})  # pairs from the similar page too
        companions = sum(len(self.model.companions_of(i)) for i in review.marked_records())
        if not self.confirm(review.count, review.bytes, groups, "trash", companions=companions):
            return False
        # A copy: the plan is made on a worker while the grid's review state may change.
        started = self.controller.trash(review.detached(), carry=self.carry_metadata)
        if started:
            self.statusMessage.emit(f"Moving {review.count:,} photos to the trash\u2026")
        return started

    def keep_best_shot(self, row: int) -> bool:
        """Keep the burst's best shot at top-level `row` and trash the rest of that group, after
        the usual confirmation (which counts every marked photo). Never done by rule; if the
        user says no, the marks this made are taken back. False when nothing was started."""
        model = self.model
        group = model.group(row)
        best = model.best_shot(group)
        if best is None:
            return False
        review = model.review
        before = review.marked(group.id)
        model.set_keeper(best)
        review.mark_duplicates(set(Tier), [group.id])
        model.review_edited(group.id)
        if self.trash_marked():
            return True
        for record in review.marked(group.id) - before:
            review.unmark(group.id, record)
        model.review_edited(group.id)
        return False

    def confirm(self, files: int, size: int, groups: int, action: str, companions: int = 0) -> bool:
        """Ask the user (tests replace this); the answer's box to carry metadata over is kept
        in `carry_metadata` for the batch."""
        from photofind.gui.dialogs import ask_cleanup

        accepted, self.carry_metadata = ask_cleanup(
            self._dialog_parent, files, size, groups, action, offer_carry=True, companions=companions
        )
        return accepted

    def undo(self) -> bool:
        started = self.controller.undo()
        if started:
            self.statusMessage.emit("Putting the last cleaned-up photos back\u2026")
        return started

    def _trash_finished(self, report: BatchReport) -> None:
        done = report.count(Status.DONE)
        extra = [
            f"{n} {label}"
            for status, label in (
                (Status.SKIPPED, "left alone (changed since the scan)"),
                (Status.FAILED, "failed"),
            )
            if (n := report.count(status))
        ]
        self.statusMessage.emit(
            f"Moved {done:,} photos ({text.human_bytes(report.bytes_done)}) to the trash"
            + (f"; {', '.join(extra)}" if extra else "")
            + ". Undo puts them back (Ctrl+Z)."
        )
        self.undo_available = True
        self.actionsChanged.emit()

    def _undo_finished(self, report: UndoReport) -> None:
        restored = sum(1 for r in report.results if r.status is UndoStatus.RESTORED)
        self.statusMessage.emit(f"Put back {restored:,} photos. Scanning again to refresh the groups\u2026")
        self.undo_available = self.controller.can_undo()
        self.actionsChanged.emit()
        self.rescanRequested.emit()

    def _trash_failed(self, message: str) -> None:
        self._failed("Moving to the trash", message)

    def _undo_failed(self, message: str) -> None:
        self._failed("Undo", message)

    def _failed(self, what: str, message: str) -> None:
        self.undo_available = self.controller.can_undo()
        self.actionsChanged.emit()
        self.statusMessage.emit(f"{what} failed: {message}")
        QMessageBox.warning(self._dialog_parent, f"{what} failed", message)

    def _regroup_failed(self, message: str) -> None:
        self.statusMessage.emit(f"Regrouping failed: {message}")

    def remember(self, row: int, kind: str) -> None:
        """Remember a decision about the group at `row` ("keep-all" or "not-duplicate") by
        content, so renamed or moved files stay decided, and take the group off the list."""
        from photofind.core.cleanup.decisions import DecisionStore

        group = self.model.group(row)
        with DecisionStore() as store:
            store.add(
                kind,
                [self.model.records()[i].content_hash for i in group.indices],
                [self.model.records()[i].path for i in group.indices],
            )
        self.controller.hide_group(group.id)
        what = "kept as they are" if kind == "keep-all" else "not duplicates of each other"
        self.statusMessage.emit(
            f"Remembered: these {len(group.members)} photos are {what}; "
            "they will not be shown as a group again."
        )

    # -- compare and similar --------------------------------------------------------------------------

    def compare_current(self) -> None:
        row = self.grid.current_group_row()
        if row is None and self.model.rowCount() > 0:
            row = 0
        if row is not None:
            self.compare_group(row)

    def compare_group(self, row: int) -> CompareDialog:
        """Open the side-by-side view for the group at top-level `row`; returns the dialog."""
        return self.compare(self.model.group(row))

    def compare(self, group: Group) -> CompareDialog:
        """Open the side-by-side view for `group`; returns the dialog. It works on the grid's
        review state, so a mark made there shows in the grid at once."""
        model = self.model
        dialog = CompareDialog(
            model.review,
            group.id,
            self._dialog_parent,
            similarities={m.index: m.similarity for m in group.members},
            companions={m.index: model.companions_of(m.index) for m in group.members},
            derivation=group.derivation,
        )
        dialog.reviewEdited.connect(model.review_edited)
        dialog.trashRequested.connect(self._trash_from_compare)
        dialog.finished.connect(self._compare_closed)
        if self.compare_dialog is not None:
            self.compare_dialog.close()
        self.compare_dialog = dialog
        dialog.show()
        return dialog

    def _trash_from_compare(self) -> None:
        if self.compare_dialog is not None:
            self.compare_dialog.close()
        self.trash_marked()

    def _compare_closed(self, _result: int = 0) -> None:
        dialog, self.compare_dialog = self.compare_dialog, None
        if dialog is not None:
            dialog.deleteLater()

    def _refresh_compare(self) -> None:
        dialog = self.compare_dialog
        if dialog is None:
            return
        if dialog.review is self.model.review:
            dialog.refresh()
        else:  # a new scan: the dialog's photos are no longer the ones shown
            dialog.close()

    def browse_similar(self, path: str | None = None) -> bool:
        """Ask for the similar page for `path` (default: the current photo); False when there
        is no photo to start from."""
        path = path or self._current_path()
        if not path:
            self.statusMessage.emit("Select a photo first, or drop one on the Browse similar page.")
        self.similarRequested.emit(path or "")
        return bool(path)

    def _current_path(self) -> str | None:
        model, index = self.model, self.grid.currentIndex()
        record = model.record_index(index)
        if record is None:
            row = model.group_row(index)
            if row is None:
                return None
            record = model.keeper_of(model.group(row))
        return model.records()[record].path

    # -- context menu ------------------------------------------------------------------------------------

    def context_menu(self, pos: QPoint) -> None:
        grid, model = self.grid, self.model
        index = grid.indexAt(pos)
        row = model.group_row(index)
        if row is None:
            return
        grid.setCurrentIndex(index)
        menu = QMenu(grid)
        menu.addAction(assets.icon("compare"), "Compare group side by side").triggered.connect(
            lambda: self.compare_group(row)
        )
        menu.addAction(assets.icon("keep"), "Keep all, don't show this group again").triggered.connect(
            lambda: self.remember(row, "keep-all")
        )
        menu.addAction("Not duplicates, don't group them again").triggered.connect(
            lambda: self.remember(row, "not-duplicate")
        )
        if model.best_shot(model.group(row)) is not None:
            menu.addAction(assets.icon("keep"), "Keep the best shot, trash the rest").triggered.connect(
                lambda: self.keep_best_shot(row)
            )
        record = model.record_index(index)
        if record is not None:
            path = model.records()[record].path
            menu.addAction(assets.icon("similar"), "Browse similar photos").triggered.connect(
                lambda: self.browse_similar(path)
            )
            menu.addSeparator()
            marked = model.index_of_record(record).data(Roles.IS_MARKED)
            menu.addAction(
                assets.icon("mark"), "Unmark" if marked else "Mark for clean-up"
            ).triggered.connect(lambda: model.toggle_marked(record))
            menu.addAction(assets.icon("keep"), "Keep this one").triggered.connect(
                lambda: model.set_keeper(record)
            )
            menu.addSeparator()
            menu.addAction("Open").triggered.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(path))
            )
            menu.addAction("Show in folder").triggered.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(path)))
            )
        menu.popup(grid.viewport().mapToGlobal(pos))
