"""Finding a photo's companions: Live Photo videos, RAW, sidecars, Takeout JSON, Apple edits."""

import os

from photofind.core.scan.companions import Kind, find_companions, takeout_sidecar_names


def touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(name.encode())
    return [str(folder / n) for n in names]


def kinds(found, path):
    return {os.path.basename(c.path): c.kind for c in found.get(str(path), ())}


def test_live_raw_and_sidecars_are_found_case_insensitively(tmp_path):
    touch(tmp_path, "IMG_1.HEIC", "IMG_1.MOV", "IMG_1.xmp", "IMG_1.HEIC.xmp", "IMG_1.AAE")
    touch(tmp_path, "DSC_2.JPG", "DSC_2.NEF", "DSC_2.NEF.xmp", "other.mov", "IMG_10.MOV")
    found = find_companions([str(tmp_path / "IMG_1.HEIC"), str(tmp_path / "DSC_2.JPG")])
    assert kinds(found, tmp_path / "IMG_1.HEIC") == {
        "IMG_1.MOV": Kind.LIVE,
        "IMG_1.xmp": Kind.XMP,
        "IMG_1.HEIC.xmp": Kind.XMP,
        "IMG_1.AAE": Kind.AAE,
    }
    # The RAW's own sidecar (DSC_2.NEF.xmp) is not the JPEG's: it stays with the RAW, which is
    # a companion of the JPEG here, so the whole shot is one unit.
    assert kinds(found, tmp_path / "DSC_2.JPG") == {"DSC_2.NEF": Kind.RAW}


def test_a_photo_without_companions_is_not_listed_and_other_folders_do_not_count(tmp_path):
    touch(tmp_path / "a", "IMG_1.jpg")
    touch(tmp_path / "b", "IMG_1.mov")
    assert find_companions([str(tmp_path / "a" / "IMG_1.jpg")]) == {}


def test_a_scanned_photo_is_never_taken_as_another_photos_raw_or_sidecar(tmp_path):
    touch(tmp_path, "IMG_1.jpg", "IMG_1.png", "IMG_1.mov")
    photos = [str(tmp_path / "IMG_1.jpg"), str(tmp_path / "IMG_1.png")]
    found = find_companions(photos)
    # Both claim the video; neither claims the other photo.
    assert kinds(found, photos[0]) == {"IMG_1.mov": Kind.LIVE}
    assert kinds(found, photos[1]) == {"IMG_1.mov": Kind.LIVE}


def test_apple_edit_is_a_companion_of_the_original(tmp_path):
    touch(tmp_path, "IMG_1234.JPG", "IMG_E1234.JPG", "IMG_E1234.MOV", "IMG_1234.AAE")
    photos = [str(tmp_path / "IMG_1234.JPG"), str(tmp_path / "IMG_E1234.JPG")]
    found = find_companions(photos)
    assert kinds(found, photos[0]) == {"IMG_E1234.JPG": Kind.EDIT, "IMG_1234.AAE": Kind.AAE}
    assert kinds(found, photos[1]) == {"IMG_E1234.MOV": Kind.LIVE}


def test_takeout_names_truncate_at_51_characters_and_move_the_copy_number():
    assert takeout_sidecar_names("IMG_1.jpg") == (
        "img_1.jpg.supplemental-metadata.json",
        "img_1.jpg.json",
    )
    assert takeout_sidecar_names("IMG_1(1).jpg")[1] == "img_1.jpg(1).json"
    long = "PXL_20210612_143021345.PORTRAIT-01.COVER~2_EDIT.jpg"  # 51 characters
    names = takeout_sidecar_names(long)
    # Both forms cut to the same 51 characters: one name to look for.
    assert names == ((long[:46] + ".json").lower(),)
    short = "PXL_20210612_143021345.MP.jpg"
    assert takeout_sidecar_names(short)[0] == (short + ".supplemental-metadata")[:46].lower() + ".json"


def test_takeout_sidecars_are_found(tmp_path):
    long = "PXL_20210612_143021345.PORTRAIT-01.COVER~2_EDIT.jpg"
    touch(
        tmp_path,
        "IMG_1.jpg",
        "IMG_1.jpg.json",
        "IMG_1(1).jpg",
        "IMG_1.jpg(1).json",
        long,
        long[:46] + ".json",
        "IMG_2.jpg",
        "IMG_2.jpg.supplemental-metadata.json",
    )
    photos = [str(tmp_path / n) for n in ("IMG_1.jpg", "IMG_1(1).jpg", long, "IMG_2.jpg")]
    found = find_companions(photos)
    assert kinds(found, photos[0]) == {"IMG_1.jpg.json": Kind.JSON}
    assert kinds(found, photos[1]) == {"IMG_1.jpg(1).json": Kind.JSON}
    assert kinds(found, photos[2]) == {long[:46] + ".json": Kind.JSON}
    assert kinds(found, photos[3]) == {"IMG_2.jpg.supplemental-metadata.json": Kind.JSON}
