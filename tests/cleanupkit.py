"""Helpers for the clean-up tests: tiny real photo files, scan data built straight from them,
and snapshots of a folder's bytes so a test can prove nothing changed."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import Image

from photofind.core.cleanup.keep import KeeperPolicy
from photofind.core.scan.hashing import content_hash_file
from photofind.core.types import (
    FileRef,
    Group,
    ImageFacts,
    ImageRecord,
    Member,
    ScanResult,
    ScanSettings,
    Tier,
)
from tests import imagefactory as factory


def photo(path: Path, seed: int, size: tuple[int, int] = (64, 48), **save_kwargs) -> Path:
    """A small, distinct photo per seed, written as the extension says."""
    return factory.save(factory.make_scene(seed, size), path, **save_kwargs)


def record(path: Path | str, taken: str | None = None) -> ImageRecord:
    """An ImageRecord exactly as a scan would make it (stat facts, content hash, dimensions)."""
    path = os.path.abspath(path)
    st = os.stat(path)
    with Image.open(path) as im:
        facts = ImageFacts(im.width, im.height, im.format or "", taken)
    ref = FileRef(path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, st.st_nlink)
    return ImageRecord(ref, content_hash_file(path), facts)


def fake_record(
    path: str,
    *,
    width: int = 100,
    height: int = 100,
    size: int = 1000,
    mtime_ns: int = 0,
    taken: str | None = None,
    fmt: str = "JPEG",
    chash: str | None = None,
) -> ImageRecord:
    """A record for keeper-rule tests, no file needed."""
    return ImageRecord(
        FileRef(path, size, mtime_ns), chash or f"hash-{path}", ImageFacts(width, height, fmt, taken)
    )


def result(
    records: Sequence[ImageRecord],
    groups: Iterable[tuple[Tier, Sequence[int]]],
    roots: Sequence[str | Path],
    protected: Sequence[str | Path] = (),
    rules: str = "",
) -> ScanResult:
    """A ScanResult with the given groups; each keeper is picked by the same policy a scan uses."""
    policy = KeeperPolicy.parse(rules, [str(p) for p in protected])
    built = []
    for n, (tier, indices) in enumerate(groups, start=1):
        keep = policy.pick(records, indices)
        members = (Member(keep, 1.0), *(Member(i, 0.95) for i in indices if i != keep))
        built.append(Group(n, tier, members, 0.95, 0.95))
    settings = ScanSettings(
        roots=tuple(str(r) for r in roots), protected=tuple(str(p) for p in protected), keep_rules=rules
    )
    return ScanResult(settings, tuple(records), (), tuple(built), None)


def snapshot(root: Path) -> dict[str, str]:
    """Relative path -> content hash of every file below `root`."""
    return {
        str(p.relative_to(root)): content_hash_file(str(p)) for p in sorted(root.rglob("*")) if p.is_file()
    }


def trash_entries(xdg_data_home: Path) -> list[str]:
    files = xdg_data_home / "Trash" / "files"
    return sorted(os.listdir(files)) if files.is_dir() else []
