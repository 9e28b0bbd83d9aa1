"""H1: a named pipe given as a path is refused, never opened (opening one blocks forever)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import photofind

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")

SOURCE_ROOT = str(Path(photofind.__file__).parent.parent)  # this checkout, whatever the cwd


def _run(*args, cwd):
    # A subprocess with a timeout: a regression would block, not fail.
    return subprocess.run(
        [sys.executable, "-m", "photofind", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": SOURCE_ROOT},
    )


def test_scan_of_a_named_pipe_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    done = _run("scan", "pipe.jpg", "--no-embed", "-q", "--json", "out.json", "--cache", "c.db", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "not a regular file" in done.stdout


def test_ignore_add_of_a_named_pipe_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "a.jpg").write_bytes(b"a")
    done = _run("ignore", "--decisions", "d.db", "add", "a.jpg", "pipe.jpg", cwd=tmp_path)
    assert done.returncode == 2
    assert "not a regular file" in done.stderr


def test_a_file_swapped_for_a_pipe_after_discovery_is_skipped(tmp_path):
    from photofind.core.scan.fileread import NotRegularFile, read_regular

    os.mkfifo(tmp_path / "p")
    with pytest.raises(NotRegularFile):
        read_regular(str(tmp_path / "p"))
    (tmp_path / "f").write_bytes(b"xyz")
    assert read_regular(str(tmp_path / "f")) == b"xyz"
