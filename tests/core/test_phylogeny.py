"""Which copy is the original, and how each copy was made (photofind.core.match.phylogeny)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import ImageEnhance

from photofind.core.cleanup.keep import KeeperPolicy, derivations_of
from photofind.core.match import align, verify
from photofind.core.match import derivatives as d
from photofind.core.match.detail import Detail
from photofind.core.match.grouping import group_records
from photofind.core.match.phylogeny import infer
from photofind.core.report import group_as_json
from photofind.core.types import ScanResult, ScanSettings, Thresholds, Tier
from tests import imagefactory as factory
from tests.core.test_verify import record, write


@pytest.fixture(scope="module")
def scene():
    return factory.make_scene(41, (960, 640))


# Every record has mtime 0 and the copies are as big or bigger than the original, so neither
# the file time nor the size can pick the original: only the derivation evidence can.
EDITS = {
    "resized": lambda im: d.encode(d.resize(im, 0.5)),
    "recompressed": lambda im: d.encode(im, quality=30),
    "letterboxed": lambda im: d.encode(d.letterbox(im)),
    "watermarked": lambda im: d.make("watermark", im),
    "noisy": lambda im: d.encode(d.add_noise(im, np.random.default_rng(1))),
    "brightened": lambda im: d.encode(ImageEnhance.Brightness(im).enhance(1.4)),
    "contrast": lambda im: d.encode(ImageEnhance.Contrast(im).enhance(1.5)),
    "gray": lambda im: d.encode(im.convert("L")),
    "blurred": lambda im: d.make("blur", im),
    "cropped": lambda im: d.encode(d.crop(im, 0.8)),
    "straightened": lambda im: d.encode(d.straighten(im, 5.0)),
}


def _group(tmp_path, scene, names, chain=""):
    paths = [write(tmp_path / f"{n}-copy", EDITS[n](scene)) for n in names]
    paths.append(write(tmp_path / "zz-original", d.encode(scene)))  # last in path order too
    pairs = [record(p) for p in paths]
    records = tuple(r for r, _ in pairs)
    thumbs = np.stack([t for _, t in pairs])
    policy = KeeperPolicy.parse(chain) if chain else None
    same = np.full((len(records), 8), 8**-0.5, np.float32)  # every pair a candidate: the pixels decide
    groups = group_records(records, same, Thresholds(near=0.9, similar=0.8), thumbs=thumbs, policy=policy)
    dups = [g for g in groups if g.tier is not Tier.SIMILAR]
    assert len(dups) == 1 and len(dups[0].members) == len(paths), [g.why for g in groups]
    return records, dups[0]


@pytest.mark.parametrize("name", sorted(EDITS))
def test_the_original_is_kept_against_each_kind_of_copy(tmp_path, scene, name):
    records, group = _group(tmp_path, scene, [name, "resized", "recompressed"])
    assert records[group.keep_index].path.endswith("zz-original.jpg"), group.keep_reason
    tree = derivations_of(group)
    assert tree[group.keep_index].parent is None and tree[group.keep_index].original


def test_derivation_says_how_each_copy_was_made(tmp_path, scene):
    records, group = _group(
        tmp_path, scene, ["resized", "recompressed", "letterboxed", "gray", "straightened"]
    )
    how = {
        records[i].path.rsplit("/", 1)[1].split("-")[0]: made.how for i, made in derivations_of(group).items()
    }
    assert "resized 50%" in how["resized"]
    assert any(h.startswith("JPEG q≈3") for h in how["recompressed"])
    assert "bars added" in how["letterboxed"]
    assert "colour removed" in how["gray"]
    assert "rotated 5°" in how["straightened"]
    assert group.keep_reason == "the original: the other copies were made from it"


def test_users_can_keep_the_edited_copy(tmp_path, scene):
    records, group = _group(tmp_path, scene, ["brightened", "noisy", "resized"], chain="edited,resolution")
    assert not records[group.keep_index].path.endswith("zz-original.jpg")
    assert records[group.keep_index].facts.pixels == max(r.facts.pixels for r in records)


def test_letterbox_bars_do_not_count_as_resolution(tmp_path, scene):
    records, group = _group(tmp_path, scene, ["letterboxed"], chain="resolution,shortest")
    # The bars make the copy 1138 pixels wide against 960; without them the two tie, and the
    # shorter path decides.
    assert records[group.keep_index].path.endswith("zz-original.jpg")
    assert {made.content_pixels for made in group.derivation} == {960 * 640}


def test_the_json_carries_the_derivation(tmp_path, scene):
    records, group = _group(tmp_path, scene, ["resized", "letterboxed"])
    result = ScanResult(ScanSettings(roots=(str(tmp_path),)), records, (), (group,), None)
    doc = group_as_json(result, group)
    assert doc["original"] == doc["keep"]
    assert doc["keep_reason"] == "the original: the other copies were made from it"
    by_name = {f["path"].rsplit("/", 1)[1]: f for f in doc["files"]}
    assert by_name["zz-original.jpg"]["derived_from"] is None and by_name["zz-original.jpg"]["original"]
    assert by_name["resized-copy.jpg"]["derived_from"] == doc["keep"]
    assert "resized 50%" in by_name["resized-copy.jpg"]["how"]


def test_a_copy_made_from_a_smaller_photo_is_not_the_original():
    """Tree logic alone: the bigger photo carries an overlay the smaller lacks, so it was made
    from the smaller one, upscaled (which the pixel count alone would reward)."""
    from photofind.core.types import FileRef, ImageFacts, ImageRecord

    gray = np.tile(np.arange(128, dtype=np.float32), (128, 1))
    flat = Detail(gray, False, align.prepare(gray))
    small = ImageRecord(FileRef("/a/small.jpg", 10, 0), "a", ImageFacts(400, 300, "JPEG"))
    big = ImageRecord(FileRef("/a/big.jpg", 10, 0), "b", ImageFacts(800, 600, "JPEG"))
    nodes = infer([small, big], [flat, flat], [None, verify.Verdict("edited", added=1)], 0)
    assert nodes[1].parent == 0 and not nodes[1].original
    assert "overlay added" in nodes[1].how
    assert nodes[0].original and nodes[0].parent is None
