"""The app's icons and style sheet, as Qt objects, from `resources/` (found by
photofind.paths.resource_dir, in a wheel or a checkout)."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QIcon

from photofind.paths import resource_dir

STYLE_SHEET = "style.qss"
APP_ICON = "photofind.svg"
DESKTOP_FILE = "photofind.desktop"


def resource_path(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)


@functools.cache
def icon(name: str) -> QIcon:
    """A toolbar/panel icon by name (`resources/icons/<name>.svg`); an empty icon if absent,
    so a missing file degrades to a text-only button instead of a crash."""
    path = resource_path("icons", f"{name}.svg")
    return QIcon(str(path)) if path.is_file() else QIcon()


@functools.cache
def app_icon() -> QIcon:
    return QIcon(str(resource_path(APP_ICON)))


def style_sheet() -> str:
    """The application style sheet, with `@RES@` replaced by the resource folder so rules
    can point at icons (url(@RES@/icons/...)) in any install location."""
    text = resource_path(STYLE_SHEET).read_text(encoding="utf-8")
    return text.replace("@RES@", resource_dir().as_posix())
