"""The app's resources are found, complete, and listed for the wheel; the launchers exist."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import tomllib

from photofind.gui import assets

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "photofind").rglob("__init__.py")}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert config["package-dir"]["photofind.resources"] == "resources"


def test_resources_are_found_and_every_icon_the_app_uses_exists(qapp):
    folder = assets.resource_dir()
    assert (folder / assets.STYLE_SHEET).is_file() and (folder / assets.APP_ICON).is_file()
    used = set()
    for source in (ROOT / "photofind" / "gui").glob("*.py"):
        used |= set(re.findall(r'icon\("([a-z-]+)"\)', source.read_text()))
    assert used, "the app uses named icons"
    for name in used:
        assert (folder / "icons" / f"{name}.svg").is_file(), name
        assert not assets.icon(name).isNull(), name
    assert not assets.app_icon().pixmap(64, 64).isNull()
    sheet = assets.style_sheet()
    assert "@RES@" not in sheet and "QToolBar" in sheet


def test_desktop_file_launches_the_gui_entry_point():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(assets.resource_path(assets.DESKTOP_FILE))
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Icon"] == "photofind"
    assert desktop["Exec"].split()[0] == "photofind-gui"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["gui-scripts"]
    assert scripts["photofind-gui"] == "photofind.gui.app:main"


def test_gui_command_is_registered_without_importing_qt():
    from photofind.cli import build_parser

    args = build_parser().parse_args(["gui", "/some/folder"])
    assert args.paths == ["/some/folder"] and callable(args.run)


def test_qt_binding_keeps_none_alive(qapp):
    """PySide6 6.12.0 on CPython 3.11 drops a reference to None on every void-returning call,
    so the app aborts ("none_dealloc") after a few thousand paints. Pinned away from; this
    catches any build with the same bug."""
    import gc
    import sys

    from PySide6.QtGui import QColor, QImage, QPainter

    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    colour = QColor("red")
    gc.collect()
    gc.disable()  # a collection mid-loop frees unrelated references to None
    try:
        before = sys.getrefcount(None)
        for _ in range(5000):
            painter.setPen(colour)  # returns None
        lost = before - sys.getrefcount(None)
    finally:
        gc.enable()
        painter.end()
    assert lost < 2500, f"{lost} references to None lost in 5000 calls: a broken Qt binding build"


def test_license_is_an_spdx_expression_and_the_backend_understands_it():
    """A TOML-table license is deprecated (setuptools warns on every build); PEP 639's SPDX
    string needs setuptools 77 or newer."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["license"] == "GPL-3.0-or-later"
    (requirement,) = config["build-system"]["requires"]
    assert requirement == "setuptools>=77"
