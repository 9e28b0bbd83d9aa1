"""What the user does with groups: mark by rule, trash with confirmation, undo, compare side by
side, browse similar, and the grid's context menu. Kept apart from main_window.py, which only
builds and lays out the window."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu, QMessageBox

from photofind.core.types import Tier
from photofind.gui import assets, text

if TYPE_CHECKING:
    from photofind.gui.main_window import MainWindow


# Keeper rule chains offered in the Mark menu (photofind.core.cleanup.keep.RULES names the links).
KEEP_PRESETS = (
    ("Best quality: resolution, format, size", ""),
    (
        "Original names: no 'copy', '(1)' or '-edited'",
        "unedited,resolution,format,size,oldest,mtime,shortest",
    ),
    ("Oldest photo", "oldest,resolution,format,size,unedited,mtime,shortest"),
    ("Newest photo", "newest,resolution,format,size,unedited,mtime,shortest"),
)


class Review(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.compare_dialog = None
        self.undo_available = window.controller.can_undo()

    @property
    def model(self):
        return self.w.model

    # -- marking and cleaning up --------------------------------------------------------------------

    def keep_by_rule(self, chain: str) -> int:
        """Re-pick every group's keeper with a rule chain (photofind.core.cleanup.keep); remembered
        for the next scans too. Returns how many groups changed keeper."""
        from photofind.core.cleanup.keep import KeeperPolicy, derivations_of

        policy = KeeperPolicy.parse(chain, self.w.folders.model.protected_paths())
        model = self.model
        picks = [policy.pick(model.records(), g.indices, derivations_of(g)) for g in model.groups()]
        changed = sum(1 for g, k in zip(model.groups(), picks) if model.keeper_of(g) != k)
        model.apply_keepers(picks)
        self.w.prefs.keep_rules = chain
        label = next((name for name, c in KEEP_PRESETS if c == chain), chain)
        self.w.show_status(f"Keeping: {label.lower()}. {changed:,} groups changed keeper.")
        return changed

    def mark_by_rule(self, tiers: Iterable[Tier]) -> int:
        tiers = set(tiers)
        added = self.model.mark_all_but_keeper(tiers)
        names = ", ".join(text.TIER_SHORT[t].lower() for t in Tier if t in tiers)
        self.w.show_status(
            f"Marked {added:,} photos in {names} groups; the keeper of every group stays."
            if added
            else "Nothing new to mark in the shown groups."
        )
        return added

    def trash_marked(self) -> bool:
        marked = self.model.marked()
        if not marked:
            self.w.show_status("Nothing is marked. Mark photos with Space or the round toggle on each photo.")
            return False
        groups = {self.model.group_of_record(i).id for i in marked if self.model.group_of_record(i)}
        if not self.confirm(len(marked), self.model.marked_bytes(), len(groups), "trash"):
            return False
        started = self.w.controller.trash(marked, self.w.folders.model.protected_paths())
        if started:
            self.w.show_status(f"Moving {len(marked):,} photos to the trash\u2026")
        return started

    def confirm(self, files: int, size: int, groups: int, action: str) -> bool:
        """Ask the user (tests replace this)."""
        from photofind.gui.dialogs import confirm_cleanup

        return confirm_cleanup(self.w, files, size, groups, action)

    def undo(self) -> bool:
        started = self.w.controller.undo()
        if started:
            self.w.show_status("Putting the last cleaned-up photos back\u2026")
        return started

    def action_finished(self, kind: str, report: Any) -> None:
        if kind == "trash":
            done = report.count(_status("DONE"))
            extra = []
            for name, label in (("SKIPPED", "left alone (changed since the scan)"), ("FAILED", "failed")):
                n = report.count(_status(name))
                if n:
                    extra.append(f"{n} {label}")
            self.w.show_status(
                f"Moved {done:,} photos ({text.human_bytes(report.bytes_done)}) to the trash"
                + (f"; {', '.join(extra)}" if extra else "")
                + ". Undo puts them back (Ctrl+Z)."
            )
            self.undo_available = True
        elif kind == "undo":
            restored = sum(1 for r in report.results if getattr(r.status, "value", r.status) == "restored")
            self.w.show_status(f"Put back {restored:,} photos. Scanning again to refresh the groups\u2026")
            self.undo_available = self.w.controller.can_undo()
            self.w.start_scan()
        self.w._update_actions()

    def action_failed(self, kind: str, message: str) -> None:
        if kind == "regroup":
            self.w.show_status(f"Regrouping failed: {message}")
            return
        self.undo_available = self.w.controller.can_undo()
        self.w._update_actions()
        self.w.show_status(f"{kind.capitalize()} failed: {message}")
        QMessageBox.warning(self.w, f"{kind.capitalize()} failed", message)

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
        self.w.controller.hide_group(group.id)
        what = "kept as they are" if kind == "keep-all" else "not duplicates of each other"
        self.w.show_status(
            f"Remembered: these {len(group.members)} photos are {what}; "
            "they will not be shown as a group again."
        )

    # -- compare and similar --------------------------------------------------------------------------

    def compare_current(self) -> None:
        row = self.w.grid.current_group_row()
        if row is None and self.model.rowCount() > 0:
            row = 0
        if row is not None:
            self.compare_group(row)

    def compare_group(self, row: int):
        """Open the side-by-side view for the group at top-level `row`; returns the dialog."""
        try:
            from photofind.gui.compare import CompareDialog
        except ImportError:
            self.w.show_status("The compare view is not available in this build.")
            return None
        model = self.model
        group = model.group(row)
        indices = list(group.indices)
        dialog = CompareDialog(
            model.records(),
            indices,
            model.keeper_of(group),
            set(model.marked()) & set(indices),
            self.w,
            similarities={m.index: m.similarity for m in group.members},
            protected={i for i in indices if model.is_protected(i)},
            derivation=group.derivation,
        )
        dialog.keeperChanged.connect(model.set_keeper)
        dialog.markToggled.connect(model.set_marked)
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

    def browse_similar(self, path: str | None = None) -> bool:
        if self.w.similar is None:
            return False
        path = path or self._current_path()
        if not path:
            self.w.show_status("Select a photo first, or drop one on the Browse similar page.")
            self.w.tabs.setCurrentWidget(self.w.similar)
            return False
        self.w.tabs.setCurrentWidget(self.w.similar)
        self.w.similar.show_for(path)
        return True

    def _current_path(self) -> str | None:
        model, index = self.model, self.w.grid.currentIndex()
        record = model.record_index(index)
        if record is None:
            row = model.group_row(index)
            if row is None:
                return None
            record = model.keeper_of(model.group(row))
        return model.records()[record].path

    # -- context menu ------------------------------------------------------------------------------------

    def context_menu(self, pos: QPoint) -> None:
        grid, model = self.w.grid, self.model
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
        record = model.record_index(index)
        if record is not None:
            path = model.records()[record].path
            if self.w.similar is not None:
                menu.addAction(assets.icon("similar"), "Browse similar photos").triggered.connect(
                    lambda: self.browse_similar(path)
                )
            menu.addSeparator()
            marked = record in model.marked()
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


def _status(name: str) -> Any:
    from photofind.core.cleanup.executor import Status

    return Status[name]
