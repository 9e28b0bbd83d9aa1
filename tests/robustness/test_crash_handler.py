"""Any crash that remains: one line, the traceback in a log file it names, exit code 70."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import photofind
from photofind import cli


def _explode(*_args, **_kwargs):
    raise ZeroDivisionError("a bug in the engine")


def test_internal_error_is_one_line_and_a_log(tmp_path, capsys, monkeypatch):
    (tmp_path / "lib").mkdir()
    monkeypatch.setattr("photofind.core.pipeline.scan", _explode)
    code = cli.main(["scan", str(tmp_path / "lib"), "--no-embed", "-q", "--cache", str(tmp_path / "c")])
    assert code == cli.EXIT_INTERNAL == 70
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "internal error: ZeroDivisionError: a bug in the engine" in err
    log = re.search(r"details are in (\S+);", err).group(1)
    text = open(log, encoding="utf-8").read()
    assert "Traceback" in text and "_explode" in text and "photofind" in text


def test_exit_codes_are_documented():
    root = Path(photofind.__file__).parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    for code in ("0", "1", "2", "70", "74", "130"):
        assert re.search(rf"^\| `?{code}`? \|", readme, re.M), code
    help_text = subprocess.run(
        [sys.executable, "-m", "photofind", "--help"], capture_output=True, text=True
    ).stdout
    assert "70 internal error" in help_text
