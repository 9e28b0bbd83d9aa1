"""SQLite cache of everything a scan learns, so an unchanged file is never read twice.

Files are keyed by path and invalidated by (size, mtime_ns). What depends only on the bytes
(image facts, hashes, embeddings) is keyed by content hash, so a byte-identical copy, or a
file that was renamed, reuses it. Embeddings are also keyed by model id: they are only
comparable within one model, and carry a checksum: damaged bytes are recomputed, never used.
A cache of ours that is corrupt or of an older schema is moved aside and rebuilt; anything else
at the path is refused (photofind.core.store).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from photofind.core.scan.hashing import from_signed64, to_signed64
from photofind.core.store import SQLiteStore, Transaction, path_from_key, path_key
from photofind.core.types import FileRef, ImageFacts, Skipped, SkipReason

SCHEMA_VERSION = 2  # 2: images.frames; embeddings.checksum
APP_ID = "photofind-cache"
_CHUNK = 500  # bound parameters per IN (...) query; SQLite's default limit is far higher

_SCHEMA = """
CREATE TABLE files (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    content_hash TEXT,
    skip_reason TEXT,
    skip_detail TEXT
);
CREATE INDEX files_by_hash ON files(content_hash);
CREATE TABLE images (
    content_hash TEXT PRIMARY KEY,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    format TEXT NOT NULL,
    taken TEXT,
    camera TEXT,
    phash INTEGER,
    thumb BLOB,
    frames INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE embeddings (
    content_hash TEXT NOT NULL,
    model_id TEXT NOT NULL,
    vector BLOB NOT NULL,
    checksum INTEGER NOT NULL,
    PRIMARY KEY (content_hash, model_id)
);
CREATE TABLE blobs (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""


@dataclass(frozen=True)
class CachedFile:
    """What the cache knows about an unchanged file."""

    content_hash: str | None
    facts: ImageFacts | None
    phash: int | None
    skipped: Skipped | None
    embedding: np.ndarray | None


@dataclass(frozen=True)
class FileEntry:
    """One file's results, written atomically with its image row and embedding."""

    file: FileRef
    content_hash: str | None = None
    facts: ImageFacts | None = None
    phash: int | None = None
    thumb: bytes | None = None
    skipped: Skipped | None = None
    embedding: np.ndarray | None = None


class Cache(SQLiteStore):
    APP_ID = APP_ID
    SCHEMA_VERSION = SCHEMA_VERSION
    SCHEMA = _SCHEMA
    SYNCHRONOUS = "NORMAL"  # everything here can be recomputed from the photos
    CONSEQUENCE = "Photos will be read again once."

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._damaged = 0  # embeddings that failed their checksum in this session
        self._unsaved: sqlite3.Connection | None = None  # see _write

    def close(self) -> None:
        with self._lock:
            super().close()
            if self._unsaved is not None:
                self._unsaved.close()

    # -- reading -------------------------------------------------------------------------

    def lookup(self, files: Sequence[FileRef], model_id: str | None) -> dict[str, CachedFile]:
        """Cached results for files whose size and mtime still match, in batched queries."""
        found: dict[str, CachedFile] = {}
        by_path = {f.path: f for f in files}
        paths = [path_key(p) for p in by_path]
        with self._lock:
            for chunk, marks in _in_chunks(paths):
                rows = self._db.execute(
                    f"""SELECT f.path, f.size, f.mtime_ns, f.content_hash, f.skip_reason,
                               f.skip_detail, i.width, i.height, i.format, i.taken, i.camera,
                               i.phash, i.frames, e.vector, e.checksum
                        FROM files f
                        LEFT JOIN images i ON i.content_hash = f.content_hash
                        LEFT JOIN embeddings e
                               ON e.content_hash = f.content_hash AND e.model_id = ?
                        WHERE f.path IN ({marks})""",
                    [model_id or "", *chunk],
                )
                for row in rows:
                    key, size, mtime_ns, chash, reason, detail = row[:6]
                    w, h, fmt, taken, camera, ph, frames, vec, checksum = row[6:]
                    path = path_from_key(key)
                    ref = by_path[path]
                    if size != ref.size or mtime_ns != ref.mtime_ns:
                        continue
                    skipped = Skipped(path, SkipReason(reason), detail or "") if reason else None
                    if skipped is None and w is None:
                        continue  # a file row without its image row is not a usable entry
                    found[path] = CachedFile(
                        content_hash=chash,
                        facts=None if w is None else ImageFacts(w, h, fmt, taken, camera, frames),
                        phash=None if ph is None else from_signed64(ph),
                        skipped=skipped,
                        embedding=self._checked(vec, checksum),
                    )
        return found

    def images_for_hashes(self, hashes: Iterable[str], model_id: str | None) -> dict[str, CachedFile]:
        """What any file with these bytes decodes to: facts, pHash and, when `model_id` is
        given, its embedding. Hashes without an image row (or, with a model, without an
        embedding) are left out, so the caller knows it must decode those."""
        result: dict[str, CachedFile] = {}
        keys = list(dict.fromkeys(hashes))
        with self._lock:
            for db, (chunk, marks) in itertools.product(self._databases(), _in_chunks(keys)):
                rows = db.execute(
                    f"""SELECT i.content_hash, i.width, i.height, i.format, i.taken, i.camera,
                               i.phash, i.frames, e.vector, e.checksum
                        FROM images i
                        LEFT JOIN embeddings e
                               ON e.content_hash = i.content_hash AND e.model_id = ?
                        WHERE i.content_hash IN ({marks})""",
                    [model_id or "", *chunk],
                )
                for chash, w, h, fmt, taken, camera, ph, frames, vec, checksum in rows:
                    embedding = self._checked(vec, checksum)
                    if model_id and embedding is None:
                        continue
                    result[chash] = CachedFile(
                        content_hash=chash,
                        facts=ImageFacts(w, h, fmt, taken, camera, frames),
                        phash=None if ph is None else from_signed64(ph),
                        skipped=None,
                        embedding=embedding,
                    )
        return result

    def _checked(self, vector: bytes | None, checksum: int | None) -> np.ndarray | None:
        """The embedding, or None (compute it again) when its bytes fail their checksum: a
        flipped bit that SQLite's own checks miss would silently change the groups."""
        if vector is None:
            return None
        if zlib.crc32(vector) != checksum:
            self._damaged += 1
            if self._damaged == 1:
                self.warnings.append(
                    f"{self.path}: damaged embeddings were found (checksum mismatch); they are computed again"
                )
            return None
        return np.frombuffer(vector, dtype=np.float32)

    def thumbs_for_hashes(self, hashes: Iterable[str]) -> dict[str, bytes]:
        result: dict[str, bytes] = {}
        keys = list(dict.fromkeys(hashes))
        with self._lock:
            for db, (chunk, marks) in itertools.product(self._databases(), _in_chunks(keys)):
                for chash, thumb in db.execute(
                    f"SELECT content_hash, thumb FROM images WHERE thumb IS NOT NULL "
                    f"AND content_hash IN ({marks})",
                    chunk,
                ):
                    result[chash] = thumb
        return result

    # -- writing -------------------------------------------------------------------------

    def store(self, entries: Sequence[FileEntry], model_id: str | None) -> None:
        """Write a batch in one transaction: a killed scan leaves whole rows or none."""
        if not entries:
            return
        with self._lock:
            self._write(lambda db: self._store_rows(db, entries, model_id))

    def _store_rows(self, db: sqlite3.Connection, entries: Sequence[FileEntry], model_id: str | None) -> None:
        for e in entries:
            skip = e.skipped
            db.execute(
                "INSERT OR REPLACE INTO files(path, size, mtime_ns, content_hash, skip_reason,"
                " skip_detail) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    path_key(e.file.path),
                    e.file.size,
                    e.file.mtime_ns,
                    e.content_hash,
                    skip.reason.value if skip else None,
                    skip.detail if skip else None,
                ),
            )
            if e.facts is not None and e.content_hash:
                f = e.facts
                db.execute(
                    "INSERT OR REPLACE INTO images(content_hash, width, height, format, taken,"
                    " camera, phash, thumb, frames) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        e.content_hash,
                        f.width,
                        f.height,
                        f.format,
                        f.taken,
                        f.camera,
                        None if e.phash is None else to_signed64(e.phash),
                        e.thumb,
                        f.frames,
                    ),
                )
            if e.embedding is not None and e.content_hash and model_id:
                vector = np.asarray(e.embedding, np.float32).tobytes()
                db.execute(
                    "INSERT OR REPLACE INTO embeddings(content_hash, model_id, vector, checksum)"
                    " VALUES (?, ?, ?, ?)",
                    (e.content_hash, model_id, vector, zlib.crc32(vector)),
                )

    def put_blob(self, namespace: str, key: str, value: bytes) -> None:
        with self._lock:
            self._write(
                lambda db: db.execute(
                    "INSERT OR REPLACE INTO blobs(namespace, key, value) VALUES (?, ?, ?)",
                    (namespace, key, value),
                )
            )

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """Run `work` in one transaction. When the file cannot take it (read-only, a full
        disk, an I/O error), this and every later write of this Cache go to memory instead:
        the scan finishes with a warning, and the next one reads these photos again."""
        if self._unsaved is None:
            try:
                with Transaction(self._db):
                    work(self._db)
                return
            except sqlite3.OperationalError as exc:
                self._unsaved = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
                self._unsaved.executescript(_SCHEMA)
                self.warnings.append(
                    f"the cache {self.path} cannot be written ({exc}): this scan keeps its work in "
                    "memory only, and the next scan reads these photos again"
                )
        with Transaction(self._unsaved):
            work(self._unsaved)

    def _databases(self) -> list[sqlite3.Connection]:
        """Where to read: the file, then what could not be written to it."""
        return [self._db] if self._unsaved is None else [self._db, self._unsaved]

    def get_blob(self, namespace: str, key: str) -> bytes | None:
        with self._lock:
            for db in reversed(self._databases()):  # what this scan could not save is newer
                row = db.execute(
                    "SELECT value FROM blobs WHERE namespace = ? AND key = ?", (namespace, key)
                ).fetchone()
                if row is not None:
                    return row[0]
        return None

    def _transaction(self) -> Transaction:
        return Transaction(self._db)

    # -- maintenance -----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        with self._lock:
            count = lambda table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
            return {t: count(t) for t in ("files", "images", "embeddings")} | {
                "bytes": self.path.stat().st_size if self.path.exists() else 0
            }

    def prune_missing(self) -> int:
        """Forget files that no longer exist; returns how many rows went."""
        with self._lock:
            gone = [
                key
                for (key,) in self._db.execute("SELECT path FROM files")
                if not os.path.exists(path_from_key(key))
            ]
            with self._transaction():
                for chunk, marks in _in_chunks(gone):
                    self._db.execute(f"DELETE FROM files WHERE path IN ({marks})", chunk)
                self._db.execute(
                    "DELETE FROM images WHERE content_hash NOT IN "
                    "(SELECT content_hash FROM files WHERE content_hash IS NOT NULL)"
                )
                self._db.execute(
                    "DELETE FROM embeddings WHERE content_hash NOT IN (SELECT content_hash FROM images)"
                )
        return len(gone)

    def iter_paths(self) -> Iterator[str]:
        with self._lock:
            rows = self._db.execute("SELECT path FROM files ORDER BY path").fetchall()
        return (path_from_key(r[0]) for r in rows)


def _in_chunks(keys: Sequence[str | bytes]) -> Iterator[tuple[Sequence[str | bytes], str]]:
    """(chunk, "?,?,...") pairs for batched `IN (...)` queries with bound parameters."""
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        yield chunk, ",".join("?" * len(chunk))
