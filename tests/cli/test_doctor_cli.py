"""`photofind doctor`: the facts a bug report needs, and exit 1 when what was asked for cannot work."""

from __future__ import annotations

import re
import sys
import types

import pytest

from photofind import __version__, cli
from photofind.core.model.weights import IMAGENET_FILE, hub_checkpoint_dir


def doctor(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["doctor", *args])
    return code, capsys.readouterr().out


def field(out: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}:\s+(.*)$", out, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{out}"
    return match.group(1)


def test_reports_versions_torch_formats_and_storage_with_sizes(capsys, tmp_path):
    import torch

    cache = tmp_path / "c.sqlite3"
    cache.write_bytes(b"x" * 3072)
    (tmp_path / "c.sqlite3-wal").write_bytes(b"x" * 1024)  # the log counts: it is on disk too
    code, out = doctor(capsys, "--weights", "random", "--cache", str(cache))
    assert code == 0, out
    versions = field(out, "versions")
    assert f"photofind {__version__}" in versions
    assert f"torch {torch.__version__.split('+')[0]}" in versions
    for name in ("torchvision", "PySide6", "numpy", "pillow", "pillow-heif"):
        assert f"{name} " in versions and f"{name} not installed" not in versions
    assert field(out, "torch").startswith(torch.__version__)
    assert field(out, "weights").startswith("random(seed=0)")
    assert ".heic" in field(out, "formats").split()
    assert field(out, "HEIC/HEIF").startswith("yes")
    assert field(out, "RAW").startswith("yes (rawpy ")
    assert field(out, "GUI") == "Qt loads"  # checked in a child process: the CLI never imports Qt
    assert field(out, "cache") == f"{cache} (4.0 KB)"
    journal = field(out, "journal")  # the per-user data dir, which conftest points at tmp_path
    assert journal.startswith(str(tmp_path)) and journal.endswith("(not created yet)")
    assert "no problems found" in out


def test_missing_weights_file_asked_for_is_a_problem(capsys, tmp_path):
    code, out = doctor(capsys, "--weights", str(tmp_path / "nope.pth"))
    assert code == 1
    assert "PROBLEM" in field(out, "weights") and "nope.pth" in field(out, "weights")
    assert "1 problem(s)" in out


def test_weights_file_that_is_not_resnet34_is_a_problem(capsys, tmp_path, monkeypatch):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("PHOTOFIND_WEIGHTS", str(junk))  # asked for through the environment
    code, out = doctor(capsys)
    assert code == 1
    assert "cannot be loaded as ResNet-34 weights" in field(out, "weights")


def test_weights_in_the_hub_cache_are_found_and_loaded(capsys):
    import torch

    from photofind.core.model.resnet import build_resnet34

    target = hub_checkpoint_dir() / IMAGENET_FILE  # under conftest's TORCH_HOME in tmp_path
    target.parent.mkdir(parents=True)
    torch.save(build_resnet34().state_dict(), target)
    code, out = doctor(capsys)
    assert code == 0, out
    assert field(out, "weights") == f"imagenet1k-v1, from torch hub cache: {target}"


def test_no_weights_and_no_download_is_reported_but_not_a_problem(capsys):
    code, out = doctor(capsys)  # conftest sets PHOTOFIND_NO_DOWNLOAD=1 and an empty TORCH_HOME
    assert code == 0, out
    assert field(out, "weights").startswith("not found, and PHOTOFIND_NO_DOWNLOAD")


@pytest.mark.parametrize(
    "device,gpus,message",
    [
        ("cuda", 0, "CUDA is not available"),
        ("cuda:1", 1, "no such GPU (this machine has 1)"),
        ("tpu", 0, "unknown device"),
    ],
)
def test_a_device_this_machine_lacks_is_a_problem(capsys, monkeypatch, device, gpus, message):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"Test GPU {i}")
    code, out = doctor(capsys, "--weights", "random", "--device", device)
    assert code == 1
    assert message in field(out, "device")


def test_cpu_device_is_fine(capsys):
    code, out = doctor(capsys, "--weights", "random", "--device", "cpu")
    assert code == 0, out
    assert field(out, "device") == "cpu"


@pytest.mark.parametrize(
    "rawpy,expected",
    [
        (
            types.SimpleNamespace(__version__="9.1", libraw_version=(0, 22, 2)),
            "yes (rawpy 9.1, LibRaw 0.22.2)",
        ),
        (None, "no: camera RAW files are skipped until rawpy is installed"),  # None: import fails
    ],
)
def test_raw_support_is_reported(capsys, monkeypatch, rawpy, expected):
    monkeypatch.setitem(sys.modules, "rawpy", rawpy)
    code, out = doctor(capsys, "--weights", "random")
    assert code == 0, out  # not asked for: reported, not a problem
    assert field(out, "RAW").startswith(expected)
    assert ".nef" not in field(out, "formats") and "unreadable" not in out  # RAW is not Pillow's job
