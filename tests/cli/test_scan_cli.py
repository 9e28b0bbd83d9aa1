import json
import os
import pstats
import subprocess
import sys
from pathlib import Path

import pytest

from photofind import cli


def run_cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "photofind", *args], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_scan_random_weights_json_and_rescan_from_cache(library, tmp_path):
    out = tmp_path / "out.json"
    cache = tmp_path / "c.sqlite3"
    first = run_cli(
        "scan", str(library["root"]), "--json", str(out), "--weights", "random", "--cache", str(cache)
    )
    assert first.returncode == 1, first.stderr  # ran, with skipped files
    doc = json.loads(out.read_text())
    assert doc["model"]["id"] == "resnet34/random(seed=0)"
    assert {s["reason"] for s in doc["skipped"]} == set(library["bad"])
    grouped = [{f["path"] for f in g["files"]} for g in doc["groups"] if g["tier"] != "similar"]
    # byte copies, resized and recompressed copies are grouped
    p = library["paths"]
    for want in ({p["A"], p["A_copy"]}, {p["B"], p["B_half"], p["B_q40"]}):
        assert any({str(x) for x in want} <= g for g in grouped), (want, grouped)
    assert "RANDOM weights" in first.stdout
    second = run_cli(
        "scan", str(library["root"]), "--json", str(out), "--weights", "random", "--cache", str(cache), "-q"
    )
    assert json.loads(out.read_text())["stats"]["embedded"] == 0
    assert "0 embedded" in second.stdout
    # The command leaves by os._exit (cli.entry): what it wrote to a pipe still arrives whole.
    third = run_cli("scan", str(library["root"]), "--json", "-", "--weights", "random", "--cache", str(cache))
    assert third.returncode == 1, third.stderr
    assert json.loads(third.stdout)["groups"] == json.loads(out.read_text())["groups"]
    assert "photos read" in third.stderr  # the summary goes to stderr when the JSON has stdout


def test_usage_errors_exit_2(tmp_path, capsys):
    assert cli.main(["scan", str(tmp_path / "does-not-exist")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["scan", str(tmp_path), "--threshold", "1.5"]) == 2
    with pytest.raises(SystemExit) as err:
        cli.main(["scan"])
    assert err.value.code == 2
    capsys.readouterr()
    assert cli.main([]) == 2  # no command: the help, which lists them
    assert "usage: photofind" in capsys.readouterr().out


def test_clean_folder_exits_0_and_csv(tmp_path, capsys):
    from tests import imagefactory as f

    a = f.save(f.make_scene(1), tmp_path / "lib" / "a.jpg")
    f.copy(a, tmp_path / "lib" / "b.jpg")
    csv_path = tmp_path / "g.csv"
    code = cli.main(
        [
            "scan",
            str(tmp_path / "lib"),
            "--no-embed",
            "--csv",
            str(csv_path),
            "-q",
            "--cache",
            str(tmp_path / "c.db"),
        ]
    )
    assert code == 0
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("group,tier,keep,path")
    assert len(rows) == 3 and all(",exact," in r for r in rows[1:])
    assert "visual similarity is turned off" in capsys.readouterr().out


def test_json_to_stdout_keeps_stdout_pure(tmp_path, capsys):
    from tests import imagefactory as f

    f.save(f.make_scene(1), tmp_path / "lib" / "a.jpg")
    cli.main(
        ["scan", str(tmp_path / "lib"), "--no-embed", "--json", "-", "-q", "--cache", str(tmp_path / "c.db")]
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["files_read"] == 1
    assert "photos read" in captured.err


def test_cancel_exits_130(tmp_path, monkeypatch, capsys):
    from photofind.core import progress
    from tests import imagefactory as f

    f.save(f.make_scene(1), tmp_path / "lib" / "a.jpg")

    class AlreadyCancelled(progress.CancelToken):
        def __init__(self):
            super().__init__()
            self.cancel()

    monkeypatch.setattr(progress, "CancelToken", AlreadyCancelled)
    code = cli.main(["scan", str(tmp_path / "lib"), "--no-embed", "-q", "--cache", str(tmp_path / "c.db")])
    assert code == 130
    assert "cancelled" in capsys.readouterr().out


def test_cache_command(tmp_path, capsys):
    from tests import imagefactory as f

    f.save(f.make_scene(1), tmp_path / "lib" / "a.jpg")
    db = str(tmp_path / "c.db")
    cli.main(["scan", str(tmp_path / "lib"), "--no-embed", "-q", "--cache", db])
    assert cli.main(["cache", "info", "--cache", db]) == 0
    assert "1 files" in capsys.readouterr().out
    (tmp_path / "lib" / "a.jpg").unlink()
    cli.main(["cache", "prune", "--cache", db])
    assert "forgot 1 files" in capsys.readouterr().out


def test_one_pixel_images_are_skipped_and_never_grouped(tmp_path):
    from PIL import Image

    for k in range(3):
        Image.new("RGB", (1, 1), (255, 255, 255)).save(tmp_path / f"pixel{k}.png")
    report = tmp_path / "r.json"
    proc = run_cli(
        "scan", str(tmp_path), "--no-embed", "--json", str(report), "--cache", str(tmp_path / "c.db")
    )
    doc = json.loads(report.read_text())
    assert proc.returncode == 1  # ran, with skipped files
    assert {s["reason"] for s in doc["skipped"]} == {"too-small"}
    assert doc["groups"] == []


def test_the_command_under_a_profiler_leaves_normally_so_the_profile_is_written(tmp_path):
    profile, library = tmp_path / "scan.prof", tmp_path / "empty"
    library.mkdir()
    scan = ["scan", str(library), "--no-embed", "--cache", str(tmp_path / "c.sqlite3"), "-q"]
    done = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "photofind", *scan],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.returncode == 0, done.stderr
    assert pstats.Stats(str(profile)).total_calls > 0
