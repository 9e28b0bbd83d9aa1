"""D2: an animation or a multi-page file is never a duplicate of a still of one of its frames;
only its byte-identical copies group with it (as `exact`). Its frame count is reported."""

import shutil
from dataclasses import replace

import pytest
from PIL import Image

from photofind.core.cleanup.actions import Action, plan_duplicates
from photofind.core.pipeline import scan
from photofind.core.report import result_as_json
from photofind.core.types import ScanSettings, Tier
from tests import imagefactory as f


def _frames(n):
    return [f.make_scene(seed, (160, 120)) for seed in range(1, n + 1)]


def _save_multi(path, frames, fmt):
    path.parent.mkdir(parents=True, exist_ok=True)
    first, rest = frames[0], frames[1:]
    if fmt == "GIF":
        first.save(path, save_all=True, append_images=rest, duration=100, loop=0)
    elif fmt == "WEBP":
        first.save(path, save_all=True, append_images=rest, duration=100, lossless=True)
    else:
        first.save(path, save_all=True, append_images=rest, compression="raw")
    with Image.open(path) as im:
        assert im.n_frames == len(frames)
    return path


@pytest.mark.parametrize(
    "name, fmt, n", [("anim.gif", "GIF", 6), ("anim.webp", "WEBP", 3), ("pages.tif", "TIFF", 3)]
)
def test_a_multi_frame_file_is_not_a_duplicate_of_its_first_frame(tmp_path, fake_embedder, name, fmt, n):
    root = tmp_path / "lib"
    frames = _frames(n)
    multi = _save_multi(root / name, frames, fmt)
    with Image.open(multi) as im:  # the still holds exactly the first frame's decoded pixels
        im.seek(0)
        im.convert("RGB").save(root / "frame1.png")
    shutil.copy(multi, root / f"copy-{name}")
    result = scan(
        ScanSettings(roots=(str(root),), cache_path=str(tmp_path / "c.sqlite3")), embedder=fake_embedder
    )
    groups = [(g.tier, sorted(result.records[i].path for i in g.indices)) for g in result.groups]
    duplicate_groups = [(t, paths) for t, paths in groups if t is not Tier.SIMILAR]
    assert duplicate_groups == [(Tier.EXACT, sorted([str(root / f"copy-{name}"), str(multi)]))]
    plan = plan_duplicates(result, Action.TRASH)
    assert str(root / "frame1.png") not in [i.path for i in plan.items]
    assert [i.path for i in plan.items if i.path.endswith("frame1.png")] == []
    files = {f["path"]: f for g in result_as_json(result)["groups"] for f in g["files"]}
    assert files[str(multi)]["frames"] == n
    # The frame count survives the cache: a second scan says the same.
    again = scan(
        ScanSettings(roots=(str(root),), cache_path=str(tmp_path / "c.sqlite3")), embedder=fake_embedder
    )
    assert {r.path: r.facts.frames for r in again.records}[str(multi)] == n
    assert [g.tier for g in again.groups if g.tier is not Tier.SIMILAR] == [Tier.EXACT]


def test_a_plan_never_removes_a_multi_frame_file_for_a_file_with_other_bytes(tmp_path):
    from tests import cleanupkit as kit

    root = tmp_path / "lib"
    multi = _save_multi(root / "anim.gif", _frames(3), "GIF")
    still = kit.photo(root / "still.png", 1, (160, 120))
    records = [kit.record(still), kit.record(multi)]
    records[1] = replace(records[1], facts=replace(records[1].facts, frames=3))
    res = kit.result(records, [(Tier.SIMILAR, [0, 1])], [root], rules="format:png>gif")
    plan = plan_duplicates(res, Action.TRASH, tiers=[Tier.SIMILAR])
    assert plan.items == ()
    assert "3 frames or pages" in plan.refused[0].reason
