"""Carry metadata over: what a removed copy knows and the kept photo lacks goes into the kept
photo's XMP sidecar (written by Exiv2 through pyexiv2), never into the photo; undo takes it back."""

import os
from dataclasses import replace

import pytest
from PIL import Image

from photofind.core.cleanup.actions import Action, plan_as_json, plan_duplicates
from photofind.core.cleanup.carry import read_metadata
from photofind.core.cleanup.executor import execute
from photofind.core.cleanup.restore import UndoStatus, undo
from photofind.core.scan.companions import find_companions
from photofind.core.types import Tier
from tests import cleanupkit as kit

pyexiv2 = pytest.importorskip("pyexiv2")

KEYWORDS_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
    b"<rdf:li>beach</rdf:li><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject></rdf:Description>"
    b"</rdf:RDF></x:xmpmeta>"
)
RATED_XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="3"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


@pytest.fixture(autouse=True)
def _home_on_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))


def tagged_copy(scene: Image.Image, path):
    """The same pixels as the kept photo, with the metadata a camera and an organiser wrote."""
    exif = Image.Exif()
    exif[0x010E] = "Sunset over the bay"  # ImageDescription
    exif[0x4746] = 4  # Rating
    exif.get_ifd(0x8769)[0x9003] = "2021:06:05 14:03:09"  # DateTimeOriginal
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "W", 4: (2.0, 21.0, 0.0)})
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.save(path, quality=95, exif=exif.tobytes(), xmp=KEYWORDS_XMP)
    return path


def library(root):
    scene = kit.factory.make_scene(3, (96, 72))
    kit.factory.save(scene, root / "A" / "IMG_1.jpg", quality=95)  # the keeper: no metadata at all
    tagged_copy(scene, root / "B" / "IMG_1.jpg")
    paths = [str(root / "A" / "IMG_1.jpg"), str(root / "B" / "IMG_1.jpg")]
    records = [kit.record(p) for p in paths]
    res = kit.result(records, [(Tier.PIXELS, [0, 1])], [root], rules=f"folder:{root / 'A'}")
    return replace(res, companions=find_companions(paths))


def test_metadata_is_read_from_exif_and_embedded_xmp(tmp_path):
    library(tmp_path)
    meta = read_metadata(str(tmp_path / "B" / "IMG_1.jpg"))
    assert meta.taken == "2021-06-05T14:03:09"
    assert meta.gps == pytest.approx((48.0 + 51 / 60 + 24 / 3600, -(2.0 + 21 / 60)))
    assert (meta.rating, meta.keywords, meta.description) == (4, ("beach", "holiday"), "Sunset over the bay")
    assert read_metadata(str(tmp_path / "A" / "IMG_1.jpg")).present() == set()


def test_what_the_keeper_lacks_goes_into_a_new_sidecar_and_undo_removes_it(tmp_path):
    root = tmp_path / "photos"
    res = library(root)
    keeper_bytes = (root / "A" / "IMG_1.jpg").read_bytes()
    before = kit.snapshot(root)
    assert plan_duplicates(res, Action.TRASH).sidecars == ()  # opt-in only
    plan = plan_duplicates(res, Action.TRASH, carry=True)
    [write] = plan.sidecars
    assert write.sidecar == str(root / "A" / "IMG_1.jpg.xmp")
    assert sorted(write.values) == ["description", "gps", "keywords", "rating", "taken"]
    assert "metadata into 1 XMP sidecar" in plan.summary()
    assert plan_as_json(plan)["sidecars"][0]["fields"] == sorted(write.values)
    report = execute(plan)
    assert report.sidecar_notes == (f"wrote {write.describe()}",)
    assert (root / "A" / "IMG_1.jpg").read_bytes() == keeper_bytes  # the photo itself is never written
    carried = read_metadata(str(root / "A" / "IMG_1.jpg.xmp"))
    assert carried.taken == "2021-06-05T14:03:09" and carried.rating == 4
    assert carried.keywords == ("beach", "holiday") and carried.description == "Sunset over the bay"
    assert carried.gps == pytest.approx(write.values["gps"], abs=1e-6)
    result = undo()
    assert result.complete and result.count(UndoStatus.RESTORED) == 2  # the copy and the sidecar
    assert kit.snapshot(root) == before


def test_an_existing_sidecar_gains_only_what_is_missing_and_comes_back_byte_for_byte(tmp_path):
    root = tmp_path / "photos"
    library(root)
    (root / "A" / "IMG_1.xmp").write_text(RATED_XMP, encoding="utf-8")  # Lightroom's name, rating 3
    res = library(root)
    before = kit.snapshot(root)
    [write] = plan_duplicates(res, Action.TRASH, carry=True).sidecars
    assert write.sidecar == str(root / "A" / "IMG_1.xmp") and "rating" not in write.values
    execute(plan_duplicates(res, Action.TRASH, carry=True))
    with pyexiv2.Image(str(root / "A" / "IMG_1.xmp")) as image:
        xmp = image.read_xmp()
    assert xmp["Xmp.xmp.Rating"] == "3" and xmp["Xmp.exif.DateTimeOriginal"] == "2021-06-05T14:03:09"
    undo()
    assert kit.snapshot(root) == before


def test_undo_leaves_a_sidecar_the_user_changed_since(tmp_path):
    root = tmp_path / "photos"
    res = library(root)
    execute(plan_duplicates(res, Action.TRASH, carry=True))
    sidecar = root / "A" / "IMG_1.jpg.xmp"
    sidecar.write_text(sidecar.read_text(encoding="utf-8").replace("Sunset", "Dawn"), encoding="utf-8")
    result = undo()
    assert not result.complete
    assert any(r.status is UndoStatus.FAILED and "changed since" in r.detail for r in result.results)
    assert "Dawn" in sidecar.read_text(encoding="utf-8")
    assert (root / "B" / "IMG_1.jpg").is_file()  # the copy came back all the same
    assert os.path.isfile(sidecar)


def test_takeout_json_gives_date_place_and_description(tmp_path):
    import json

    from photofind.core.scan.companions import Companion, Kind

    photo = kit.photo(tmp_path / "IMG_2.jpg", 2)
    sidecar = tmp_path / "IMG_2.jpg.json"
    doc = {
        "photoTakenTime": {"timestamp": "1623000000"},
        "geoData": {"latitude": 48.8584, "longitude": 2.2945},
        "description": "Tour Eiffel",
    }
    sidecar.write_text(json.dumps(doc), encoding="utf-8")
    meta = read_metadata(str(photo), (Companion(str(sidecar), Kind.JSON),))
    assert meta.taken == "2021-06-06T17:20:00Z"
    assert meta.gps == (48.8584, 2.2945) and meta.description == "Tour Eiffel"
    doc["geoData"] = {"latitude": 0.0, "longitude": 0.0}  # Takeout's "no place"
    sidecar.write_text(json.dumps(doc), encoding="utf-8")
    assert read_metadata(str(photo), (Companion(str(sidecar), Kind.JSON),)).gps is None
