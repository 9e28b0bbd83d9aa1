import json
import os
import re
import subprocess
import sys

import pytest

from photofind.cli import main
from photofind.core import pipeline
from photofind.core.match import grouping
from photofind.core.types import Group, Member, Tier
from tests import cleanupkit as kit


@pytest.fixture(autouse=True)
def _fast_and_isolated(tmp_path, monkeypatch, fake_embedder):
    monkeypatch.setenv("HOME", str(tmp_path))  # the home trash stays inside tmp
    monkeypatch.setattr(pipeline, "make_embedder", lambda settings: (fake_embedder, None))


@pytest.fixture
def lib(tmp_path):
    """a.jpg with two byte copies, b.jpg with a half-size copy, two unrelated photos."""
    root = tmp_path / "photos"
    scene_a, scene_b = kit.factory.make_scene(1, (96, 72)), kit.factory.make_scene(2, (96, 72))
    a = kit.factory.save(scene_a, root / "trip" / "a.jpg")
    kit.factory.copy(a, root / "backup" / "a copy.jpg")
    kit.factory.copy(a, root / "backup" / "old" / "a.jpg")
    kit.factory.save(scene_b, root / "trip" / "b.jpg")
    kit.factory.save(scene_b.resize((48, 36)), root / "web" / "b_small.jpg")
    kit.photo(root / "misc" / "c.jpg", 3, (96, 72))
    kit.photo(root / "misc" / "d.jpg", 4, (96, 72))
    return root


DUPLICATES = {"backup/a copy.jpg", "backup/old/a.jpg", "web/b_small.jpg"}


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_dry_run_prints_a_correct_plan_and_changes_nothing(lib, tmp_path, capsys):
    before = kit.snapshot(lib)
    plan_file = tmp_path / "plan.json"
    code, out = run(
        capsys, "scan", str(lib), "-q", "--act", "trash", "--dry-run", "--plan-json", str(plan_file)
    )
    assert code == 0
    assert "plan: move to the trash 3 files" in out and "dry run: nothing was changed" in out
    for rel in DUPLICATES:
        assert f"trash {lib / rel}" in out
    assert kit.snapshot(lib) == before
    assert kit.trash_entries(tmp_path / "xdg-data") == []
    plan = json.loads(plan_file.read_text())
    assert {os.path.relpath(i["path"], lib) for i in plan["items"]} == DUPLICATES
    assert plan["bytes"] == sum(os.path.getsize(lib / rel) for rel in DUPLICATES)
    assert {os.path.relpath(i["keep"], lib) for i in plan["items"]} == {"trip/a.jpg", "trip/b.jpg"}
    code, out = run(capsys, "history")
    assert "no clean-up batches yet" in out


def test_real_run_trashes_only_duplicates_and_undo_brings_every_byte_back(lib, tmp_path, capsys):
    before = kit.snapshot(lib)
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "trash")
    assert code == 0, out
    assert "trash: 3 done" in out and "undo with: photofind undo 1" in out
    after = kit.snapshot(lib)
    assert set(before) - set(after) == DUPLICATES
    assert all(after[k] == before[k] for k in after)
    assert len(kit.trash_entries(tmp_path / "xdg-data")) == 3
    code, out = run(capsys, "history")
    assert "#1" in out and "trash" in out and "[done]" in out
    code, out = run(capsys, "undo", "-q")
    assert code == 0 and "3 restored" in out
    assert kit.snapshot(lib) == before
    assert kit.trash_entries(tmp_path / "xdg-data") == []
    code, out = run(capsys, "history", "--json")
    assert json.loads(out)[0]["state"] == "undone"
    code, out = run(capsys, "undo")
    assert code == 0 and "nothing to undo" in out


def test_similar_groups_are_never_acted_on_unless_named(lib, tmp_path, capsys, monkeypatch):
    real = grouping.group_records

    def with_a_similar_group(records, embeddings, thresholds, *args, **kwargs):
        groups = list(real(records, embeddings, thresholds, *args, **kwargs))
        by_name = {os.path.basename(r.path): i for i, r in enumerate(records)}
        similar = Group(
            len(groups) + 1,
            Tier.SIMILAR,
            (Member(by_name["c.jpg"], 1.0), Member(by_name["d.jpg"], 0.85)),
            0.85,
            0.85,
        )
        return groups + [similar]

    monkeypatch.setattr(grouping, "group_records", with_a_similar_group)
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "trash")
    assert code == 0 and "1 similar" in out
    assert (lib / "misc" / "c.jpg").exists() and (lib / "misc" / "d.jpg").exists()
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "trash", "--act-tiers", "similar", "--dry-run")
    assert "plan: move to the trash 1 file (" in out


