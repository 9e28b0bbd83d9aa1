"""open_library(): the library as `photofind similar` searches it; for one query what
pipeline.scan() is for a grouping.

A scan stats every file, so that every record it returns is current. A query returns a few
photos, and needs that only for those. So the files are listed by name (discover.photo_paths:
no stat per file), the cache's rows for them are read in one pass and trusted as they are (a
path, a content hash, an embedding: no per-photo object), and only the files the cache does
not know are read, as a scan reads them (ingest). Then, before a query returns its photos,
each of them, and the query photo when it is one of the library's, is checked against its
file (QueryLibrary.find): a photo that is gone is dropped, one whose size or modification time
changed (or whose cached detail is of an older format) is read again and cached, and the query
is ranked again, until every photo it returns has been checked. So a deleted photo is never
returned, nor a changed one as its old bytes were; a changed photo the query does not reach
keeps its old embedding until the next scan reads it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from photofind.core.match.detail import DETAIL_FORMAT
from photofind.core.match.similar import Query, SimilarHit, SimilarIndex, embed_query
from photofind.core.model.embed import Embedder
from photofind.core.progress import NULL_PROGRESS, Phase, Progress
from photofind.core.scan.cache import Cache
from photofind.core.scan.discover import discover, photo_paths
from photofind.core.scan.ingest import IngestState, ingest
from photofind.core.scan.vectors import VectorTable
from photofind.core.types import FileRef, ImageRecord, ScanSettings, Thresholds


def open_library(
    settings: ScanSettings, embedder: Embedder, cache: Cache, *, progress: Progress = NULL_PROGRESS
) -> QueryLibrary:
    """The photos under `settings.roots` for queries with `embedder`'s model: what the cache
    knows, and the files it does not know read into it. Raises Cancelled (what was read is
    cached) and, when there are photos to embed and the model cannot load, WeightsUnavailable."""
    paths = photo_paths(
        settings.roots,
        exclude=settings.exclude,
        include_hidden=settings.include_hidden,
        follow_symlinks=settings.follow_symlinks,
        progress=progress,
    )
    progress.update(Phase.CACHE, 0, len(paths))
    listed = cache.listed(paths, embedder.model.id)
    progress.update(Phase.CACHE, len(paths), len(paths))
    library = QueryLibrary(embedder, cache, settings.batch_size, progress)
    trusted: list[str] = []
    hashes: list[str] = []
    stamps: list[tuple[int, int]] = []
    embeddings: list[bytes] = []
    unknown: list[str] = []
    for path in paths:
        row = listed.get(path)
        if row is not None and row.skipped:  # a file that is no photo: read again only if it changed
            if _changed(path, row.size, row.mtime_ns):
                unknown.append(path)
        elif row is None or row.content_hash is None or row.embedding is None:
            unknown.append(path)
        else:
            trusted.append(path)
            hashes.append(row.content_hash)
            stamps.append((row.size, row.mtime_ns))
            embeddings.append(row.embedding)
    library.trust(trusted, hashes, stamps, embeddings)
    if unknown:  # stat'ed as discover() stats a file (permission; several names once), then read
        library.read(discover(unknown, progress=progress).files)
    library.thresholds = _thresholds(settings, library, embedder, cache, progress)
    return library


class QueryLibrary:
    """The library's photos as columns in path order: path, content hash, size and mtime as
    cached, embedding. A record is made only for a photo a query returns (or a caller asks for)."""

    def __init__(self, embedder: Embedder, cache: Cache, batch_size: int, progress: Progress) -> None:
        self.thresholds = Thresholds()
        self._embedder, self._cache, self._batch_size, self._progress = embedder, cache, batch_size, progress
        self._paths: list[str] = []
        self._hashes: list[str] = []
        self._stamps: list[tuple[int, int]] = []  # (size, mtime_ns) as the row was cached
        self.embeddings = np.zeros((0, embedder.model.dim), np.float32)
        self.records = _Records(self)  # what SimilarIndex and calibration read by row
        self._made: dict[str, ImageRecord] = {}
        self._thumbs: dict[str, np.ndarray] = {}
        self._checked: set[str] = set()  # found as cached, or just read
        self._inodes: dict[tuple[int, int], str] = {}  # of checked files: one photo per file
        self._outside: dict[str, Query] = {}
        self._index: SimilarIndex | None = None

    def __len__(self) -> int:
        return len(self._paths)

    def path(self, row: int) -> str:
        return self._paths[row]

    def record(self, row: int) -> ImageRecord:
        """The photo at `row`: as checked, or else as cached (its facts read now)."""
        path = self._paths[row]
        made = self._made.get(path)
        if made is None:
            chash = self._hashes[row]
            # The cache keeps the image row of every embedding (a prune drops them together).
            cached = self._cache.images_for_hashes([chash], None)[chash]
            assert cached.facts is not None
            made = ImageRecord(FileRef(path, *self._stamps[row]), chash, cached.facts, cached.phash)
            self._made[path] = made
        return made

    def thumb(self, row: int) -> np.ndarray:
        if self._paths[row] not in self._thumbs:
            self._read_thumbs([row])
        return self._thumbs[self._paths[row]]

    def find(self, path: str, top: int) -> list[SimilarHit]:
        """The `top` photos most like the photo at `path`, of the library or not, best first,
        each checked against its file (see the module docstring). Raises SimilarSearchError
        when the photo cannot be read, WeightsUnavailable when it needs the model and that
        cannot load."""
        while True:
            index = self._current_index()
            row = index.row_of(path)
            if row is not None and not self._check([row]):
                continue  # the query photo itself changed: read again, its row is current now
            q = index.resolve(path, self._embedder) if row is not None else self._outside_query(path)
            ranked = index.ranked(q, top)
            if self._check([i for i, _similarity in ranked]):
                return index.tiered(q, ranked)

    def trust(
        self, paths: list[str], hashes: list[str], stamps: list[tuple[int, int]], embeddings: list[bytes]
    ) -> None:
        """The cache's rows, in path order, taken as they are. The embeddings are one read-only
        block over their joined bytes (a copy costs 20 MB of page faults at 10,000 photos)."""
        self._paths, self._hashes, self._stamps = paths, hashes, stamps
        dim = self.embeddings.shape[1]
        self.embeddings = np.frombuffer(b"".join(embeddings), np.float32).reshape(-1, dim)
        self._index = None

    def read(self, files: Sequence[FileRef], drop: Collection[str] = ()) -> None:
        """Read `files` as a scan reads them (into the cache too): rows for new paths, current
        ones for changed files; those that are now no photo are dropped, as are `drop`."""
        fresh: dict[str, tuple[str, tuple[int, int], np.ndarray]] = {}
        if files:
            state = IngestState(table=VectorTable([f.path for f in files], self.embeddings.shape[1]))
            ingest(
                files,
                self._embedder,
                self._cache,
                state,
                phase=Phase.EMBED,
                batch_size=self._batch_size,
                progress=self._progress,
            )
            done = sorted(state.done)
            assert state.table is not None
            for path, vector in zip(done, state.table.take(done)):
                record = state.done[path]
                fresh[path] = (record.content_hash, (record.file.size, record.file.mtime_ns), vector)
                self._made[path] = record
                self._thumbs.pop(path, None)
                self._checked.add(path)
                self._inodes.setdefault((record.file.dev, record.file.ino), path)
            drop = {*drop, *(f.path for f in files if f.path not in state.done)}
        if fresh or drop:
            self._merge(fresh, drop)

    def _merge(
        self, fresh: dict[str, tuple[str, tuple[int, int], np.ndarray]], drop: Collection[str]
    ) -> None:
        """Rows for `fresh` paths (new, or read again), none for `drop`, the others kept; in
        path order again. The index is built anew on the next query."""
        keep = [i for i, p in enumerate(self._paths) if p not in fresh and p not in drop]
        paths = [self._paths[i] for i in keep] + list(fresh)
        hashes = [self._hashes[i] for i in keep] + [h for h, _stamp, _vector in fresh.values()]
        stamps = [self._stamps[i] for i in keep] + [s for _h, s, _vector in fresh.values()]
        added = np.zeros((len(fresh), self.embeddings.shape[1]), np.float32)
        for k, (_h, _stamp, vector) in enumerate(fresh.values()):
            added[k] = vector
        embeddings = np.concatenate([self.embeddings[keep], added])
        order = sorted(range(len(paths)), key=paths.__getitem__)
        self._paths = [paths[i] for i in order]
        self._hashes = [hashes[i] for i in order]
        self._stamps = [stamps[i] for i in order]
        self.embeddings = embeddings[order]
        self._index = None

    def _check(self, rows: Sequence[int]) -> bool:
        """Check the files at `rows` that are not checked yet; True when each is as cached.
        Otherwise the library is brought up to date (a photo that is gone dropped, a changed
        one read again) and the answer is False: rows have moved, rank again."""
        changed: list[FileRef] = []
        drop: set[str] = set()
        same: list[tuple[int, FileRef]] = []
        for i in dict.fromkeys(rows):
            path = self._paths[i]
            if path in self._checked:
                continue
            try:
                st = os.stat(path)
            except OSError:
                drop.add(path)
                continue
            if not stat.S_ISREG(st.st_mode) or not os.access(path, os.R_OK):
                drop.add(path)  # a scan would not list it, or would skip it
                continue
            first = self._inodes.setdefault((st.st_dev, st.st_ino), path)
            if first != path:  # another name of a file already found: the first in path order stands
                first, later = sorted((first, path))
                self._inodes[(st.st_dev, st.st_ino)] = first
                drop.add(later)
                if later == path:
                    continue
            ref = FileRef(path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, st.st_nlink)
            if (st.st_size, st.st_mtime_ns) != self._stamps[i]:
                changed.append(ref)
            else:
                same.append((i, ref))
        # Facts for the record, and whether the detail is of this version (a scan reads
        # a photo again otherwise).
        cached = self._cache.images_for_hashes([self._hashes[i] for i, _ref in same], None, DETAIL_FORMAT)
        for i, ref in same:
            hit = cached.get(self._hashes[i])
            if hit is None or hit.facts is None:
                changed.append(ref)
                continue
            self._made[ref.path] = ImageRecord(ref, self._hashes[i], hit.facts, hit.phash)
            self._checked.add(ref.path)
        self._read_thumbs([i for i, ref in same if ref.path in self._checked])
        if not changed and not drop:
            return True
        self.read(changed, drop)
        return False

    def _read_thumbs(self, rows: Sequence[int]) -> None:
        found = self._cache.thumbs_for_hashes([self._hashes[i] for i in rows])
        for i, thumb in zip(rows, found):
            self._thumbs[self._paths[i]] = thumb

    def _current_index(self) -> SimilarIndex:
        if self._index is None:
            self._index = SimilarIndex(
                self.records,
                self.embeddings,
                thumbs=_Thumbs(self),
                thresholds=self.thresholds,
                cache=self._cache,
                paths=self._paths,
                hashes=self._hashes,
            )
        return self._index

    def _outside_query(self, path: str) -> Query:
        """A photo from outside the library, read and embedded once."""
        if path not in self._outside:
            self._outside[path] = embed_query(path, self._embedder)
        return self._outside[path]


class _Records(Sequence[ImageRecord]):
    """The library's records by row, each made when first asked for."""

    def __init__(self, library: QueryLibrary) -> None:
        self._library = library

    def __len__(self) -> int:
        return len(self._library)

    def __getitem__(self, row: Any) -> Any:  # rows by number only: no caller slices
        return self._library.record(row)


class _Thumbs:
    """The library's grey thumbnails by row, read when first asked for (similar.ByRow)."""

    def __init__(self, library: QueryLibrary) -> None:
        self._library = library

    def __getitem__(self, row: int, /) -> np.ndarray:
        return self._library.thumb(row)


def _changed(path: str, size: int, mtime_ns: int) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False  # gone: nothing to read
    return (st.st_size, st.st_mtime_ns) != (size, mtime_ns)


def _thresholds(
    settings: ScanSettings, library: QueryLibrary, embedder: Embedder, cache: Cache, progress: Progress
) -> Thresholds:
    """As a scan sets them: calibrated on the library (cached per model and library), unless
    the user gave a threshold."""
    if not settings.calibrate or not len(library):
        return settings.thresholds
    from photofind.core.match.calibrate import calibrate, library_key

    calibration = calibrate(
        library.records,
        library.embeddings,
        embedder,
        cache=cache,
        library=library_key(settings.roots),
        progress=progress,
    )
    return settings.thresholds if calibration is None else calibration.thresholds
