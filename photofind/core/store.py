"""Open a small versioned SQLite store in the data dir (the undo journal, remembered decisions).

Unlike the cache, these files hold what cannot be recomputed, so a broken one is moved aside
(never deleted) and the caller gets a warning to show the user.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path


class StoreError(Exception):
    """The store could not be opened or created at all (for example, no permission)."""


def open_store(
    path: str | os.PathLike[str],
    app_id: str,
    version: int,
    schema: str,
    warnings: list[str],
    *,
    synchronous: str = "FULL",
    consequence: str = "",
) -> sqlite3.Connection:
    """A connection to `path`, created with `schema` if new. An unusable file (corrupt, another
    app's, another schema version) is renamed to `*.broken-<time>` and a fresh one started;
    `consequence` tells the user what that costs. `synchronous` NORMAL suits data that can
    be recomputed (the cache); FULL, what cannot."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    try:
        return _open(target, app_id, version, schema, synchronous)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            raise StoreError(f"cannot open {target}: {exc}") from exc
        moved = _move_aside(target)
        warnings.append(
            f"{target} was unusable ({exc}); it was moved to {moved} and a new one "
            f"started.{' ' + consequence if consequence else ''}"
        )
        try:
            return _open(target, app_id, version, schema, synchronous)
        except sqlite3.DatabaseError as again:
            raise StoreError(f"cannot open {target}: {again}") from again


def _open(path: Path, app_id: str, version: int, schema: str, synchronous: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # FULL (the default): a record written before a file is touched must survive a power
        # cut, not just a crash of this process.
        db.execute(f"PRAGMA synchronous={'NORMAL' if synchronous == 'NORMAL' else 'FULL'}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            db.execute("BEGIN IMMEDIATE")
            for statement in schema.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?)",
                [("app", app_id), ("schema", str(version)), ("created", str(time.time()))],
            )
            db.execute("COMMIT")
            return db
        meta = dict(db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if meta.get("app") != app_id:
            raise sqlite3.DatabaseError(f"not a {app_id} database")
        if meta.get("schema") != str(version):
            raise sqlite3.DatabaseError(f"schema {meta.get('schema')} != {version}")
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")
        return db
    except BaseException:
        db.close()
        raise


def _move_aside(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = path.with_name(f"{path.name}.broken-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(str(path) + suffix)
        if src.exists():
            os.replace(src, Path(str(moved) + suffix))
    return moved


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
