import os
from pathlib import Path

import pytest

from photofind.core.progress import Cancelled, CancelToken
from photofind.core.scan.discover import discover, under
from tests import imagefactory as f


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    f.save(f.make_scene(1, (40, 30)), root / "a.JPG")
    f.save(f.make_scene(2, (40, 30)), root / "sub" / "b.png")
    f.save(f.make_scene(3, (40, 30)), root / ".hidden" / "c.jpg")
    f.save(f.make_scene(4, (40, 30)), root / "sub" / ".d.jpg")
    f.save(f.make_scene(5, (40, 30)), root / "raw" / "e.webp")
    (root / "notes.txt").write_text("not a photo")
    return root


def names(found):
    return sorted(Path(x.path).name for x in found.files)


def test_finds_photo_extensions_case_insensitive_and_skips_hidden(tmp_path):
    found = discover([_tree(tmp_path)])
    assert names(found) == ["a.JPG", "b.png", "e.webp"]
    assert all(os.path.isabs(x.path) for x in found.files)


def test_hidden_included_on_request_and_exclude_globs(tmp_path):
    root = _tree(tmp_path)
    assert names(discover([root], include_hidden=True)) == [".d.jpg", "a.JPG", "b.png", "c.jpg", "e.webp"]
    assert names(discover([root], exclude=["raw", "*.png"])) == ["a.JPG"]


def test_overlapping_roots_symlinks_and_hardlinks_count_once(tmp_path):
    root = _tree(tmp_path)
    os.link(root / "a.JPG", root / "sub" / "a-hardlink.jpg")
    os.symlink(root / "sub" / "b.png", root / "b-link.png")
    found = discover([root, root / "sub", root / "sub" / "b.png"])
    assert len(found.files) == 3
    assert len({(x.dev, x.ino) for x in found.files}) == 3


def test_symlink_loop_terminates(tmp_path):
    root = _tree(tmp_path)
    os.symlink(root, root / "sub" / "loop")
    found = discover([root])
    assert names(found) == ["a.JPG", "b.png", "e.webp"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_folder_is_reported_not_fatal(tmp_path):
    root = _tree(tmp_path)
    locked = root / "locked"
    f.save(f.make_scene(9, (20, 20)), locked / "x.jpg")
    locked.chmod(0)
    try:
        found = discover([root])
    finally:
        locked.chmod(0o755)
    assert [s.reason.value for s in found.skipped] == ["permission-denied"]
    assert len(found.files) == 3


def test_permission_error_on_a_folder_is_reported_even_as_root(tmp_path, monkeypatch):
    root = _tree(tmp_path)
    real_scandir = os.scandir

    def guarded(path):
        if str(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", guarded)
    found = discover([root])
    assert [(Path(s.path).name, s.reason.value) for s in found.skipped] == [("sub", "permission-denied")]
    assert names(found) == ["a.JPG", "e.webp"]


def test_cancel_stops_discovery(tmp_path):
    token = CancelToken()
    token.cancel()

    class P:
        def update(self, *a):
            pass

        def is_cancelled(self):
            return token.is_cancelled()

    with pytest.raises(Cancelled):
        discover([_tree(tmp_path)], progress=P())


def test_under():
    assert under("/a/b/c.jpg", "/a/b")
    assert under("/a/b", "/a/b")
    assert not under("/a/bc/d.jpg", "/a/b")