def test_protect_and_rule_choose_what_is_kept_and_the_json_agrees(lib, tmp_path, capsys):
    report = tmp_path / "r.json"
    code, out = run(
        capsys,
        "scan",
        str(lib),
        "-q",
        "--protect",
        str(lib / "backup"),
        "--rule",
        "size,oldest",
        "--act",
        "trash",
        "--dry-run",
        "--json",
        str(report),
    )
    assert code == 0
    doc = json.loads(report.read_text())
    keeps = {os.path.relpath(g["keep"], lib) for g in doc["groups"]}
    assert "trip/a.jpg" not in keeps and any(k.startswith("backup/") for k in keeps)
    assert "trip/b.jpg" in keeps  # bigger file wins under the size rule
    assert "inside a protected folder" in out  # the second protected copy is left alone, not planned
    assert f"trash {lib / 'trip' / 'a.jpg'}" in out


def test_move_then_undo(lib, tmp_path, capsys):
    before = kit.snapshot(lib)
    dest = tmp_path / "dups"
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "move", "--move-to", str(dest))
    assert code == 0 and "move: 3 done" in out
    assert {str(p.relative_to(dest)) for p in dest.rglob("*.jpg")} == DUPLICATES
    code, out = run(capsys, "undo", "1", "-q")
    assert code == 0 and kit.snapshot(lib) == before


def test_hardlink_replaces_only_byte_identical_copies(lib, capsys):
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "hardlink")
    assert code == 0 and "hardlink: 2 done" in out
    assert os.path.samefile(lib / "trip" / "a.jpg", lib / "backup" / "a copy.jpg")
    assert os.stat(lib / "web" / "b_small.jpg").st_nlink == 1
    code, out = run(capsys, "undo", "-q")
    assert code == 0 and os.stat(lib / "trip" / "a.jpg").st_nlink == 1


def test_permanent_delete_needs_the_flag_and_a_second_confirmation(lib, capsys, monkeypatch):
    before = kit.snapshot(lib)
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "delete")
    assert code == 2 and "--permanent" in out
    monkeypatch.setattr(sys, "stdin", open(os.devnull))
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "delete", "--permanent")
    assert code == 2 and "needs --yes" in out and "nothing was deleted" in out
    assert kit.snapshot(lib) == before
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "delete", "--permanent", "--yes")
    assert code == 0 and "delete: 3 done" in out
    assert set(before) - set(kit.snapshot(lib)) == DUPLICATES
    code, out = run(capsys, "undo", "-q")
    assert code == 1 and "cannot be restored" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--act", "move"], "--act move needs --move-to"),
        (["--move-to", "x"], "only used with --act move"),
        (["--rule", "biggest"], "unknown keeper rule 'biggest'"),
        (["--dry-run"], "--dry-run needs --act"),
        (["--act", "trash", "--act-tiers", "exact,fuzzy"], "unknown tier"),
        (["--act", "trash", "--protect", "/no/such/folder"], "no such folder"),
        (["--act", "trash", "--permanent"], "only used with --act delete"),
        (["--act", "trash", "--json", "-", "--plan-json", "-"], "only one of"),
    ],
)
def test_usage_errors_are_clear_and_nothing_is_scanned(lib, capsys, argv, message):
    code, out = run(capsys, "scan", str(lib), "-q", *argv)
    assert code == 2 and message in out
    assert "photos read" not in out


def test_ignore_add_list_remove_clear_and_scans_respect_it(lib, tmp_path, capsys):
    code, out = run(capsys, "ignore", "add", str(lib / "trip" / "b.jpg"), str(lib / "web" / "b_small.jpg"))
    assert code == 0 and "remembered #1: not-duplicate for 2 files" in out
    code, out = run(capsys, "ignore", "add", "--keep-all", str(lib / "trip" / "a.jpg"))
    assert code == 0 and "keep-all" in out
    code, out = run(capsys, "ignore", "list", "--json")
    assert [d["kind"] for d in json.loads(out)] == ["not-duplicate", "keep-all"]
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "trash", "--dry-run")
    assert "0 groups" in out and "plan: move to the trash 0 files" in out
    code, out = run(capsys, "scan", str(lib), "-q", "--no-decisions", "--act", "trash", "--dry-run")
    assert "plan: move to the trash 3 files" in out
    code, out = run(capsys, "ignore", "remove", "2", "7")
    assert code == 2 and "no decision 7" in out
    code, out = run(capsys, "ignore", "add", str(lib / "trip" / "a.jpg"), str(lib / "backup" / "a copy.jpg"))
    assert code == 2 and "different contents" in out
    code, out = run(capsys, "ignore", "clear")
    assert code == 0 and "forgot 1 decisions" in out
    code, out = run(capsys, "ignore", "list")
    assert "no remembered decisions" in out


