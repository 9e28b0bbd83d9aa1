"""Open photos only when they are regular files.

Opening a named pipe for reading blocks until a writer appears (forever, for a stray FIFO
named pipe.jpg), and a device may never end. So files are opened without blocking and
checked with fstat on the open descriptor, which also covers a file swapped for a pipe
after the folder was listed.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import BinaryIO

if sys.platform == "win32":  # no FIFOs in folders there, and binary mode must be asked for
    _FLAGS = os.O_RDONLY | os.O_BINARY
else:
    _FLAGS = os.O_RDONLY | os.O_NONBLOCK

_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


class NotRegularFile(OSError):
    """The path names a pipe, a device, a socket or a folder, not a file with bytes in it."""


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """`open(path, "rb")` for a regular file; NotRegularFile (an OSError) for anything else."""
    fd = os.open(path, _FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a file")
            raise NotRegularFile(0, f"not a regular file ({kind})", os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str]) -> bytes:
    with open_regular(path) as fh:
        return fh.read()
