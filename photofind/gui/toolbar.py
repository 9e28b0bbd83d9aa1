"""The main window's actions (toolbar buttons, their shortcuts and the Mark menu)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolButton

from photofind.core.types import Tier
from photofind.gui import assets
from photofind.gui.review import KEEP_PRESETS

if TYPE_CHECKING:
    from photofind.gui.main_window import MainWindow

MARK_RULES = (
    ("Copies in exact groups", {Tier.EXACT}),
    ("Copies in exact and same-pixel groups", {Tier.EXACT, Tier.PIXELS}),
    ("Copies in all duplicate groups (not similar)", {Tier.EXACT, Tier.PIXELS, Tier.NEAR}),
    ("Everything but the keeper, in every shown group", set(Tier)),
)


def _action(
    window: MainWindow,
    name: str,
    label: str,
    icon: str,
    slot: Callable[[], Any],
    shortcut: Any = None,
    tip: str = "",
) -> QAction:
    action = QAction(assets.icon(icon), label, window)
    action.setObjectName(name)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    tip = tip or label
    action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut is not None else tip)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)
    return action


def _mark_menu(window: MainWindow) -> QMenu:
    menu = QMenu("Mark by rule", window)
    for label, tiers in MARK_RULES:
        menu.addAction(label).triggered.connect(lambda _=False, t=tiers: window.review.mark_by_rule(t))
    menu.addSeparator()
    menu.addAction(assets.icon("clear"), "Clear all marks").triggered.connect(window.model.clear_marks)
    menu.addSeparator()
    keep_menu = menu.addMenu(assets.icon("keep"), "Keep in each group")
    choices = QActionGroup(window)
    for label, chain in KEEP_PRESETS:
        action = keep_menu.addAction(label)
        action.setCheckable(True)
        action.setChecked(chain == window.prefs.keep_rules)
        action.setActionGroup(choices)
        action.triggered.connect(lambda _=False, c=chain: window.review.keep_by_rule(c))
    return menu


def build_toolbar(window: MainWindow) -> None:
    """Create the window's actions as attributes (add_action, scan_action, ...) and its toolbar."""
    keys = QKeySequence.StandardKey
    w, review = window, window.review
    w.add_action = _action(
        w,
        "addFolder",
        "Add folder",
        "folder-add",
        w.folders.choose_folder,
        keys.Open,
        "Add a folder to the library",
    )
    w.scan_action = _action(
        w,
        "scan",
        "Scan",
        "scan",
        w.start_scan,
        "Ctrl+R",
        "Scan the library for duplicates and similar photos",
    )
    w.cancel_action = _action(
        w, "cancel", "Stop", "stop", w.controller.cancel_scan, "Esc", "Stop the scan; what was read is kept"
    )
    w.mark_menu = _mark_menu(w)
    w.mark_action = _action(
        w,
        "markByRule",
        "Mark",
        "mark",
        lambda: w.mark_menu.popup(w.cursor().pos()),
        tip="Mark the copies to clean up; the keeper of every group stays",
    )
    w.mark_action.setMenu(w.mark_menu)
    w.trash_action = _action(
        w,
        "trash",
        "Move to trash",
        "trash",
        review.trash_marked,
        "Ctrl+Delete",
        "Move the marked photos to the trash",
    )
    w.undo_action = _action(
        w, "undo", "Undo", "undo", review.undo, keys.Undo, "Put the last cleaned-up photos back"
    )
    w.compare_action = _action(
        w,
        "compare",
        "Compare",
        "compare",
        review.compare_current,
        "Ctrl+E",
        "Compare the current group side by side",
    )
    w.similar_action = _action(
        w,
        "browseSimilar",
        "Browse similar",
        "similar",
        review.browse_similar,
        "Ctrl+F",
        "Show the photos most like the current one",
    )
    w.similar_action.setEnabled(w.similar is not None)

    tools = w.addToolBar("Main")
    tools.setObjectName("mainToolbar")
    tools.setMovable(False)
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for item in (
        w.add_action,
        w.scan_action,
        w.cancel_action,
        None,
        w.mark_action,
        w.trash_action,
        w.undo_action,
        None,
        w.compare_action,
        w.similar_action,
    ):
        if item is None:
            tools.addSeparator()
        else:
            tools.addAction(item)
    mark_button = tools.widgetForAction(w.mark_action)
    if isinstance(mark_button, QToolButton):
        mark_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    tools.widgetForAction(w.scan_action).setObjectName("scanButton")
