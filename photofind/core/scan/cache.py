"""SQLite cache of everything a scan learns, so an unchanged file is never read twice.

Files are keyed by path and invalidated by (size, mtime_ns). What depends only on the bytes
(image facts, hashes, embeddings) is keyed by content hash, so a byte-identical copy, or a
file that was renamed, reuses it. Embeddings are also keyed by model id: they are only
comparable within one model, and carry a checksum: damaged bytes are recomputed, never used.
A cache of ours that is corrupt or of an older schema is moved aside and rebuilt; anything else
at the path is refused (photofind.core.store).

Opening costs the same at 1 MB and at 1 GB: the whole-file integrity check is not run (it reads
every page). Damage in a page is found when a read or write meets it (`_damaged_late`): the
file is closed and moved aside with a warning, and this Cache carries on in memory: what it
could not read counts as not cached (those photos are read again), what it writes is kept for
this scan only. An I/O error is not damage: the file stays where it is.

What the pixel check needs is kept too, so grouping never opens a photo file:
- `details`: the detail image of each content (detail.detail_to_bytes: a 6-bit 128x128 PNG
  and the bar facts, 4-8 KB), written by the read pass with the file's other rows; a row of
  an older `format` counts as missing, so the file is read again once.
- `pixel_digests`: the full-decode pixel hash (verify.pixel_digest), once per content.
- `verdicts`: every pixel-check answer per ordered content-hash pair, verifier version and
  rotation setting (NULL reason: not the same photo). `use_verifier` deletes the answers of
  any other verifier version the first time a new one runs.
"""

from __future__ import annotations

import functools
import itertools
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Concatenate, NamedTuple, ParamSpec, TypeVar

import numpy as np

from photofind.core.scan.hashing import from_signed64, to_signed64
from photofind.core.store import (
    SQLiteStore,
    Transaction,
    is_corruption,
    move_aside,
    path_from_key,
    path_key,
)
from photofind.core.types import FileRef, ImageFacts, Skipped, SkipReason

