"""The undo journal: every clean-up batch, written to SQLite before any file is touched, with
each file's outcome recorded after. It lives in the data dir, outlives restarts, and is what
`photofind undo` and `photofind history` read.

Paths are kept by `path_key`: a name that is not UTF-8 as its raw bytes, every other one as the
text older versions wrote and read. The batch details are JSON, whose escapes carry such names
exactly; reasons and undo details are prose for the user, kept with U+FFFD for those bytes."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photofind.core.output import shown
from photofind.core.store import SQLiteStore, Transaction, path_from_key, path_key
from photofind.paths import default_journal_path

if TYPE_CHECKING:
    from photofind.core.cleanup.actions import Plan

SCHEMA_VERSION = 1
APP_ID = "photofind-journal"

_SCHEMA = """
CREATE TABLE batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    action TEXT NOT NULL,
    created REAL NOT NULL,
    finished REAL,
    cancelled INTEGER NOT NULL DEFAULT 0,
    undone REAL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    details TEXT NOT NULL
);
CREATE TABLE items (
    batch_id INTEGER NOT NULL REFERENCES batches(id),
    seq INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    tier TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    keeper_path TEXT NOT NULL,
    keeper_hash TEXT NOT NULL,
    target TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    location TEXT,
    mode INTEGER,
    acted REAL,
    undo_status TEXT,
    undo_detail TEXT,
    PRIMARY KEY (batch_id, seq)
)
"""

_GROUP_COMMIT_ROWS = 64
_GROUP_COMMIT_SECONDS = 0.25
PLANNED = "planned"  # written before acting; after a crash it means "maybe acted"


@dataclass(frozen=True)
class JournalItem:
    batch_id: int
    seq: int
    group_id: int
    tier: str
    action: str
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    keeper_path: str
    keeper_hash: str
    target: str | None  # planned destination of a move
    status: str  # planned | done | skipped | failed | cancelled
    reason: str
    location: str | None  # where the file went: trash entry, move destination, keeper
    mode: int | None
    undo_status: str | None
    undo_detail: str | None


@dataclass(frozen=True)
class BatchInfo:
    id: int
    action: str
    created: float
    finished: float | None
    cancelled: bool
    undone: float | None
    details: dict[str, Any]
    counts: dict[str, int]  # status -> number of files
    bytes_done: int
    running: bool = False  # unfinished, and the process that runs it is alive
    undo_counts: dict[str, int] = field(default_factory=dict)  # undo status -> number of files

    @property
    def state(self) -> str:
        if self.undone is not None:
            restored = self.undo_counts.get("restored", 0) + self.undo_counts.get("already-restored", 0)
            if self.undo_counts.get("manual"):
                # Undo did all it could, yet files remain gone (deleted for good, or to be
                # taken back from a system trash by hand): do not call that "undone".
                return "partly undone" if restored else "not restorable"
            return "undone"
        if self.finished is None:
            return "running" if self.running else "interrupted"
        return "cancelled" if self.cancelled else "done"

    @property
    def files(self) -> int:
        return sum(self.counts.values())


class Journal(SQLiteStore):
    """Thread-safe; one connection shared under a lock (the GUI acts from a worker thread)."""

    APP_ID = APP_ID
    SCHEMA_VERSION = SCHEMA_VERSION
    SCHEMA = _SCHEMA

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path or default_journal_path())
        self._pending: list[tuple[str, tuple]] = []
        self._flushed = time.monotonic()

    def close(self) -> None:
        with self._lock:
            self.flush()
            super().close()

    # -- writing, by the executor -------------------------------------------------------------

    def begin(self, plan: Plan) -> int:
        """Record the whole batch in one transaction, before any file is touched."""
        details = {
            "protected": list(plan.protected),
            "move_to": plan.move_to,
            "files": len(plan.items),
            "bytes": plan.bytes,
            # Companions taken along with their photo (seq, kind, photo path): one unit, one batch.
            "companions": [
                [seq, it.kind, it.companion_of] for seq, it in enumerate(plan.items) if it.companion_of
            ],
        }
        with self._lock, Transaction(self._db):
            cur = self._db.execute(
                "INSERT INTO batches(action, created, pid, host, details) VALUES (?, ?, ?, ?, ?)",
                (plan.action.value, time.time(), os.getpid(), socket.gethostname(), json.dumps(details)),
            )
            assert cur.lastrowid is not None  # set by every INSERT
            batch = cur.lastrowid
            self._db.executemany(
                "INSERT INTO items(batch_id, seq, group_id, tier, path, size, mtime_ns, dev, ino,"
                " content_hash, keeper_path, keeper_hash, target, status, mode)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        batch,
                        seq,
                        it.group_id,
                        it.tier,
                        path_key(it.file.path),
                        it.file.size,
                        it.file.mtime_ns,
                        it.file.dev,
                        it.file.ino,
                        it.content_hash,
                        path_key(it.keeper.path),
                        it.keeper_hash,
                        path_key(it.target),
                        PLANNED,
                        _mode(it.file.path),
                    )
                    for seq, it in enumerate(plan.items)
                ],
            )
        return batch

    def set_sidecars(self, batch: int, sidecars: list[dict[str, Any]]) -> None:
        """The batch's XMP sidecar writes (photofind.core.cleanup.sidecar_write) as they stand
        now: committed at once, because undo must know of a sidecar before it is touched."""
        with self._lock:
            self.flush()
            row = self._db.execute("SELECT details FROM batches WHERE id = ?", (batch,)).fetchone()
            details = json.loads(row[0]) if row else {}
            details["sidecars"] = sidecars
            self._db.execute("UPDATE batches SET details = ? WHERE id = ?", (json.dumps(details), batch))

    def sidecar_backups(self, batch: int) -> Path:
        """Where the previous bytes of a batch's rewritten sidecars are kept until undone."""
        return self.path.parent / "sidecar-backups" / f"batch-{batch}"

    def set_target(self, batch: int, seq: int, target: str) -> None:
        """A move's destination changed at the last moment (a file appeared there): written
        at once, before the move, so undo knows where to look."""
        with self._lock:
            self.flush()
            self._db.execute(
                "UPDATE items SET target = ? WHERE batch_id = ? AND seq = ?", (path_key(target), batch, seq)
            )

    def record(
        self,
        batch: int,
        seq: int,
        status: str,
        reason: str = "",
        location: str | None = None,
        mode: int | None = None,
    ) -> None:
        """An outcome. Outcomes are committed in groups (a synced commit per file would cost
        more than the file operation itself); one lost in a crash is recovered by undo, which
        looks at the files, not at the status."""
        self._queue(
            "UPDATE items SET status = ?, reason = ?, location = ?, mode = COALESCE(?, mode), acted = ?"
            " WHERE batch_id = ? AND seq = ?",
            (status, shown(reason), path_key(location), mode, time.time(), batch, seq),
        )

    def finish(self, batch: int, cancelled: bool) -> None:
        with self._lock:
            self.flush()
            self._db.execute(
                "UPDATE batches SET finished = ?, cancelled = ? WHERE id = ?",
                (time.time(), int(cancelled), batch),
            )

    # -- undo bookkeeping -----------------------------------------------------------------------

    def set_undo(self, batch: int, seq: int, status: str, detail: str = "") -> None:
        """Grouped like `record`: undo re-examines files, so a lost status only costs a look."""
        self._queue(
            "UPDATE items SET undo_status = ?, undo_detail = ? WHERE batch_id = ? AND seq = ?",
            (status, shown(detail), batch, seq),
        )

    def set_undone(self, batch: int) -> None:
        with self._lock:
            self.flush()
            self._db.execute("UPDATE batches SET undone = ? WHERE id = ?", (time.time(), batch))

    def _queue(self, sql: str, params: tuple) -> None:
        with self._lock:
            self._pending.append((sql, params))
            if (
                len(self._pending) >= _GROUP_COMMIT_ROWS
                or time.monotonic() - self._flushed > _GROUP_COMMIT_SECONDS
            ):
                self.flush()

    def flush(self) -> None:
        """Commit queued outcomes in one transaction."""
        with self._lock:
            self._flushed = time.monotonic()
            if not self._pending:
                return
            pending, self._pending = self._pending, []
            with Transaction(self._db):
                for sql, params in pending:
                    self._db.execute(sql, params)

    # -- reading ---------------------------------------------------------------------------------

    def batches(self, limit: int | None = None) -> list[BatchInfo]:
        """Newest first."""
        with self._lock:
            self.flush()
            rows = self._db.execute(
                "SELECT id, action, created, finished, cancelled, undone, details, pid, host FROM batches"
                " ORDER BY id DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
            return [self._info(row) for row in rows]

    def batch(self, batch_id: int) -> BatchInfo | None:
        with self._lock:
            self.flush()
            row = self._db.execute(
                "SELECT id, action, created, finished, cancelled, undone, details, pid, host FROM batches"
                " WHERE id = ?",
                (batch_id,),
            ).fetchone()
            return None if row is None else self._info(row)

    def last_undoable(self) -> int | None:
        """The newest batch not yet fully undone."""
        with self._lock:
            self.flush()
            row = self._db.execute("SELECT MAX(id) FROM batches WHERE undone IS NULL").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def items(self, batch_id: int) -> list[JournalItem]:
        with self._lock:
            self.flush()
            action_row = self._db.execute("SELECT action FROM batches WHERE id = ?", (batch_id,)).fetchone()
            if action_row is None:
                return []
            rows = self._db.execute(
                "SELECT batch_id, seq, group_id, tier, path, size, mtime_ns, content_hash, keeper_path,"
                " keeper_hash, target, status, reason, location, mode, undo_status, undo_detail"
                " FROM items WHERE batch_id = ? ORDER BY seq",
                (batch_id,),
            ).fetchall()
        action = action_row[0]
        return [
            JournalItem(
                r[0],
                r[1],
                r[2],
                r[3],
                action,
                path_from_key(r[4]),
                r[5],
                r[6],
                r[7],
                path_from_key(r[8]),
                r[9],
                path_from_key(r[10]),
                r[11],
                r[12],
                path_from_key(r[13]),
                r[14],
                r[15],
                r[16],
            )
            for r in rows
        ]

    def _info(self, row: tuple) -> BatchInfo:
        batch_id, action, created, finished, cancelled, undone, details, pid, host = row
        counts = dict(
            self._db.execute(
                "SELECT status, COUNT(*) FROM items WHERE batch_id = ? GROUP BY status", (batch_id,)
            ).fetchall()
        )
        undo_counts = dict(
            self._db.execute(
                "SELECT undo_status, COUNT(*) FROM items WHERE batch_id = ? AND undo_status IS NOT NULL"
                " GROUP BY undo_status",
                (batch_id,),
            ).fetchall()
        )
        done_bytes = self._db.execute(
            "SELECT COALESCE(SUM(size), 0) FROM items WHERE batch_id = ? AND status = 'done'", (batch_id,)
        ).fetchone()[0]
        try:
            parsed = json.loads(details)
        except ValueError:
            parsed = {}
        running = finished is None and _alive(pid, host)
        return BatchInfo(
            batch_id,
            action,
            created,
            finished,
            bool(cancelled),
            undone,
            parsed,
            counts,
            int(done_bytes),
            running,
            undo_counts,
        )


def _mode(path: str) -> int | None:
    """The permission bits undo must give a file back. Taken when the batch is written, before
    anything is touched: an outcome, and the mode it carries, can be lost to a kill."""
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return None


def _alive(pid: int, host: str) -> bool:
    """Is the process that wrote a batch still running? (Unknown on another host: assume not.)"""
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, ValueError):
        return False
    return True
