"""The main window's actions (toolbar buttons, their shortcuts and the Mark menu), built once and
handed back as one `MainActions` object: the window owns it, nothing is set on the window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QToolButton, QWidget

from photofind.core.cleanup.keep import KEEP_PRESETS
from photofind.core.cleanup.marks import MARK_RULES
from photofind.gui import assets

if TYPE_CHECKING:
    from photofind.gui.review import Review


@dataclass(frozen=True)
class MainActions:
    add_folder: QAction
    scan: QAction
    cancel: QAction
    mark: QAction
    mark_menu: QMenu
    trash: QAction
    undo: QAction
    compare: QAction
    similar: QAction

    def update(
        self,
        *,
        busy: bool,
        scanning: bool,
        has_folders: bool,
        has_groups: bool,
        has_marks: bool,
        can_undo: bool,
        editing: bool,
    ) -> None:
        """Enable what may be done now. `editing`: an edit of every group's marks or keepers
        is being made (photofind.gui.review_edits)."""
        self.scan.setEnabled(not busy and has_folders)
        self.cancel.setEnabled(scanning)
        self.mark.setEnabled(has_groups and not busy and not editing)
        self.trash.setEnabled(has_marks and not busy and not editing)
        self.undo.setEnabled(not busy and can_undo)
        self.compare.setEnabled(has_groups)


def _action(
    owner: QWidget,
    name: str,
    label: str,
    icon: str,
    slot: Callable[[], Any],
    shortcut: Any = None,
    tip: str = "",
) -> QAction:
    action = QAction(assets.icon(icon), label, owner)
    action.setObjectName(name)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    tip = tip or label
    action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut is not None else tip)
    action.triggered.connect(lambda _checked=False: slot())
    owner.addAction(action)
    return action


def _mark_menu(owner: QWidget, review: Review, keep_rules: str) -> QMenu:
    menu = QMenu("Mark by rule", owner)
    for label, tiers in MARK_RULES:
        menu.addAction(label).triggered.connect(lambda _=False, t=tiers: review.mark_by_rule(t))
    menu.addSeparator()
    menu.addAction(assets.icon("clear"), "Clear all marks").triggered.connect(review.clear_marks)
    menu.addSeparator()
    keep_menu = menu.addMenu(assets.icon("keep"), "Keep in each group")
    choices = QActionGroup(menu)
    for label, chain in KEEP_PRESETS:
        action = keep_menu.addAction(label)
        action.setCheckable(True)
        action.setChecked(chain == keep_rules)
        action.setActionGroup(choices)
        action.triggered.connect(lambda _=False, c=chain: review.keep_by_rule(c))
    return menu


def build_actions(
    owner: QWidget,
    review: Review,
    *,
    choose_folder: Callable[[], Any],
    start_scan: Callable[[], Any],
    cancel_scan: Callable[[], Any],
    keep_rules: str,
) -> MainActions:
    """Create the actions; their shortcuts work anywhere in `owner`."""
    keys = QKeySequence.StandardKey
    mark_menu = _mark_menu(owner, review, keep_rules)
    mark = _action(
        owner,
        "markByRule",
        "Mark",
        "mark",
        lambda: mark_menu.popup(owner.cursor().pos()),
        tip="Mark the copies to clean up; the keeper of every group stays",
    )
    mark.setMenu(mark_menu)
    return MainActions(
        add_folder=_action(
            owner,
            "addFolder",
            "Add folder",
            "folder-add",
            choose_folder,
            keys.Open,
            "Add a folder to the library",
        ),
        scan=_action(
            owner,
            "scan",
            "Scan",
            "scan",
            start_scan,
            "Ctrl+R",
            "Scan the library for duplicates and similar photos",
        ),
        cancel=_action(
            owner, "cancel", "Stop", "stop", cancel_scan, "Esc", "Stop the scan; what was read is kept"
        ),
        mark=mark,
        mark_menu=mark_menu,
        trash=_action(
            owner,
            "trash",
            "Move to trash",
            "trash",
            review.trash_marked,
            "Ctrl+Delete",
            "Move the marked photos to the trash",
        ),
        undo=_action(
            owner, "undo", "Undo", "undo", review.undo, keys.Undo, "Put the last cleaned-up photos back"
        ),
        compare=_action(
            owner,
            "compare",
            "Compare",
            "compare",
            review.compare_current,
            "Ctrl+E",
            "Compare the current group side by side",
        ),
        similar=_action(
            owner,
            "browseSimilar",
            "Browse similar",
            "similar",
            review.browse_similar,
            "Ctrl+F",
            "Show the photos most like the current one",
        ),
    )


def build_toolbar(window: QMainWindow, actions: MainActions) -> QToolBar:
    tools = window.addToolBar("Main")
    tools.setObjectName("mainToolbar")
    tools.setMovable(False)
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    a = actions
    for item in (a.add_folder, a.scan, a.cancel, None, a.mark, a.trash, a.undo, None, a.compare, a.similar):
        if item is None:
            tools.addSeparator()
        else:
            tools.addAction(item)
    mark_button = tools.widgetForAction(a.mark)
    if isinstance(mark_button, QToolButton):
        mark_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    tools.widgetForAction(a.scan).setObjectName("scanButton")
    return tools