def test_a_killed_clean_up_is_reported_and_undone_completely(lib, tmp_path, capsys):
    before = kit.snapshot(lib)
    env = {**os.environ, "PHOTOFIND_TEST_CRASH_AFTER": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "photofind", "scan", str(lib), "-q", "--no-embed", "--act", "trash"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 86, proc.stdout + proc.stderr
    assert len(set(before) - set(kit.snapshot(lib))) == 1
    code, out = run(capsys, "history")
    assert "[interrupted]" in out
    code, out = run(capsys, "undo", "-q")
    # One file was acted on before the crash; every other planned file was never touched.
    assert code == 0 and re.search(r"\b1 restored, [1-9]\d* untouched", out), out
    assert kit.snapshot(lib) == before


def test_with_random_weights_only_identical_files_are_acted_on(lib, capsys, monkeypatch, fake_embedder):
    from photofind.core.types import ModelInfo

    class RandomLooking(type(fake_embedder)):
        @property
        def model(self):
            return ModelInfo(id="random-test", arch="fake", weights="random(seed=0)", source="random")

    monkeypatch.setattr(pipeline, "make_embedder", lambda settings: (RandomLooking(), None))
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "trash", "--dry-run")
    assert "acting only on the exact and pixels tiers" in out
    assert "plan: move to the trash 2 files" in out and "b_small.jpg" not in out.split("plan:")[1]


def test_a_live_photo_is_trashed_with_its_video_and_the_json_lists_the_unit(lib, tmp_path, capsys):
    # The duplicate and the kept photo are each a Live Photo with the same video; the kept one
    # also has a sidecar that the duplicate lacks, so nothing unique goes.
    (lib / "trip" / "a.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  video")
    (lib / "trip" / "a.xmp").write_text("<x:xmpmeta/>")
    (lib / "backup" / "old" / "a.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  video")
    before = kit.snapshot(lib)
    groups_json = tmp_path / "groups.json"
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "trash", "--dry-run", "--json", str(groups_json))
    assert code == 0, out
    assert f"with its live companion {lib / 'backup' / 'old' / 'a.MOV'}" in out
    doc = json.loads(groups_json.read_text())
    files = {os.path.relpath(f["path"], lib): f for g in doc["groups"] for f in g["files"]}
    assert files["trip/a.jpg"]["companions"] == [
        {"path": str(lib / "trip" / "a.MOV"), "kind": "live"},
        {"path": str(lib / "trip" / "a.xmp"), "kind": "xmp"},
    ]
    assert files["backup/a copy.jpg"]["companions"] == []
    csv_path = tmp_path / "groups.csv"
    run(capsys, "scan", str(lib), "-q", "--csv", str(csv_path))
    import csv

    rows = {os.path.relpath(r["path"], lib): r for r in csv.DictReader(csv_path.open(encoding="utf-8"))}
    assert rows["trip/a.jpg"]["companions"] == f"live:{lib / 'trip' / 'a.MOV'}|xmp:{lib / 'trip' / 'a.xmp'}"
    assert rows["backup/a copy.jpg"]["companions"] == ""
    code, out = run(capsys, "scan", str(lib), "-q", "--act", "trash")
    assert "trash: 4 done" in out
    assert not (lib / "backup" / "old" / "a.MOV").exists() and (lib / "trip" / "a.MOV").exists()
    code, out = run(capsys, "undo", "-q")
    assert "4 restored" in out and kit.snapshot(lib) == before


def test_carry_metadata_writes_the_keepers_sidecar_and_undo_takes_it_back(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "lib"
    scene = kit.factory.make_scene(12, (200, 150))
    kit.factory.save(scene, root / "A" / "IMG_2.jpg")
    exif = Image.Exif()
    exif[0x4746] = 5  # Rating, known only to the smaller copy
    (root / "B").mkdir(parents=True)
    scene.resize((100, 75)).save(root / "B" / "IMG_2.jpg", quality=90, exif=exif.tobytes())
    before = kit.snapshot(root)
    code, out = run(capsys, "scan", str(root), "-q", "--act", "trash", "--carry-metadata", "--dry-run")
    assert code == 0, out
    assert f"metadata for {root / 'A' / 'IMG_2.jpg'}: IMG_2.jpg.xmp: rating (from IMG_2.jpg)" in out
    assert kit.snapshot(root) == before
    code, out = run(capsys, "scan", str(root), "-q", "--act", "trash", "--carry-metadata")
    assert "wrote IMG_2.jpg.xmp: rating" in out
    assert 'xmp:Rating="5"' in (root / "A" / "IMG_2.jpg.xmp").read_text(encoding="utf-8")
    code, out = run(capsys, "undo", "-q")
    assert kit.snapshot(root) == before
