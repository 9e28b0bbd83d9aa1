"""Discovery lists real files, once, and never offers what is in a trash or in photofind's
own folders."""

import os

from photofind.core.scan.discover import discover
from tests import imagefactory as f


def _photo(path, seed=1):
    return f.save(f.make_scene(seed, (40, 30)), path)


def test_a_link_that_sorts_before_its_target_does_not_replace_it(tmp_path):
    root = tmp_path / "lib"
    real = _photo(root / "z-real.jpg")
    os.symlink(real, root / "a-link.jpg")
    os.symlink(root, root / "a-folder-link")  # the same folder again, through a link
    found = discover([root])
    assert [x.path for x in found.files] == [str(real)]


def test_a_link_to_a_file_elsewhere_lists_the_real_file(tmp_path):
    outside = _photo(tmp_path / "elsewhere" / "real.jpg")
    root = tmp_path / "lib"
    root.mkdir()
    os.symlink(outside, root / "link.jpg")
    os.symlink(outside.parent, root / "folder-link")
    assert [x.path for x in discover([root]).files] == [str(outside)]
    assert [x.path for x in discover([root / "link.jpg"]).files] == [str(outside)]


def test_hidden_scan_never_enters_trash_folders(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    _photo(home / "Pictures" / "keep.jpg")
    for trash in (
        home / ".local" / "share" / "Trash" / "files",
        home / "Pictures" / ".Trash-1000" / "files",
        home / "Pictures" / ".Trash" / "1000" / "files",
        home / "Pictures" / ".Trashes",
        home / "Pictures" / "$RECYCLE.BIN",
    ):
        _photo(trash / "thrown away.jpg", 2)
    found = discover([home], include_hidden=True)
    assert [os.path.relpath(x.path, home) for x in found.files] == [os.path.join("Pictures", "keep.jpg")]
    # The trash named as a root, or reached through a link, is not entered either.
    os.symlink(home / ".local" / "share" / "Trash", home / "Pictures" / "bin")
    assert len(discover([home / "Pictures"]).files) == 1
    assert discover([home / ".local" / "share" / "Trash"]).files == ()


def test_photofinds_own_folders_are_never_scanned(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOFIND_CACHE_DIR", str(tmp_path / "lib" / ".cache" / "photofind"))
    monkeypatch.setenv("PHOTOFIND_DATA_DIR", str(tmp_path / "lib" / "data"))
    _photo(tmp_path / "lib" / "keep.jpg")
    _photo(tmp_path / "lib" / ".cache" / "photofind" / "thumb.jpg", 2)
    _photo(tmp_path / "lib" / "data" / "saved.png", 3)
    found = discover([tmp_path / "lib"], include_hidden=True)
    assert [os.path.basename(x.path) for x in found.files] == ["keep.jpg"]
