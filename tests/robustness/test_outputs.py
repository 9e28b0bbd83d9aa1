"""C5: report targets are checked before the scan, and a failed write leaves no stray file."""

from __future__ import annotations

import errno
import json

import pytest

from photofind import cli
from photofind.core import output
from tests import imagefactory as f


def _lib(root):
    a = f.save(f.make_scene(1), root / "a.jpg")
    f.copy(a, root / "b.jpg")
    return root


def _fail_scan(*_args, **_kwargs):
    raise AssertionError("the scan must not start")


@pytest.mark.parametrize("option", ["--json", "--csv"])
@pytest.mark.parametrize("kind", ["missing-folder", "a-folder", "under-a-file"])
def test_bad_target_is_refused_before_scanning(tmp_path, capsys, monkeypatch, option, kind):
    lib = _lib(tmp_path / "lib")
    (tmp_path / "plain").write_text("x")
    target = {
        "missing-folder": tmp_path / "nope" / "out.json",
        "a-folder": tmp_path,
        "under-a-file": tmp_path / "plain" / "out.json",
    }[kind]
    monkeypatch.setattr("photofind.core.pipeline.scan", _fail_scan)
    code = cli.main(
        ["scan", str(lib), "--no-embed", "-q", option, str(target), "--cache", str(tmp_path / "c")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert option in err and str(target) in err and "internal error" not in err


def test_similar_checks_its_json_target_first(tmp_path, capsys, monkeypatch):
    lib = _lib(tmp_path / "lib")
    monkeypatch.setattr("photofind.core.pipeline.scan", _fail_scan)
    argv = [
        "similar",
        str(lib / "a.jpg"),
        "--in",
        str(lib),
        "--weights",
        "random",
        "-q",
        "--json",
        str(tmp_path / "no" / "x.json"),
    ]
    assert cli.main(argv) == 2
    assert "does not exist" in capsys.readouterr().err


def test_full_disk_while_writing_leaves_no_temp_file(tmp_path, capsys, monkeypatch):
    lib = _lib(tmp_path / "lib")
    target = tmp_path / "out" / "groups.json"
    target.parent.mkdir()

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output.os, "fsync", full)
    code = cli.main(
        ["scan", str(lib), "--no-embed", "-q", "--json", str(target), "--cache", str(tmp_path / "c")]
    )
    assert code == 74
    captured = capsys.readouterr()
    assert "No space left on device" in captured.err and "internal error" not in captured.err
    assert "1 groups" in captured.out  # the summary is still shown
    assert list(target.parent.iterdir()) == []


def test_special_files_are_written_in_place(tmp_path, capsys):
    lib = _lib(tmp_path / "lib")
    assert (
        cli.main(
            ["scan", str(lib), "--no-embed", "-q", "--json", "/dev/null", "--cache", str(tmp_path / "c")]
        )
        == 0
    )
    assert not output.Path("/dev/null.tmp").exists()


def test_a_good_target_still_gets_the_report(tmp_path):
    lib = _lib(tmp_path / "lib")
    target = tmp_path / "groups.json"
    assert (
        cli.main(
            ["scan", str(lib), "--no-embed", "-q", "--json", str(target), "--cache", str(tmp_path / "c")]
        )
        == 0
    )
    assert json.loads(target.read_text())["groups"]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".groups.json.*"))
