"""C6 (bad weights) and C7 (bad device): found before any photo is read, and said plainly."""

from __future__ import annotations

import pytest

from photofind import cli
from photofind.core.model import weights as w
from tests import imagefactory as f


def _bad_weights(kind, tmp_path, resnet34_file):
    path = tmp_path / f"{kind}.pth"
    if kind == "truncated":
        path.write_bytes(resnet34_file.read_bytes()[:5_000_000])
    elif kind == "text":
        path.write_text("these are not weights\n")
    elif kind == "resnet18":
        import torch
        import torchvision

        torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def _lib(root):
    f.save(f.make_scene(1), root / "a.jpg")
    f.save(f.make_scene(2), root / "b.jpg")
    return root


WHY = {"truncated": "truncated or damaged", "text": "not a PyTorch weights file", "resnet18": "ResNet-34"}


@pytest.mark.parametrize("kind", ["truncated", "text", "resnet18"])
def test_bad_weights_file_is_named_before_the_scan(tmp_path, capsys, resnet34_file, kind):
    bad = _bad_weights(kind, tmp_path, resnet34_file)
    lib = _lib(tmp_path / "lib")
    cache = str(tmp_path / "c.db")
    assert cli.main(["scan", str(lib), "--weights", str(bad), "-q", "--cache", cache]) == 0
    out = capsys.readouterr().out
    assert WHY[kind] in out and str(bad) in out, out
    assert "2 photos read" in out  # exact and pixel duplicates are still found
    assert (
        cli.main(
            ["similar", str(lib / "a.jpg"), "--in", str(lib), "--weights", str(bad), "-q", "--cache", cache]
        )
        == 2
    )
    assert WHY[kind] in capsys.readouterr().err
    # A photo outside the library: the model loads on a thread beside the listing, and the
    # bad file is named all the same.
    outside = f.save(f.make_scene(3), tmp_path / "elsewhere" / "c.jpg")
    args = ["similar", str(outside), "--in", str(lib), "--weights", str(bad), "-q", "--cache", cache]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert WHY[kind] in err and "Traceback" not in err and "internal error" not in err, err


def test_truncated_file_in_the_torch_hub_cache(tmp_path, capsys, resnet34_file):
    hub = w.hub_checkpoint_dir()
    hub.mkdir(parents=True)
    (hub / w.IMAGENET_FILE).write_bytes(resnet34_file.read_bytes()[:1_000_000])
    lib = _lib(tmp_path / "lib")
    assert cli.main(["scan", str(lib), "-q", "--cache", str(tmp_path / "c.db")]) == 0
    out = capsys.readouterr().out
    assert "truncated or damaged" in out and str(hub / w.IMAGENET_FILE) in out, out


def test_good_weights_file_still_loads(tmp_path, capsys, resnet34_file):
    lib = _lib(tmp_path / "lib")
    assert (
        cli.main(["scan", str(lib), "--weights", str(resnet34_file), "-q", "--cache", str(tmp_path / "c.db")])
        == 0
    )
    assert "note:" not in capsys.readouterr().out


@pytest.mark.parametrize("device", ["banana", "cuda:99", "tpu"])
def test_bad_device_is_a_usage_error_even_with_everything_cached(tmp_path, capsys, device):
    import torch

    if device == "cuda:99" and torch.cuda.device_count() >= 100:
        pytest.skip("a machine with 100 GPUs")
    lib = _lib(tmp_path / "lib")
    cache = str(tmp_path / "c.db")
    assert cli.main(["scan", str(lib), "--weights", "random", "-q", "--cache", cache]) == 0
    capsys.readouterr()
    for argv in (
        ["scan", str(lib), "--weights", "random", "-q", "--cache", cache, "--device", device],
        [
            "similar",
            str(lib / "a.jpg"),
            "--in",
            str(lib),
            "--weights",
            "random",
            "-q",
            "--cache",
            cache,
            "--device",
            device,
        ],
    ):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert device in err and "internal error" not in err


def test_cuda_without_a_gpu_is_a_usage_error(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    lib = _lib(tmp_path / "lib")
    assert (
        cli.main(
            [
                "scan",
                str(lib),
                "--weights",
                "random",
                "-q",
                "--cache",
                str(tmp_path / "c"),
                "--device",
                "cuda",
            ]
        )
        == 2
    )
    assert "no CUDA GPU" in capsys.readouterr().err


def test_device_is_not_checked_without_the_model(tmp_path):
    lib = _lib(tmp_path / "lib")
    assert (
        cli.main(["scan", str(lib), "--no-embed", "-q", "--cache", str(tmp_path / "c"), "--device", "banana"])
        == 0
    )
