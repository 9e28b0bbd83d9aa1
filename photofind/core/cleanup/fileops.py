"""File moves and replacements that never overwrite and never leave half a file behind."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
from pathlib import Path

from photofind.core.scan.hashing import CHUNK


def free_path(path: str | os.PathLike[str], taken: set[str] | None = None) -> Path:
    """`path` if nothing is there (and not in `taken`), else "name (1).ext", "name (2).ext"..."""
    p = Path(path)
    candidate, n = p, 0
    while os.path.lexists(candidate) or (taken is not None and str(candidate) in taken):
        n += 1
        candidate = p.with_name(f"{p.stem} ({n}){p.suffix}")
    return candidate


def move_no_overwrite(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Move a file; FileExistsError if `dst` exists, even if it appears mid-move.

    Same volume: link then unlink, because rename would silently replace a file that appeared
    at `dst` after we looked. Across volumes: an exclusive-create copy, checked, then unlink.
    """
    src, dst = os.fspath(src), os.fspath(dst)
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno == errno.EXDEV:
            _copy_exclusive(src, dst)
        elif exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
            # A file system without hard links (FAT, some network shares): check, then rename.
            if os.path.lexists(dst):
                raise FileExistsError(errno.EEXIST, "destination exists", dst) from exc
            os.rename(src, dst)
            return
        else:
            raise
    os.unlink(src)


def _copy_exclusive(src: str, dst: str) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(src, dst)
        if os.path.getsize(dst) != os.path.getsize(src):
            raise OSError(errno.EIO, "copy is incomplete", dst)
    except BaseException:
        os.unlink(dst)
        raise


def replace_with_link(path: str, keeper: str) -> None:
    """Make `path` a hard link to `keeper` in one atomic step: either the old file or the
    link is at `path`, never nothing, even if the process dies."""
    tmp = _temp_name(path)
    os.link(keeper, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def restore_bytes(source: str, path: str, expected_hash: str, mtime_ns: int, mode: int | None) -> None:
    """Write `source`'s bytes to `path` as a new file of its own (atomic replace), after
    checking they hash to `expected_hash`; the original mtime and mode are put back."""
    tmp = _temp_name(path)
    try:
        h = hashlib.blake2b(digest_size=20)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as out, open(source, "rb") as inp:
            while chunk := inp.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if h.hexdigest() != expected_hash:
            raise ValueError(f"{source} no longer holds the original bytes")
        if mode is not None:
            os.chmod(tmp, mode)
        os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _temp_name(path: str) -> str:
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.photofind-{uuid.uuid4().hex[:8]}.tmp")
