"""`photofind install-desktop`: put photofind in the desktop's application menu (Linux and other
freedesktop.org desktops) by writing its .desktop file and icon into the user's data folder.

pip installs the .desktop file inside the package, where no desktop looks. This copies it to
$XDG_DATA_HOME/applications (default ~/.local/share/applications) with an Exec line that runs
this very Python, so the menu entry works from a virtualenv that is not on the PATH."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from photofind.paths import resource_dir

DESKTOP_FILE = "photofind.desktop"
ICON_FILE = "photofind.svg"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "install-desktop",
        help="add photofind to the desktop's application menu (Linux)",
        description="Write photofind.desktop to $XDG_DATA_HOME/applications and its icon to "
        "$XDG_DATA_HOME/icons/hicolor/scalable/apps ($XDG_DATA_HOME defaults to ~/.local/share).",
    )
    p.add_argument("--uninstall", action="store_true", help="remove the menu entry and the icon again")
    p.set_defaults(run=run)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def targets(base: Path) -> tuple[Path, Path]:
    """Where the .desktop file and the icon go."""
    return base / "applications" / DESKTOP_FILE, base / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE


def quote_exec_arg(arg: str) -> str:
    """One argument of a desktop entry's Exec key, quoted and escaped as the Desktop Entry
    spec asks: `%` doubled; inside double quotes a backslash before `"`, `` ` ``, `$` and `\\`;
    then every backslash doubled again, the escape rule of all string values."""
    if arg and not re.search(r"[\s\"'\\><~|&;$*?#()`%=]", arg):
        return arg
    quoted = '"' + re.sub(r'(["`$\\])', r"\\\1", arg) + '"'
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def desktop_entry(template: str, python: str) -> str:
    """The shipped entry, launching the app with `python -m photofind gui` (TryExec hides the
    entry if that Python is removed)."""
    command = " ".join(quote_exec_arg(a) for a in (python, "-m", "photofind", "gui")) + " %F"
    lines = []
    for line in template.splitlines():
        if line.startswith("TryExec="):
            continue
        if line.startswith("Exec="):
            lines += [f"Exec={command}", "TryExec=" + python.replace("\\", "\\\\")]
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    entry_path, icon_path = targets(data_home())
    if args.uninstall:
        removed = [p for p in (entry_path, icon_path) if p.exists()]
        for p in removed:
            p.unlink()
        print(f"removed {', '.join(map(str, removed))}" if removed else "nothing to remove: not installed")
        return 0
    resources = resource_dir()
    template = (resources / DESKTOP_FILE).read_text(encoding="utf-8")
    try:
        entry_path.parent.mkdir(parents=True, exist_ok=True)
        icon_path.parent.mkdir(parents=True, exist_ok=True)
        _write(entry_path, desktop_entry(template, sys.executable).encode("utf-8"))
        _write(icon_path, (resources / ICON_FILE).read_bytes())
    except OSError as exc:
        print(f"photofind: cannot install the menu entry: {exc}", file=sys.stderr)
        return 1
    print(f"installed {entry_path}\ninstalled {icon_path}")
    print("photofind is in the application menu (some desktops show it after the next log-in).")
    return 0


def _write(path: Path, data: bytes) -> None:
    """Replace `path` whole: a menu never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
