"""Walk the user's folders and list the photo files in them, each exactly once."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.scan.rawfiles import RAW_EXTENSIONS
from photofind.core.types import FileRef, Skipped, SkipReason

PHOTO_EXTENSIONS = (
    frozenset(".jpg .jpeg .jpe .png .webp .tif .tiff .bmp .gif .heic .heif .avif".split()) | RAW_EXTENSIONS
)


@dataclass(frozen=True)
class Discovery:
    files: tuple[FileRef, ...]
    skipped: tuple[Skipped, ...]


def is_photo_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS


def _excluded(path: str, name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(path, p) for p in patterns)


def discover(
    roots: Iterable[str | os.PathLike[str]],
    *,
    exclude: Iterable[str] = (),
    include_hidden: bool = False,
    follow_symlinks: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> Discovery:
    """Return every photo under `roots`, sorted by path.

    A file reached twice (overlapping roots, a symlink, a hard link) is listed once, under
    the first path in sort order, because acting on it twice would be wrong. Directories
    are identified by (device, inode) so symlink loops end.
    """
    patterns = tuple(exclude)
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: dict[tuple[int, int], FileRef] = {}
    skipped: list[Skipped] = []
    stack = sorted({os.path.abspath(os.fspath(r)) for r in roots}, reverse=True)

    while stack:
        check_cancel(progress)
        directory = stack.pop()
        try:
            st = os.stat(directory)
        except OSError as exc:
            skipped.append(_skip_for(directory, exc))
            continue
        if not stat.S_ISDIR(st.st_mode):
            # A root may name a single file.
            _add_file(directory, st, seen_files, skipped)
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            skipped.append(_skip_for(directory, exc))
            continue
        subdirs = []
        for entry in entries:
            if not include_hidden and entry.name.startswith("."):
                continue
            if patterns and _excluded(entry.path, entry.name, patterns):
                continue
            try:
                if entry.is_symlink() and not follow_symlinks:
                    continue
                if entry.is_dir():
                    subdirs.append(entry.path)
                elif entry.is_file() and is_photo_name(entry.name):
                    _add_file(entry.path, entry.stat(), seen_files, skipped)
            except OSError as exc:
                skipped.append(_skip_for(entry.path, exc))
        stack.extend(reversed(subdirs))
        progress.update(Phase.DISCOVER, len(seen_files), None)

    files = tuple(sorted(seen_files.values(), key=lambda f: f.path))
    return Discovery(files=files, skipped=tuple(sorted(skipped, key=lambda s: s.path)))


def _add_file(
    path: str, st: os.stat_result, seen: dict[tuple[int, int], FileRef], skipped: list[Skipped]
) -> None:
    if not os.access(path, os.R_OK):
        skipped.append(Skipped(path, SkipReason.PERMISSION, "no permission to read the file"))
        return
    key = (st.st_dev, st.st_ino)
    ref = FileRef(path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, dev=st.st_dev, ino=st.st_ino)
    # Symlinks resolve to the real file; keep the lexically first path so results are stable.
    if key not in seen or path < seen[key].path:
        seen[key] = ref


def _skip_for(path: str, exc: OSError) -> Skipped:
    if isinstance(exc, PermissionError):
        return Skipped(path, SkipReason.PERMISSION, "no permission to read")
    return Skipped(path, SkipReason.UNREADABLE, exc.strerror or str(exc))


def under(path: str, folder: str) -> bool:
    """True if `path` is `folder` or inside it (no symlink resolution, by path components)."""
    p, f = Path(path), Path(folder)
    return p == f or f in p.parents
