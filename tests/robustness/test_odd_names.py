"""C1: file and folder names that are not valid UTF-8 (a Linux file system allows any bytes)."""

from __future__ import annotations

import json
import os
import sys

import pytest

from photofind import cli
from photofind.core.scan.cache import Cache, FileEntry
from photofind.core.types import FileRef, ImageFacts
from tests import imagefactory as f

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that allows any bytes")


def _odd_library(root):
    """Two copies of one photo: one in a folder, one named, with Latin-1 bytes."""
    folder = os.path.join(os.fsencode(root), b"caf\xe9")
    os.makedirs(folder)
    a = f.save(f.make_scene(3), root / "a.jpg")
    odd = os.path.join(folder, b"b\xff.jpg")
    with open(odd, "wb") as out:
        out.write(a.read_bytes())
    return os.fsdecode(odd)


def test_cache_round_trips_undecodable_paths(tmp_path):
    path = os.fsdecode(b"/photos/caf\xe9/b\xff.jpg")
    ref = FileRef(path=path, size=10, mtime_ns=5, dev=1, ino=2)
    with Cache(tmp_path / "c.db") as cache:
        cache.store([FileEntry(ref, content_hash="h", facts=ImageFacts(4, 3, "JPEG", None, None))], None)
        found = cache.lookup([ref], None)
        assert list(found) == [path]
        assert list(cache.iter_paths()) == [path]


@pytest.mark.parametrize("embed", [False, True])
def test_scan_with_undecodable_names(tmp_path, capsys, embed):
    odd = _odd_library(tmp_path / "lib")
    out = tmp_path / "out.json"
    engine = ["--weights", "random"] if embed else ["--no-embed"]
    args = [
        "scan",
        str(tmp_path / "lib"),
        *engine,
        "-q",
        "--json",
        str(out),
        "--cache",
        str(tmp_path / "c.db"),
    ]
    assert cli.main(args) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    paths = {p["path"] for g in doc["groups"] for p in g["files"]}
    shown = odd.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    assert shown in paths and "\ufffd" in shown
    assert shown in capsys.readouterr().out
    # and again, from the cache
    assert cli.main(args) == 0
    assert shown in {p["path"] for g in json.loads(out.read_text())["groups"] for p in g["files"]}
