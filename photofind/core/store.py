"""Open a small versioned SQLite store: the scan cache, the undo journal, remembered decisions.

A store is ours only if it says so: every store is stamped with an SQLite application_id
(and a `meta` table naming the app). A path that holds anything else (a photo, a folder,
another program's database) is refused and left exactly as it was. One of ours that fails an
integrity check, or has another schema version, is moved aside (never deleted) and the
caller gets a warning to show the user. An I/O error (disk full, read-only, locked) says
nothing about the file: it is reported as a StoreError and the file is left alone.

The integrity check (`PRAGMA quick_check`) reads every page, so it runs at open only for the
stores that must not lose data (the journal, the decisions; a few hundred KB). The scan cache
can reach a gigabyte: it gets only the checks that cost nothing (header, stamp, meta, schema
version) and finds damage in the pages it reads as it goes (`is_corruption`, `move_aside`).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
import zlib
from pathlib import Path
from typing import ClassVar, TypeVar, overload

_MAGIC = b"SQLite format 3\x00"
_HEADER = 100
_APPLICATION_ID_AT = 68  # offset of the application_id in the database header
# SQLite result codes (sqlite3 names them only from Python 3.11). Only CORRUPT and NOTADB mean
# "the file itself is damaged"; every other error (FULL, READONLY, BUSY, LOCKED, IOERR,
# CANTOPEN...) is the disk or another process.
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_CORRUPT, _SQLITE_NOTADB = 5, 6, 11, 26
_CORRUPTION_MESSAGES = ("file is not a database", "database disk image is malformed")
BROKEN_SUFFIX = ".broken-"
_LOCK_WAIT_SECONDS = 30  # as long as statements wait for another process's lock


class StoreError(Exception):
    """The store could not be opened or created (no permission, disk full, locked), or the
    path holds something that is not ours, which was left untouched."""


class _Broken(Exception):
    """One of our stores is damaged or of another schema version: move it aside."""


def application_id(app_id: str) -> int:
    """The 31-bit number stamped into the header of every `app_id` store."""
    return zlib.crc32(app_id.encode()) & 0x7FFFFFFF


def _label(app_id: str) -> str:
    return app_id.replace("-", " ")  # "photofind-cache" -> "photofind cache"


def open_store(
    path: str | os.PathLike[str],
    app_id: str,
    version: int,
    schema: str,
    warnings: list[str],
    *,
    synchronous: str = "FULL",
    consequence: str = "",
    quick_check: bool = True,
) -> sqlite3.Connection:
    """A connection to `path`, created with `schema` if new. Ours but unusable (corrupt,
    another schema version): renamed to `*.broken-<time>` and a fresh one started;
    `consequence` tells the user what that costs. `synchronous` NORMAL suits data that can
    be recomputed (the cache); FULL, what cannot. `quick_check` False skips the whole-file
    integrity check: the caller then treats `is_corruption` errors met in use as damage."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    _refuse_if_not_ours(target, app_id)
    try:
        return _open(target, app_id, version, schema, synchronous, quick_check)
    except _Broken as exc:
        moved = move_aside(target)
        warnings.append(
            f"{target} was unusable ({exc}); it was moved to {moved} and a new one "
            f"started.{' ' + consequence if consequence else ''}"
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {target}: {exc}") from exc
    try:
        return _open(target, app_id, version, schema, synchronous, quick_check)
    except (_Broken, sqlite3.Error) as again:
        raise StoreError(f"cannot open {target}: {again}") from again


def _refuse_if_not_ours(path: Path, app_id: str) -> None:
    """StoreError unless `path` is absent, empty, or an SQLite file that may be ours (its
    header carries our application_id, or none, as stores made before the stamp)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot open {path}: {exc.strerror or exc}") from exc
    kind = _label(app_id)
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{path} is a folder, not a {kind} file")
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path} is not a regular file, so it cannot be a {kind}")
    if st.st_size == 0:
        return
    try:
        with open(path, "rb") as fh:
            header = fh.read(_HEADER)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(header) < _HEADER or not header.startswith(_MAGIC):
        raise StoreError(f"{path} is not a {kind} (not an SQLite database); it was left untouched")
    stamped = int.from_bytes(header[_APPLICATION_ID_AT : _APPLICATION_ID_AT + 4], "big")
    if stamped not in (0, application_id(app_id)):
        raise StoreError(f"{path} is another program's database, not a {kind}; it was left untouched")


def _open(
    path: Path, app_id: str, version: int, schema: str, synchronous: str, quick_check: bool
) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=_LOCK_WAIT_SECONDS)
    try:
        try:
            _use_wal(db)
            # FULL (the default): a record written before a file is touched must survive a
            # power cut, not just a crash of this process.
            db.execute(f"PRAGMA synchronous={'NORMAL' if synchronous == 'NORMAL' else 'FULL'}")
            if not _tables(db):
                _create(db, app_id, version, schema)
            _check(db, path, app_id, version, quick_check)
        except sqlite3.DatabaseError as exc:
            if is_corruption(exc):
                raise _Broken(str(exc)) from exc
            raise
        return db
    except BaseException:
        db.close()
        raise


def is_corruption(exc: sqlite3.Error) -> bool:
    """Whether `exc` says the file itself is damaged (not the disk, a lock, or a full disk)."""
    return _result_code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def _result_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of `exc`. Python 3.11+ carries it on errors that came
    from SQLite; on 3.10, the two corruption codes are known by their fixed messages."""
    code = getattr(exc, "sqlite_errorcode", None)  # absent before 3.11 and on the module's own errors
    if code is not None:
        return int(code) & 0xFF
    if str(exc) == _CORRUPTION_MESSAGES[0]:
        return _SQLITE_NOTADB
    if str(exc) == _CORRUPTION_MESSAGES[1]:
        return _SQLITE_CORRUPT
    return None


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. The switch does not wait for a lock the way statements do: while another
    process creates the same new file, it reports "locked" at once, so try again for a while."""
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = _result_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _create(db: sqlite3.Connection, app_id: str, version: int, schema: str) -> None:
    """Create the schema under a write lock, looking again once it is held: two processes
    that both found an empty file must not both create it (the second would fail)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if not _tables(db):
            for statement in schema.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [("app", app_id), ("schema", str(version)), ("created", str(time.time()))],
            )
            db.execute(f"PRAGMA application_id = {application_id(app_id)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _check(db: sqlite3.Connection, path: Path, app_id: str, version: int, quick_check: bool) -> None:
    tables = _tables(db)
    meta = dict(db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
    if meta.get("app") != app_id:
        # An SQLite file without our stamp or our meta table is someone else's: leave it.
        raise StoreError(
            f"{path} is another program's database, not a {_label(app_id)}; it was left untouched"
        )
    if meta.get("schema") != str(version):
        raise _Broken(f"schema {meta.get('schema')} != {version}")
    if quick_check and db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
        raise _Broken("integrity check failed")
    if db.execute("PRAGMA application_id").fetchone()[0] == 0:
        try:  # a store made before the stamp: stamp it now (a read-only one stays as it is)
            db.execute(f"PRAGMA application_id = {application_id(app_id)}")
        except sqlite3.OperationalError:
            pass


def move_aside(path: Path) -> Path:
    """Rename a broken store of ours (with its -wal and -shm) to `*.broken-<time>`. Close
    every connection to it first: Windows refuses to rename a file that is open."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = path.with_name(f"{path.name}{BROKEN_SUFFIX}{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, Path(str(moved) + suffix))
    return moved


def moved_aside(path: str | os.PathLike[str]) -> list[Path]:
    """Earlier stores that were moved aside from `path`, newest first."""
    target = Path(path)
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    prefix = target.name + BROKEN_SUFFIX
    found = [n for n in names if n.startswith(prefix) and not n.endswith(("-wal", "-shm"))]
    return [target.parent / n for n in sorted(found, reverse=True)]


def remove_store(path: str | os.PathLike[str], app_id: str) -> bool:
    """Delete the store at `path` (with its -wal and -shm files) after proving it is an
    `app_id` store; False if there is nothing there. StoreError, touching nothing, for
    anything else: a photo, a folder, another program's database, one that cannot be read."""
    target = Path(path)
    if not os.path.lexists(target):
        return False
    _refuse_if_not_ours(target, app_id)
    _prove_ours(target, app_id)  # an empty file too: nothing says it is ours
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    return True


def _prove_ours(path: Path, app_id: str) -> None:
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            stamped = db.execute("PRAGMA application_id").fetchone()[0]
            tables = _tables(db)
            app = (
                db.execute("SELECT value FROM meta WHERE key = 'app'").fetchone()
                if "meta" in tables
                else None
            )
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise StoreError(
            f"cannot tell whether {path} is a {_label(app_id)} ({exc}); it was left untouched"
        ) from exc
    if not tables:
        raise StoreError(f"{path} is empty, not a {_label(app_id)}; it was left untouched")
    if stamped != application_id(app_id) and (app is None or app[0] != app_id):
        raise StoreError(
            f"{path} is another program's database, not a {_label(app_id)}; it was left untouched"
        )


@overload
def path_key(path: str) -> str | bytes: ...
@overload
def path_key(path: None) -> None: ...
def path_key(path: str | None) -> str | bytes | None:
    """How every store keeps a path: as text when it is valid UTF-8, else as its raw bytes (a
    file name on Linux may hold any bytes; Python carries them as lone surrogates, which
    SQLite's text cannot hold). The two never collide: a BLOB never equals a TEXT in SQLite.
    Only such names become BLOBs, so a store stays readable by versions that knew only text."""
    if path is None:
        return None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path)
    return path


@overload
def path_from_key(key: str | bytes) -> str: ...
@overload
def path_from_key(key: None) -> None: ...
def path_from_key(key: str | bytes | None) -> str | None:
    """The path `path_key` stored, exactly as the file system names it."""
    return os.fsdecode(key) if isinstance(key, bytes) else key


class Transaction:
    """`with Transaction(db):` one IMMEDIATE transaction, rolled back on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_: object) -> None:
        if not exc_type:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # SQLite already rolled back after a full disk or I/O error
            self._db.execute("ROLLBACK")


_Store = TypeVar("_Store", bound="SQLiteStore")


class SQLiteStore:
    """What every store shares: opening (see `open_store`), the warnings to show, one
    connection under a lock (the GUI works from threads), closing, `with`."""

    APP_ID: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]
    SCHEMA: ClassVar[str]
    SYNCHRONOUS: ClassVar[str] = "FULL"
    CONSEQUENCE: ClassVar[str] = ""  # what moving a broken one aside costs the user
    QUICK_CHECK: ClassVar[bool] = True  # the whole-file integrity check at open (see the module)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []
        self._lock = threading.RLock()
        self._db = open_store(
            self.path,
            self.APP_ID,
            self.SCHEMA_VERSION,
            self.SCHEMA,
            self.warnings,
            synchronous=self.SYNCHRONOUS,
            consequence=self.CONSEQUENCE,
            quick_check=self.QUICK_CHECK,
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