SCHEMA_VERSION = 2  # 2: images.frames, embeddings.checksum, details, pixel_digests, verdicts
APP_ID = "photofind-cache"
THUMB_SIDE = 32  # the grey thumbnail each image row keeps (hashing.gray_thumb at this side)
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
CREATE TABLE details (
    content_hash TEXT PRIMARY KEY,
    format INTEGER NOT NULL,
    bordered INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE pixel_digests (
    content_hash TEXT PRIMARY KEY,
    digest TEXT NOT NULL
);
CREATE TABLE verdicts (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    verifier INTEGER NOT NULL,
    rotations INTEGER NOT NULL,
    reason TEXT,
    PRIMARY KEY (a, b, verifier, rotations)
) WITHOUT ROWID;
CREATE TABLE blobs (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (namespace, key)
);
"""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _damaged_late(method: Callable[Concatenate[Cache, _P], _R]) -> Callable[Concatenate[Cache, _P], _R]:
    """Run `method`; when it meets a damaged page, move the file aside and run it once more,
    now on memory (a read then finds nothing cached, a write is kept for this scan)."""

    @functools.wraps(method)
    def guarded(self: Cache, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.DatabaseError as exc:
                if not is_corruption(exc) or self._in_memory:
                    raise
                self._give_up_the_file(exc)
            return method(self, *args, **kwargs)

    return guarded


def _memory_database() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    db.executescript(_SCHEMA)
    return db


class CachedFile(NamedTuple):
    """What the cache knows about an unchanged file. A NamedTuple, not a frozen dataclass:
    a warm rescan makes one per photo, and it is built five times faster."""

    content_hash: str | None
    facts: ImageFacts | None
    phash: int | None
    skipped: Skipped | None
    embedding: np.ndarray | None
    has_detail: bool = True  # the pixel check's detail image is cached in the asked format


class ListedFile(NamedTuple):
    """A file's row as it was cached, for a caller that trusts it without a stat (a query
    checks only the photos it returns): no image facts, no per-file objects beyond this."""

    size: int
    mtime_ns: int
    content_hash: str | None
    skipped: bool  # read and skipped (its reason is in the row): not a photo to search
    embedding: bytes | None  # float32 bytes that passed their checksum, for the model asked


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
    detail: bytes | None = None  # detail.detail_to_bytes
    detail_format: int = 0
    bordered: bool = False  # the detail's bars flag, readable without decoding it


class Cache(SQLiteStore):
    APP_ID = APP_ID
    SCHEMA_VERSION = SCHEMA_VERSION
    SCHEMA = _SCHEMA
    SYNCHRONOUS = "NORMAL"  # everything here can be recomputed from the photos
    CONSEQUENCE = "Photos will be read again once."
    QUICK_CHECK = False  # it reads every page; damage is found in use instead (module docstring)

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(path)
        self._damaged = 0  # embeddings that failed their checksum in this session
        self._unsaved: sqlite3.Connection | None = None  # see _write
        self._in_memory = False  # the file was found damaged and moved aside: see _damaged_late

    def close(self) -> None:
        with self._lock:
            super().close()
            if self._unsaved is not None:
                self._unsaved.close()

    def _give_up_the_file(self, exc: sqlite3.Error) -> None:
        """The file is damaged: close it (Windows renames no open file), move it aside, and
        keep this Cache's work in memory from now on."""
        self._db.close()
        try:
            moved = f"it was moved to {move_aside(self.path)}"
        except OSError as err:  # another process holds it open (Windows), or the folder is read-only
            moved = f"it could not be moved aside ({err.strerror or err})"
        self._db = self._unsaved or _memory_database()
        self._unsaved = None
        self._in_memory = True
        self.warnings.append(
            f"{self.path} was found damaged while in use ({exc}); {moved}. This scan keeps its "
            f"work in memory and the next one starts a new cache. {self.CONSEQUENCE}"
        )

    # -- reading -------------------------------------------------------------------------

    @_damaged_late
    def lookup(
        self, files: Sequence[FileRef], model_id: str | None, detail_format: int | None = None
    ) -> dict[str, CachedFile]:
        """Cached results for files whose size and mtime still match, in batched queries.
        With `detail_format`, `has_detail` says whether the detail image is cached in it."""
        found: dict[str, CachedFile] = {}
        by_path = {f.path: f for f in files}
        paths = [path_key(p) for p in by_path]
        with self._lock:
            for chunk, marks in _in_chunks(paths):
                rows = self._db.execute(
                    f"""SELECT f.path, f.size, f.mtime_ns, f.content_hash, f.skip_reason,
                               f.skip_detail, i.width, i.height, i.format, i.taken, i.camera,
                               i.phash, i.frames, e.vector, e.checksum, d.content_hash IS NOT NULL
                        FROM files f
                        LEFT JOIN images i ON i.content_hash = f.content_hash
                        LEFT JOIN embeddings e
                               ON e.content_hash = f.content_hash AND e.model_id = ?
                        LEFT JOIN details d
                               ON d.content_hash = f.content_hash AND d.format = ?
                        WHERE f.path IN ({marks})""",
                    [model_id or "", detail_format or 0, *chunk],
                )
                for row in rows:
                    key, size, mtime_ns, chash, reason, detail = row[:6]
                    w, h, fmt, taken, camera, ph, frames, vec, checksum, has = row[6:]
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
                        has_detail=detail_format is None or bool(has),
                    )
        return found

    @_damaged_late
    def listed(self, paths: Sequence[str], model_id: str | None) -> dict[str, ListedFile]:
        """The rows of the files at `paths` the cache has, whatever their size and mtime now,
        with their embedding by `model_id`: one pass over the files and embeddings tables
        (no image row, thumbnail or detail is read)."""
        found: dict[str, ListedFile] = {}
        with self._lock:
            for chunk, marks in _in_chunks([path_key(p) for p in paths]):
                rows = self._db.execute(
                    f"""SELECT f.path, f.size, f.mtime_ns, f.content_hash, f.skip_reason IS NOT NULL,
                               e.vector, e.checksum
                        FROM files f
                        LEFT JOIN embeddings e
                               ON e.content_hash = f.content_hash AND e.model_id = ?
                        WHERE f.path IN ({marks})""",
                    [model_id or "", *chunk],
                )
                for key, size, mtime_ns, chash, skipped, vector, checksum in rows:
                    embedding = self._intact(vector, checksum)
                    found[path_from_key(key)] = ListedFile(size, mtime_ns, chash, bool(skipped), embedding)
        return found

    @_damaged_late
    def images_for_hashes(
        self, hashes: Iterable[str], model_id: str | None, detail_format: int | None = None
    ) -> dict[str, CachedFile]:
        """What any file with these bytes decodes to: facts, pHash and, when `model_id` is
        given, its embedding. Hashes without an image row (or, with a model, without an
        embedding; with `detail_format`, without a detail image in it) are left out, so the
        caller knows it must decode those."""
        result: dict[str, CachedFile] = {}
        keys = list(dict.fromkeys(hashes))
        with self._lock:
            for db, (chunk, marks) in itertools.product(self._databases(), _in_chunks(keys)):
                rows = db.execute(
                    f"""SELECT i.content_hash, i.width, i.height, i.format, i.taken, i.camera,
                               i.phash, i.frames, e.vector, e.checksum, d.content_hash IS NOT NULL
                        FROM images i
                        LEFT JOIN embeddings e
                               ON e.content_hash = i.content_hash AND e.model_id = ?
                        LEFT JOIN details d
                               ON d.content_hash = i.content_hash AND d.format = ?
                        WHERE i.content_hash IN ({marks})""",
                    [model_id or "", detail_format or 0, *chunk],
                )
                for chash, w, h, fmt, taken, camera, ph, frames, vec, checksum, has in rows:
                    embedding = self._checked(vec, checksum)
                    if (model_id and embedding is None) or (detail_format is not None and not has):
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
        """The embedding, or None (compute it again) when its bytes fail their checksum."""
        intact = self._intact(vector, checksum)
        return None if intact is None else np.frombuffer(intact, dtype=np.float32)

    def _intact(self, vector: bytes | None, checksum: int | None) -> bytes | None:
        """An embedding's bytes, or None when they fail their checksum: a flipped bit that
        SQLite's own checks miss would silently change the groups."""
        if vector is None:
            return None
        if zlib.crc32(vector) != checksum:
            self._damaged += 1
            if self._damaged == 1:
                self.warnings.append(
                    f"{self.path}: damaged embeddings were found (checksum mismatch); they are computed again"
                )
            return None
        return vector

    @_damaged_late
    def thumbs_for_hashes(self, hashes: Sequence[str]) -> np.ndarray:
        """(len(hashes), THUMB_SIDE, THUMB_SIDE) uint8: each content's grey thumbnail, in
        order; all zeros for one the cache has no (well-formed) thumbnail of, as a scan's
        result holds for it."""
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
        size = THUMB_SIDE * THUMB_SIDE
        out = np.zeros((len(hashes), THUMB_SIDE, THUMB_SIDE), np.uint8)
        for k, chash in enumerate(hashes):
            raw = result.get(chash)
            if raw is not None and len(raw) == size:
                out[k] = np.frombuffer(raw, np.uint8).reshape(THUMB_SIDE, THUMB_SIDE)
        return out

    # -- writing -------------------------------------------------------------------------

    @_damaged_late
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
            if e.detail is not None and e.content_hash:
                db.execute(
                    "INSERT OR REPLACE INTO details(content_hash, format, bordered, data) VALUES (?, ?, ?, ?)",
                    (e.content_hash, e.detail_format, int(e.bordered), e.detail),
                )
            if e.embedding is not None and e.content_hash and model_id:
                vector = np.asarray(e.embedding, np.float32).tobytes()
                db.execute(
                    "INSERT OR REPLACE INTO embeddings(content_hash, model_id, vector, checksum)"
                    " VALUES (?, ?, ?, ?)",
                    (e.content_hash, model_id, vector, zlib.crc32(vector)),
                )

    # -- the pixel check's inputs and answers (see the module docstring) ---------------------

    def details_for_hashes(self, hashes: Iterable[str], detail_format: int) -> dict[str, bytes]:
        return self._by_hash(
            "SELECT content_hash, data FROM details WHERE format = ? AND", hashes, detail_format
        )

    def bordered_for_hashes(self, hashes: Iterable[str], detail_format: int) -> dict[str, bool]:
        found = self._by_hash(
            "SELECT content_hash, bordered FROM details WHERE format = ? AND", hashes, detail_format
        )
        return {h: bool(v) for h, v in found.items()}

    def pixel_digests(self, hashes: Iterable[str]) -> dict[str, str]:
        return self._by_hash("SELECT content_hash, digest FROM pixel_digests WHERE", hashes)

    @_damaged_late
    def put_pixel_digest(self, content_hash: str, digest: str) -> None:
        with self._lock:
            self._write(
                lambda db: db.execute(
                    "INSERT OR REPLACE INTO pixel_digests(content_hash, digest) VALUES (?, ?)",
                    (content_hash, digest),
                )
            )

    @_damaged_late
    def _by_hash(self, select: str, hashes: Iterable[str], *params: object) -> dict:
        """{content_hash: value} for `select` ("SELECT content_hash, value FROM t WHERE [...] AND")."""
        result: dict = {}
        keys = list(dict.fromkeys(hashes))
        with self._lock:
            for db, (chunk, marks) in itertools.product(self._databases(), _in_chunks(keys)):
                result.update(db.execute(f"{select} content_hash IN ({marks})", [*params, *chunk]))
        return result

    @_damaged_late
    def verdicts(
        self, pairs: Sequence[tuple[str, str]], verifier: int, rotations: bool
    ) -> dict[tuple[str, str], str | None]:
        """Cached pixel-check answers for ordered content-hash pairs (absent: never checked)."""
        found: dict[tuple[str, str], str | None] = {}
        with self._lock:
            for db, start in itertools.product(self._databases(), range(0, len(pairs), _CHUNK // 2)):
                chunk = pairs[start : start + _CHUNK // 2]
                marks = ",".join("(?, ?)" for _ in chunk)
                flat = [h for pair in chunk for h in pair]
                rows = db.execute(
                    f"WITH asked(a, b) AS (VALUES {marks}) SELECT v.a, v.b, v.reason FROM asked "
                    "JOIN verdicts v ON v.a = asked.a AND v.b = asked.b "
                    "AND v.verifier = ? AND v.rotations = ?",
                    [*flat, verifier, int(rotations)],
                )
                for a, b, reason in rows:
                    found[(a, b)] = reason
        return found

    @_damaged_late
    def use_verifier(self, verifier: int) -> None:
        """Forget the answers of other verifier versions, once, when the version changes."""
        current = str(verifier).encode()
        if self.get_blob("verifier", "version") == current:
            return

        def forget(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM verdicts WHERE verifier != ?", (verifier,))
            db.execute(
                "INSERT OR REPLACE INTO blobs(namespace, key, value) VALUES ('verifier', 'version', ?)",
                (current,),
            )

        with self._lock:
            self._write(forget)

    @_damaged_late
    def put_verdicts(
        self, found: Sequence[tuple[str, str, str | None]], verifier: int, rotations: bool
    ) -> None:
        """Save (a, b, reason) answers in one transaction."""
        if not found:
            return
        rows = [(a, b, verifier, int(rotations), reason) for a, b, reason in found]
        with self._lock:
            self._write(
                lambda db: db.executemany(
                    "INSERT OR REPLACE INTO verdicts(a, b, verifier, rotations, reason) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            )

    @_damaged_late
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
                self._unsaved = _memory_database()
                self.warnings.append(
                    f"the cache {self.path} cannot be written ({exc}): this scan keeps its work in "
                    "memory only, and the next scan reads these photos again"
                )
        with Transaction(self._unsaved):
            work(self._unsaved)

    def _databases(self) -> list[sqlite3.Connection]:
        """Where to read: the file, then what could not be written to it."""
        return [self._db] if self._unsaved is None else [self._db, self._unsaved]

    @_damaged_late
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

    @_damaged_late
    def stats(self) -> dict[str, int]:
        with self._lock:
            count = lambda table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: E731
            tables = ("files", "images", "embeddings", "details", "verdicts")
            return {t: count(t) for t in tables} | {
                "bytes": self.path.stat().st_size if self.path.exists() else 0
            }

    @_damaged_late
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
                for table in ("embeddings", "details", "pixel_digests"):
                    self._db.execute(
                        f"DELETE FROM {table} WHERE content_hash NOT IN (SELECT content_hash FROM images)"
                    )
                self._db.execute(
                    "DELETE FROM verdicts WHERE a NOT IN (SELECT content_hash FROM images)"
                    " OR b NOT IN (SELECT content_hash FROM images)"
                )
        return len(gone)

    @_damaged_late
    def iter_paths(self) -> Iterator[str]:
        with self._lock:
            rows = self._db.execute("SELECT path FROM files ORDER BY path").fetchall()
        return (path_from_key(r[0]) for r in rows)


def _in_chunks(keys: Sequence[str | bytes]) -> Iterator[tuple[Sequence[str | bytes], str]]:
    """(chunk, "?,?,...") pairs for batched `IN (...)` queries with bound parameters."""
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        yield chunk, ",".join("?" * len(chunk))
