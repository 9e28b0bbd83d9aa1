"""Pixel-level verification: same photo after edits and crops, never a burst neighbour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.core.match import derivatives as d
from photofind.core.match import detail, phash_index, verify
from photofind.core.scan.hashing import content_box, content_hash, gray_thumb, phash
from photofind.core.scan.imageio import decode_file
from photofind.core.types import FileRef, ImageRecord
from tests import imagefactory as factory


def record(path: Path) -> tuple[ImageRecord, np.ndarray]:
    """What a scan knows about a file: facts, pHash and the 32x32 thumbnail."""
    data = path.read_bytes()
    decoded = decode_file(str(path))
    rec = ImageRecord(
        FileRef(str(path), len(data), 0), content_hash(data), decoded.facts, phash(decoded.image)
    )
    return rec, gray_thumb(decoded.image, 32).astype(np.uint8)


def write(path: Path, encoded: tuple[bytes, str]) -> Path:
    path = path.with_suffix("." + encoded[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encoded[0])
    return path


def check(a: Path, b: Path, **kw) -> str | None:
    (ra, ta), (rb, tb) = record(a), record(b)
    return verify.pixel_check(ra, rb, ta, tb, **kw)


@pytest.fixture(scope="module")
def scene() -> Image.Image:
    return factory.make_scene(7, (640, 480))


@pytest.mark.parametrize(
    "transform, why",
    [
        ("resize50", "resized"),
        ("thumbnail", "resized"),
        ("jpeg30", "re-encoded"),
        ("webp", "converted"),
        ("brightness", "edited"),
        ("crop90_offcentre", "cropped"),
        ("crop75_centre", "cropped"),
        ("watermark", "re-encoded"),
        ("letterbox", "letterboxed"),
    ],
)
def test_derivatives_are_confirmed_with_the_reason(tmp_path, scene, transform, why):
    original = write(tmp_path / "original", d.encode(scene))
    copy = write(tmp_path / transform, d.make(transform, scene, seed=1))
    assert check(original, copy) == why
    assert check(copy, original) == why  # symmetric


def test_a_crop_to_another_shape_is_the_same_photo(tmp_path, scene):
    original = write(tmp_path / "original", d.encode(scene))
    square = write(tmp_path / "square", d.encode(scene.crop((100, 40, 500, 440))))  # 4:3 -> 1:1
    assert check(original, square) == "cropped"


def test_a_region_must_keep_the_inner_pictures_shape(scene):
    """A region that fits only when stretched is not a crop: two frames of one scene, shifted,
    pass for one that way. The stretched copy below matches without the shape rule only."""
    from photofind.core.match import align

    stretched = scene.crop((0, 0, 512, 480)).resize(scene.size)  # 80 % of the width, pulled wide
    outer, inner = detail.detail_of_image(scene), detail.detail_of_image(stretched)
    free = align.find_containment(inner.prepared, outer.prepared, gate=verify.COARSE_GATE)
    assert free.score >= verify.DETAIL_NEAR
    kept = align.find_containment(
        inner.prepared, outer.prepared, gate=verify.COARSE_GATE, aspects=(inner.aspect, outer.aspect)
    )
    assert kept.score < verify.DETAIL_NEAR
    x0, y0, x1, y1 = kept.region
    assert (x1 - x0) / (y1 - y0) == pytest.approx(1.0, abs=1e-6)  # same shape as the 4:3 inner in a 4:3 outer


def test_burst_frames_of_one_scene_are_not_the_same_photo(tmp_path):
    big = factory.make_scene(8, (1600, 1200))
    frames = d.burst_frames(big, 3, np.random.default_rng(0), out_long_side=640)
    paths = [write(tmp_path / f"frame{k}", d.encode(f)) for k, f in enumerate(frames)]
    assert check(paths[0], paths[1]) is None
    assert check(paths[1], paths[2]) is None
    assert check(paths[0], paths[2]) is None
    # ...while a resized copy of a frame is still confirmed.
    copy = write(tmp_path / "frame0-small", d.make("resize50", frames[0]))
    assert check(paths[0], copy) == "resized"


def test_different_photos_are_rejected(tmp_path):
    paths = [write(tmp_path / f"s{k}", d.encode(factory.make_scene(100 + k, (480, 360)))) for k in range(4)]
    for k in range(1, 4):
        assert check(paths[0], paths[k]) is None


def test_same_bytes_needs_no_pixels(tmp_path, scene):
    a = write(tmp_path / "a", d.encode(scene))
    b = tmp_path / "b.jpg"
    b.write_bytes(a.read_bytes())
    ra, ta = record(a)
    rb, tb = record(b)
    a.unlink()
    b.unlink()  # no decoding is needed to know
    assert verify.pixel_check(ra, rb, ta, tb) == "same bytes"


def test_missing_file_falls_back_to_a_strict_thumbnail_check(tmp_path, scene):
    a = write(tmp_path / "a", d.encode(scene))
    b = write(tmp_path / "b", d.make("jpeg60", scene))
    c = write(tmp_path / "c", d.make("crop75_centre", scene))
    (ra, ta), (rb, tb), (rc, tc) = record(a), record(b), record(c)
    b.unlink()
    c.unlink()
    assert verify.pixel_check(ra, rb, ta, tb) == "re-encoded"
    assert verify.pixel_check(ra, rc, ta, tc) is None  # a crop cannot be proven from 32x32


def test_equal_pixels_behind_different_bytes(tmp_path, scene):
    jpeg = d.encode(scene)
    original = write(tmp_path / "original", jpeg)
    tagged = write(tmp_path / "tagged", (d.with_metadata_change(jpeg[0]), "jpg"))
    png = write(tmp_path / "converted", d.make("png_of_jpeg", scene))
    oriented = write(tmp_path / "oriented", d.make("exif_orientation", scene))
    resaved = write(tmp_path / "resaved", d.make("jpeg60", scene))
    (ro, to) = record(original)
    for path in (tagged, png, oriented):
        r, t = record(path)
        assert verify.same_pixels(ro, r, to, t), path.name
    r, t = record(resaved)
    assert not verify.same_pixels(ro, r, to, t)


def test_equal_pixels_is_not_decided_by_a_draft_decode(tmp_path, scene):
    """Draft decoding sees DC coefficients only: a change in fine detail is invisible to it."""
    base = np.asarray(scene, dtype=np.int16).copy()
    base[100:102, 100:102] += 40  # a tiny local edit
    edited = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    a = write(tmp_path / "a", d.encode(scene, "PNG"))
    b = write(tmp_path / "b", d.encode(edited, "PNG"))
    (ra, ta), (rb, tb) = record(a), record(b)
    assert verify.pixels_candidate(ra, rb, ta, tb)  # the cheap facts agree...
    assert not verify.same_pixels(ra, rb, ta, tb)  # ...the full decode does not


def _random_hashes(n: int, rng) -> np.ndarray:
    return rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(
        0, 2, size=n
    ).astype(np.uint64)


def _flip(h: int, bits: list[int]) -> int:
    for b in bits:
        h ^= 1 << b
    return h


def test_phash_candidates_index_equals_brute_force(monkeypatch):
    rng = np.random.default_rng(3)
    base = _random_hashes(400, rng)
    near = [
        _flip(int(h), rng.choice(64, size=int(rng.integers(0, 11)), replace=False).tolist())
        for h in base[:150]
    ]
    hashes = np.concatenate([base, np.array(near, dtype=np.uint64)])
    brute = phash_index.phash_candidates(hashes, 10)
    monkeypatch.setattr(phash_index, "_BRUTE_FORCE_MAX", 0)
    indexed = phash_index.phash_candidates(hashes, 10)
    assert len(brute) >= 150
    assert {tuple(p) for p in brute.tolist()} == {tuple(p) for p in indexed.tolist()}
    assert all(i < j for i, j in indexed.tolist())
    dist = np.bitwise_count(hashes[indexed[:, 0]] ^ hashes[indexed[:, 1]])
    assert dist.max() <= 10


def test_phash_candidates_handles_empty_and_single():
    assert phash_index.phash_candidates(np.array([], dtype=np.uint64)).shape == (0, 2)
    assert phash_index.phash_candidates(np.array([5], dtype=np.uint64)).shape == (0, 2)


def test_content_box_cuts_letterbox_bars_only():
    photo = factory.make_scene(9, (400, 300))
    boxed = d.letterbox(photo)  # pillarboxed to 16:9
    left, top, right, bottom = content_box(boxed)
    assert (top, bottom) == (0, boxed.height)
    assert abs(left - (boxed.width - 400) // 2) <= 3 and abs(right - left - 400) <= 6
    assert content_box(photo) == (0, 0, 400, 300)
    one_edge = Image.new("RGB", (400, 300), (0, 0, 0))
    one_edge.paste(photo.crop((0, 0, 400, 260)), (0, 40))  # a dark band on one side only
    assert content_box(one_edge) == (0, 0, 400, 300)
    uneven = Image.new("RGB", (400, 300), (255, 255, 255))  # blown-out sky above, a sliver below
    uneven.paste(photo.crop((0, 0, 400, 220)), (0, 70))
    assert content_box(uneven) == (0, 0, 400, 300)
    assert phash(boxed) ^ phash(photo) == 0 or (phash(boxed) ^ phash(photo)).bit_count() <= 4


def test_verified_groups_meet_at_the_original_and_never_chain(tmp_path, scene):
    from itertools import combinations

    from benchmarks.neargroups import verified_groups
    from photofind.core.types import Tier

    big = factory.make_scene(8, (1600, 1200))
    frames = d.burst_frames(big, 2, np.random.default_rng(0), out_long_side=640)
    paths = [
        write(tmp_path / "original", d.encode(scene)),
        write(tmp_path / "crop_a", d.make("crop75_centre", scene)),
        write(tmp_path / "crop_b", d.make("crop75_offcentre", scene)),  # does not contain crop_a
        write(tmp_path / "small", d.make("resize50", scene)),
        write(tmp_path / "frame0", d.encode(frames[0])),
        write(tmp_path / "frame1", d.encode(frames[1])),
    ]
    jpeg = d.encode(factory.make_scene(77, (320, 240)))
    paths += [
        write(tmp_path / "other", jpeg),
        write(tmp_path / "other_tagged", (d.with_metadata_change(jpeg[0]), "jpg")),
    ]
    recs, thumbs = zip(*(record(p) for p in paths))
    assert verify.pixel_check(recs[1], recs[2], thumbs[1], thumbs[2]) is None
    groups = verified_groups(list(recs), np.stack(thumbs), combinations(range(len(paths)), 2))
    by_centre = {g.centre: g for g in groups}
    assert set(by_centre) == {0, 7}  # equal pixels: the bigger file (with the tag) is the centre
    assert by_centre[0].members == (0, 1, 2, 3) and by_centre[0].tier is Tier.NEAR
    assert set(by_centre[0].why) == {"cropped", "resized"}
    assert by_centre[7].members == (7, 6) and by_centre[7].tier is Tier.PIXELS
