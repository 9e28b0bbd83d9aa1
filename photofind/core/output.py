"""Report files (JSON, CSV): checked before a scan starts, written whole or not at all, and
readable whatever bytes the paths in them hold.

A Linux file name may hold bytes that are not UTF-8; Python carries them as lone surrogates,
which no UTF-8 stream accepts. They are shown as U+FFFD (REPLACE), so a report or a summary
never fails over one odd name.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

REPLACE = "photofind-replace"


def _replace(exc: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    try:  # bytes: the UTF-8 encoder takes only ASCII as a text replacement
        mark = "\ufffd".encode(exc.encoding)
    except UnicodeEncodeError:
        mark = b"?"
    return mark * (exc.end - exc.start), exc.end


codecs.register_error(REPLACE, _replace)


def shown(path: str) -> str:
    """`path` as a person reads it: bytes that are not UTF-8 become U+FFFD."""
    return path.encode("utf-8", REPLACE).decode("utf-8")


def output_problem(target: str) -> str | None:
    """Why `target` ('-' is stdout) cannot take a report, found before any work is done."""
    if target == "-":
        return None
    path = Path(target)
    if path.is_dir():
        return f"{target} is a folder; give a file name"
    folder = path.parent
    if not folder.exists():
        return f"cannot write {target}: the folder {folder} does not exist"
    if not folder.is_dir():
        return f"cannot write {target}: {folder} is not a folder"
    if path.exists() and not os.access(path, os.W_OK):
        return f"cannot write {target}: permission denied"
    if path.exists() and not path.is_file():
        return None  # /dev/null, a pipe (`--json >(jq ...)`): written to directly
    try:  # the same kind of file the real write will create, then gone
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as exc:
        return f"cannot write {target}: {exc.strerror or exc}"
    return None


def write_text_atomic(text: str, target: str | os.PathLike[str]) -> None:
    """Write `text` to `target` through a temporary file renamed into place, so readers never
    see half a file; on failure (a full disk) the temporary file is removed and OSError raised."""
    path = Path(target)
    if path.exists() and not path.is_file():  # never replace /dev/null or a pipe with a file
        with open(path, "w", encoding="utf-8", errors=REPLACE) as fh:
            fh.write(text)
        return
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8", errors=REPLACE) as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())  # a full disk shows here, not after the rename
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
