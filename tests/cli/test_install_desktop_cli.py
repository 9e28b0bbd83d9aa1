"""`photofind install-desktop` puts the app in the desktop menu: the .desktop file and the icon
land under $XDG_DATA_HOME, launch this Python, and go away again with --uninstall."""

from __future__ import annotations

import configparser
import shlex
import subprocess
import sys

from photofind.cli import main
from photofind.commands.install_desktop import desktop_entry, quote_exec_arg
from photofind.paths import resource_dir


def read_entry(path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path)
    return parser["Desktop Entry"]


def test_install_writes_the_entry_and_icon_into_xdg_data_home(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    assert main(["install-desktop"]) == 0
    entry_file = tmp_path / "share" / "applications" / "photofind.desktop"
    icon_file = tmp_path / "share" / "icons" / "hicolor" / "scalable" / "apps" / "photofind.svg"
    assert entry_file.is_file() and icon_file.read_bytes() == (resource_dir() / "photofind.svg").read_bytes()
    entry = read_entry(entry_file)
    assert entry["Type"] == "Application" and entry["Icon"] == "photofind" and entry["Name"] == "photofind"
    assert shlex.split(entry["Exec"]) == [sys.executable, "-m", "photofind", "gui", "%F"]
    assert entry["TryExec"] == sys.executable
    assert str(entry_file) in capsys.readouterr().out

    assert main(["install-desktop"]) == 0  # again: replaced, not duplicated
    assert sorted(p.name for p in (tmp_path / "share" / "applications").iterdir()) == ["photofind.desktop"]

    assert main(["install-desktop", "--uninstall"]) == 0
    assert not entry_file.exists() and not icon_file.exists()
    assert main(["install-desktop", "--uninstall"]) == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_the_launch_command_runs_the_app_entry_point(tmp_path):
    """What the menu runs (`python -m photofind gui`) is a real command of this install."""
    out = subprocess.run(
        [sys.executable, "-m", "photofind", "gui", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and "folders to add" in out.stdout


def test_exec_arguments_are_quoted_as_the_desktop_spec_asks():
    assert quote_exec_arg("/usr/bin/python3") == "/usr/bin/python3"
    assert quote_exec_arg("/home/a b/venv/bin/python") == '"/home/a b/venv/bin/python"'
    assert quote_exec_arg("/opt/100%/py") == '"/opt/100%%/py"'
    # `$` and `"` get a backslash (quoting rule), which is then doubled (string escape rule).
    assert quote_exec_arg('/x/$y"z') == '"/x/\\\\$y\\\\"z"'
    text = desktop_entry("[Desktop Entry]\nName=photofind\nExec=photofind-gui %F\nTryExec=old\n", "/a b/py")
    assert text == '[Desktop Entry]\nName=photofind\nExec="/a b/py" -m photofind gui %F\nTryExec=/a b/py\n'


def test_an_unwritable_data_home_is_an_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    assert main(["install-desktop"]) == 1
    assert "cannot install the menu entry" in capsys.readouterr().err
