"""Find the files in `resources/` (icons, style sheet, .desktop file) in a wheel or a checkout.

The wheel ships `resources/` as the package `photofind.resources` (see pyproject.toml), read
through importlib.resources. A source checkout that was not reinstalled since that mapping
existed has no such package, so we fall back to the top-level folder next to `photofind/`.
"""

from __future__ import annotations

import functools
import importlib.resources
from pathlib import Path

from PySide6.QtGui import QIcon

STYLE_SHEET = "style.qss"
APP_ICON = "photofind.svg"
DESKTOP_FILE = "photofind.desktop"


@functools.cache
def resource_dir() -> Path:
    """The folder that holds style.qss and icons/, wherever photofind was installed."""
    try:
        packaged = importlib.resources.files("photofind.resources")
        candidate = Path(str(packaged))
        if (candidate / STYLE_SHEET).is_file():
            return candidate
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    checkout = Path(__file__).resolve().parents[2] / "resources"
    if (checkout / STYLE_SHEET).is_file():
        return checkout
    raise FileNotFoundError(f"photofind's resources are missing: looked in the package and in {checkout}")


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
