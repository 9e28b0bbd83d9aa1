"""Walk the user's folders and list the photo files in them, each exactly once."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator
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
    seen_files: dict[tuple[int, int], FileRef] = {}
    skipped: list[Skipped] = []
    for path, entry in _walk(roots, tuple(exclude), include_hidden, follow_symlinks, progress, skipped):
        if isinstance(entry, os.stat_result):
            _add_file(path, entry, seen_files, skipped)
            continue
        try:
            st = entry.stat()  # a link's: the real file's
        except OSError as exc:
            skipped.append(_skip_for(entry.path, exc))
            continue
        _add_file(path, st, seen_files, skipped)
    files = tuple(sorted(seen_files.values(), key=lambda f: f.path))
    return Discovery(files=files, skipped=tuple(sorted(skipped, key=lambda s: s.path)))


def photo_paths(
    roots: Iterable[str | os.PathLike[str]],
    *,
    exclude: Iterable[str] = (),
    include_hidden: bool = False,
    follow_symlinks: bool = True,
    progress: Progress = NULL_PROGRESS,
) -> list[str]:
    """The paths of the photos discover() lists, sorted, found by name: no file is stat'ed
    (a folder's entries say which are files), so 10,000 photos cost a few folder reads
    instead of 10,000 stats. For a query that trusts the cache for the files it knows
    (core/query.py). Unlike discover(), a file is not checked for read permission, and a
    file with several hard links is listed under each name (telling them apart takes a stat)."""
    skipped: list[Skipped] = []
    walked = _walk(roots, tuple(exclude), include_hidden, follow_symlinks, progress, skipped)
    return sorted({path for path, _entry in walked})


def _walk(
    roots: Iterable[str | os.PathLike[str]],
    patterns: tuple[str, ...],
    include_hidden: bool,
    follow_symlinks: bool,
    progress: Progress,
    skipped: list[Skipped],
) -> Iterator[tuple[str, os.DirEntry[str] | os.stat_result]]:
    """(path, its folder entry) of each photo file under `roots`, a link's path being the
    real file's; a root that names a file comes with its stat. Folders that cannot be read
    are added to `skipped`."""
    seen_dirs: set[tuple[int, int]] = _never_walked()
    stack = sorted({os.path.abspath(os.fspath(r)) for r in roots}, reverse=True)
    found = 0
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
            found += 1
            yield (os.path.realpath(directory) if os.path.islink(directory) else directory), st
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
        files = []
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
                    files.append((path, entry))
            except OSError as exc:
                skipped.append(_skip_for(entry.path, exc))
        yield from files
        found += len(files)
        stack.extend(reversed(subdirs))
        progress.update(Phase.DISCOVER, found, None)


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
