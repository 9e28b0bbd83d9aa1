"""Send files to the system trash (send2trash) and, where that trash is the freedesktop.org
one (Linux and BSD desktops), find them there again so undo can put them back.

On macOS and Windows the trash cannot be read back reliably: `send` returns None and undo
tells the user to restore from the system trash.
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote

from photofind.core.cleanup.fileops import move_no_overwrite

INFO_SUFFIX = ".trashinfo"
_NAME_MAX = 255  # bytes in one file name on the usual Linux file systems


class TrashError(OSError):
    """The file could not be put into, or taken out of, the trash."""


def home_trash() -> Path:
    """The user's own trash: $XDG_DATA_HOME/Trash (default ~/.local/share/Trash)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "Trash"


def _is_freedesktop() -> bool:
    return sys.platform not in ("darwin", "win32")


def _backend():
    """send2trash's function, with its freedesktop module told the trash of *now*: it reads
    XDG_DATA_HOME once at import, and we must look for files where they really went. It is
    send2trash's choice only on Linux and BSD without gio (gio, macOS and Windows find the
    trash themselves), and the function's module is the one place that choice shows."""
    import send2trash

    send_fn = send2trash.send2trash
    if send_fn.__module__ == "send2trash.plat_other":
        from send2trash import plat_other

        data_home = os.fsencode(str(home_trash().parent))
        if plat_other.XDG_DATA_HOME != data_home:
            plat_other.XDG_DATA_HOME = data_home
            plat_other.HOMETRASH_B = os.path.join(data_home, b"Trash")
            plat_other.HOMETRASH = os.fsdecode(plat_other.HOMETRASH_B)
    return send_fn


@lru_cache(maxsize=4096)  # one walk per folder, not per file
def _mount_point(path: str) -> str:
    path = os.path.realpath(path)
    while not os.path.ismount(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def _candidate_trashes(path: str) -> list[tuple[Path, str]]:
    """(trash dir, the folder its relative Path= entries start from), most likely first."""
    home = home_trash()
    found = [(home, str(home.parent))]
    top = _mount_point(os.path.dirname(path))
    uid = str(os.getuid()) if hasattr(os, "getuid") else "0"
    for trash in (Path(top) / ".Trash" / uid, Path(top) / f".Trash-{uid}"):
        found.append((trash, top))
    return found


@dataclass(frozen=True)
class _Entry:
    file: Path
    info: Path


def _entry(trash: Path, name: str) -> _Entry:
    return _Entry(trash / "files" / name, trash / "info" / (name + INFO_SUFFIX))


def _info_path(info: Path, topdir: str) -> str | None:
    """The original path an info file records, made absolute, or None if unreadable."""
    try:
        text = info.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Path="):
            # Percent-escaped bytes; a name that is not UTF-8 comes back as Python names it.
            value = unquote(line[5:].strip(), errors="surrogateescape")
            return value if os.path.isabs(value) else os.path.join(topdir, value)
    return None


def _same_place(a: str, b: str) -> bool:
    """Same path once the (still existing) parent folders are resolved."""

    def norm(p: str) -> str:
        return os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(p))), os.path.basename(p))

    return norm(a) == norm(b)


def _next_name(trash: Path, name: str) -> str:
    """The name send2trash's freedesktop code will give a file (it takes the first free one)."""
    stem, ext = os.path.splitext(name)
    candidate, n = name, 0
    while (trash / "files" / candidate).exists() or (trash / "info" / (candidate + INFO_SUFFIX)).exists():
        n += 1
        candidate = f"{stem} {n}{ext}"
    return candidate


def name_problem(path: str) -> str | None:
    """Why `path` cannot go to this trash, said before trying: a freedesktop trash records a
    file as "<name>.trashinfo", which must itself fit in a file name."""
    size = len(os.fsencode(os.path.basename(path)))
    if not _is_freedesktop() or size + len(INFO_SUFFIX) <= _NAME_MAX:
        return None
    return (
        f"its name is too long for the trash ({size} bytes; the trash takes up to "
        f"{_NAME_MAX - len(INFO_SUFFIX)}): use --act move to move it into a folder instead"
    )


def send(path: str) -> str | None:
    """Trash `path`. Returns where it now lies inside a freedesktop trash's files/ folder, or
    None when the trash in use cannot be located (restore it from the system trash then)."""
    path = os.path.abspath(path)
    send_fn = _backend()
    predicted: list[tuple[_Entry, str]] = []
    if _is_freedesktop():
        for trash, top in _candidate_trashes(path):
            predicted.append((_entry(trash, _next_name(trash, os.path.basename(path))), top))
    too_long = name_problem(path)
    if too_long:
        raise TrashError(errno.ENAMETOOLONG, too_long)
    try:
        send_fn(path)
    except OSError as exc:
        raise TrashError(exc.errno or 0, f"could not move to the trash: {exc}") from exc
    except Exception as exc:  # send2trash raises its own types on some platforms
        raise TrashError(0, f"could not move to the trash: {exc}") from exc
    for entry, top in predicted:
        if entry.file.exists() and _matches(entry.info, top, path):
            return str(entry.file)
    return find(path)


def _matches(info: Path, top: str, path: str) -> bool:
    recorded = _info_path(info, top)
    return recorded is not None and _same_place(recorded, path)


def find(path: str, size: int | None = None) -> str | None:
    """The newest entry of a freedesktop trash that was trashed from `path` (and has `size`),
    or None. Reads every info file of the candidate trashes: the slow path, used after a
    crash or when another trash implementation named the entry."""
    if not _is_freedesktop():
        return None
    path = os.path.abspath(path)
    best: tuple[str, str] | None = None
    for trash, top in _candidate_trashes(path):
        info_dir = trash / "info"
        try:
            names = os.listdir(info_dir)
        except OSError:
            continue
        for info_name in names:
            if not info_name.endswith(INFO_SUFFIX):
                continue
            info = info_dir / info_name
            entry = _entry(trash, info_name[: -len(INFO_SUFFIX)])
            if entry.file.exists() and _matches(info, top, path):
                if size is not None and _size(entry.file) != size:
                    continue
                stamp = _deletion_date(info)
                if best is None or stamp > best[0]:
                    best = (stamp, str(entry.file))
    return best[1] if best else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _deletion_date(info: Path) -> str:
    try:
        for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("DeletionDate="):
                return line[13:].strip()
    except OSError:
        pass
    return ""


def restore(trashed: str, original: str) -> None:
    """Move a trashed file back to `original` (never overwriting) and drop its info entry."""
    file = Path(trashed)
    info = file.parent.parent / "info" / (file.name + INFO_SUFFIX)
    if not file.exists():
        raise TrashError(2, f"{file} is no longer in the trash (emptied, or restored by hand?)")
    move_no_overwrite(file, original)
    try:
        info.unlink()
    except FileNotFoundError:
        pass
