"""Walk the user's folders and list the photo files in them, each exactly once."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from photofind.core.progress import NULL_PROGRESS, Phase, Progress, check_cancel
from photofind.core.scan.formats import PHOTO_EXTENSIONS
from photofind.core.types import FileRef, Skipped, SkipReason

# Trash folders (freedesktop per-volume, macOS, Windows): what is in them was thrown away,
# and offering it again as a duplicate would be wrong.
_TRASH_NAMES = frozenset((".trash", ".trashes", "$recycle.bin"))


@dataclass(frozen=True)
class Discovery:
    files: tuple[FileRef, ...]
    skipped: tuple[Skipped, ...]


def is_photo_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS


def is_trash_name(name: str) -> bool:
    return name.lower() in _TRASH_NAMES or name.startswith(".Trash-")


def _never_walked() -> set[tuple[int, int]]:
    """(device, inode) of the folders a scan never enters: the user's own trash and
    photofind's cache and data folders."""
    from photofind.paths import cache_dir, data_dir

    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    found = set()
    for folder in (os.path.join(data_home, "Trash"), cache_dir(), data_dir()):
        try:
            st = os.stat(folder)
        except OSError:
            continue
        found.add((st.st_dev, st.st_ino))
    return found


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

    A file reached twice (overlapping roots, a symlink, a hard link) is listed once, because
    acting on it twice would be wrong: a symbolic link is listed as the real file it points
    to, a file with several hard links under the first path in sort order. Directories are
    identified by (device, inode) so symlink loops end. Trash folders and photofind's own
    folders are never entered.
    """
    patterns = tuple(exclude)
    seen_dirs: set[tuple[int, int]] = _never_walked()
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
            # A root may name a single file (a link to one: the real file).
            real = os.path.realpath(directory) if os.path.islink(directory) else directory
            _add_file(real, st, seen_files, skipped)
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
                path = entry.path
                if entry.is_symlink():
                    if not follow_symlinks:
                        continue
                    path = os.path.realpath(path)  # list the real file, never the link
                if entry.is_dir():
                    if not is_trash_name(entry.name):
                        subdirs.append(path)
                elif entry.is_file() and is_photo_name(path):
                    _add_file(path, entry.stat(), seen_files, skipped)
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
    ref = FileRef(path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, st.st_nlink)
    # Hard links: keep the lexically first path so results are stable.
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
