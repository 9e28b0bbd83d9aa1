"""The photos most like one photo: the engine behind `photofind similar` and the GUI's
"browse similar" view.

A SimilarIndex holds a finished scan's photos for queries (the CLI reads the library from
the cache without grouping it; the app keeps one index per scan). Small libraries are searched
exactly (one matrix-vector product). Big ones use LSH candidates (`QueryIndex`): the query's buckets and those at Hamming distance
1 (what the tables are sized for), then 2 if that gave too few candidates, and exact search if
even that is not enough. Candidates are always ranked by their exact cosine.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import combinations
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from photofind.core.match.lsh import Hyperplanes
from photofind.core.match.pairsearch import auto_params, unique_sorted
from photofind.core.types import FileRef, Group, ImageRecord, Thresholds, Tier

if TYPE_CHECKING:
    from photofind.core.match.detail import Detail
    from photofind.core.match.verify import PixelFacts
    from photofind.core.scan.cache import Cache

QUERY_EXACT_BELOW = 200_000  # below this, one matrix-vector product (< 0.1 s) beats an index
MAX_RADIUS = 2


class ByRow(Protocol):
    """Per-photo data by library row: a numpy array, or a view that reads a row when asked."""

    def __getitem__(self, row: int, /) -> Any: ...


class SimilarSearchError(ValueError):
    """The search cannot run; the message says why, for the user."""


class SimilarHit(NamedTuple):
    index: int  # type: ignore[assignment]  # position in the records (shadows tuple.index)
    similarity: float  # cosine to the query (1.0 for the same bytes)
    tier: Tier | None  # exact, near (pixels confirm), similar, or None: below both thresholds
    how: str = ""  # near: how the pixel check says the copy differs ("resized", "cropped", ...)


@dataclass(frozen=True)
class Query:
    """A query photo: its embedding, and what the pixel check needs when it is a file."""

    vector: np.ndarray
    record: ImageRecord | None = None
    thumb: np.ndarray | None = None
    library_index: int | None = None  # the query itself, when it is in the library
    detail: Detail | None = None  # a photo outside the library: the detail its one read made


class QueryIndex:
    """Per-table sorted keys of a fixed set of vectors, for candidate lookups by key."""

    def __init__(self, vectors: np.ndarray, planes: Hyperplanes) -> None:
        from photofind.core.model.embed import usable_cores

        self.planes = planes
        sig = planes.signatures(np.ascontiguousarray(vectors, np.float32), usable_cores())
        self._tables = []
        for t in range(planes.params.tables):
            keys = sig.table_keys(t)
            order = np.argsort(keys, kind="stable")
            self._tables.append((keys[order], order))

    @classmethod
    def build(cls, vectors: np.ndarray, thresholds: Thresholds | None = None) -> QueryIndex:
        near = (thresholds or Thresholds()).near
        return cls(vectors, Hyperplanes.fit(vectors, auto_params(vectors, near)))

    def candidates(self, vector: np.ndarray, radius: int) -> np.ndarray:
        """Indices whose key is at Hamming distance exactly `radius` from the query's key in
        some table (sorted, unique)."""
        bits = self.planes.params.bits
        masks = np.array([sum(1 << b for b in c) for c in combinations(range(bits), radius)], np.uint32)
        keys = self.planes.keys(vector)[0]
        found = []
        for (sorted_keys, order), key in zip(self._tables, keys):
            probe = key ^ masks
            lo = np.searchsorted(sorted_keys, probe, "left")
            hi = np.searchsorted(sorted_keys, probe, "right")
            count = hi - lo
            if count.sum():
                offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
                found.append(order[np.repeat(lo, count) + offsets])
        return unique_sorted(np.concatenate(found)) if found else np.zeros(0, np.int64)


def embed_query(path: str, embedder: Any) -> Query:
    """Read `path` once, as the scan reads a photo (hashes, thumbnail, detail, model input),
    and embed it with `embedder`."""
    from photofind.core.match.detail import detail_from_bytes
    from photofind.core.scan.ingest import read_photo

    if embedder is None:
        raise SimilarSearchError("searching by an image outside the library needs the similarity model")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SimilarSearchError(f"cannot read {path}: {exc.strerror or exc}") from exc
    entry, prepared = read_photo(FileRef(path, st.st_size, st.st_mtime_ns), embedder.prepare)
    if entry.skipped is not None:
        raise SimilarSearchError(f"cannot read {path}: {entry.skipped.detail or entry.skipped.reason.value}")
    assert entry.content_hash is not None and entry.facts is not None and entry.thumb is not None
    assert prepared is not None
    vector = np.asarray(embedder.embed(np.stack([prepared]))[0], np.float32)
    record = ImageRecord(entry.file, entry.content_hash, entry.facts, entry.phash)
    thumb = np.frombuffer(entry.thumb, np.uint8).reshape(32, 32)
    detail = detail_from_bytes(entry.detail) if entry.detail is not None else None
    return Query(vector, record, thumb, detail=detail)


class SimilarIndex:
    """A finished scan's photos prepared for "photos like this one" queries: built once, then
    queried many times (the app keeps one per scan; the CLI asks once).

    It holds path and content-hash lookups, which rows have an embedding, and, for libraries
    of `exact_below` photos or more, the LSH tables (QueryIndex), built on the first query
    that needs them. With the scan's `cache`, the pixel check of the few top hits reads the
    details the scan cached (pixelfacts.CachedPixelFacts, as grouping does), so no library
    photo file is opened; a query photo from outside the library is read once. Without one
    (a caller with no cache) the hits' files are decoded. Safe to query from several threads.

    `paths` and `hashes`: the records' paths and content hashes, from a caller that holds
    them as columns; `records` and `thumbs` are then read only at the rows a query returns
    (core/query.py makes a record only for those).
    """

    def __init__(
        self,
        records: Sequence[ImageRecord],
        embeddings: np.ndarray | None,
        *,
        thumbs: ByRow | None = None,
        thresholds: Thresholds | None = None,
        exact_below: int = QUERY_EXACT_BELOW,
        lsh: QueryIndex | None = None,
        groups: Sequence[Group] = (),
        cache: Cache | None = None,
        paths: Sequence[str] | None = None,
        hashes: Sequence[str] | None = None,
    ) -> None:
        self.records = records
        self.embeddings = embeddings
        self.thumbs = thumbs
        self.thresholds = thresholds or Thresholds()
        self.exact_below = exact_below
        self._paths = paths if paths is not None else [r.path for r in records]
        self._row: dict[str, int] = {path: i for i, path in enumerate(self._paths)}
        self._copies: dict[str, list[int]] = {}
        for i, chash in enumerate(hashes if hashes is not None else (r.content_hash for r in records)):
            self._copies.setdefault(chash, []).append(i)
        self._valid = None if embeddings is None else _has_embedding(embeddings)
        # Each photo's duplicate group (not a similar one): its pixel-verified copies, found by
        # a lookup instead of a walk through every group per query (20k groups at 100k photos).
        self._copy_group: dict[int, Group] = {}
        for g in groups:
            if g.tier is not Tier.SIMILAR:
                for m in g.members:
                    self._copy_group.setdefault(m.index, g)
        self._lsh = lsh
        self._lock = threading.Lock()
        self._facts: PixelFacts | None = None
        if cache is not None:
            from photofind.core.match.pixelfacts import CachedPixelFacts

            self._facts = CachedPixelFacts(cache)

    @classmethod
    def for_result(cls, result: Any, cache: Cache | None = None) -> SimilarIndex:
        """The index of a ScanResult's photos, tiered by the thresholds that scan used;
        `cache`: the one the scan filled, for the pixel check of the top hits."""
        return cls(
            result.records,
            result.embeddings,
            thumbs=result.thumbs,
            thresholds=result.settings.thresholds,
            groups=result.groups,
            cache=cache,
        )

    def copy_group(self, row: int) -> Group | None:
        """The duplicate group (exact, pixels or near) holding the photo at `row`, if any."""
        return self._copy_group.get(row)

    def row_of(self, path: str) -> int | None:
        """The library row of the photo at `path` (as given or with links resolved), if any."""
        path = os.path.abspath(path)
        row = self._row.get(path)
        return row if row is not None else self._row.get(os.path.realpath(path))

    def resolve(self, query: Any, embedder: Any = None) -> Query:
        """A Query from an embedding, a Query, or a path (a library photo reuses its embedding)."""
        if isinstance(query, Query):
            return query
        if isinstance(query, np.ndarray):
            return Query(np.asarray(query, np.float32).ravel())
        path = os.path.abspath(os.fspath(query))
        index = self.row_of(path)
        if index is not None:
            thumb = self.thumbs[index] if self.thumbs is not None else None
            if self._valid is not None and self._valid[index]:
                vector = np.asarray(self.embeddings[index], np.float32)  # type: ignore[index]
                return Query(vector, self.records[index], thumb, index)
            if embedder is None:  # no embedding for it: its byte copies can still be listed
                return Query(np.zeros(0, np.float32), self.records[index], thumb, index)
        if not os.path.isfile(path):
            raise SimilarSearchError(f"no such image: {query}")
        return replace(embed_query(path, embedder), library_index=index)

    def find(self, query: Any, top: int = 20, *, embedder: Any = None) -> list[SimilarHit]:
        """The `top` photos most like `query` (a path, an embedding or a Query), best first.

        The query itself is left out (also when it is a file of the library); its byte-identical
        copies come first at similarity 1.0. Tiers: exact (same bytes), near (cosine >= near and
        the pixel check confirms; an embedding query has no pixels, so its cosine decides),
        similar (cosine >= similar), else None. Only the hits returned are pixel-checked.
        """
        q = self.resolve(query, embedder)
        return self.tiered(q, self.ranked(q, top))

    def ranked(self, q: Query, top: int) -> list[tuple[int, float]]:
        """(row, similarity) of the `top` photos most like `q`, best first: find() before the
        pixel check, for a caller that checks the rows' files first (core/query.py)."""
        scores: dict[int, float] = {}
        if q.record is not None:
            scores = dict.fromkeys(self._copies.get(q.record.content_hash, ()), 1.0)
        if self.embeddings is not None and len(q.vector) and len(self._paths):
            for i, s in self.nearest(q.vector, top + len(scores) + 1):
                scores.setdefault(i, s)
        if q.library_index is not None:
            scores.pop(q.library_index, None)
        paths = self._paths
        return sorted(scores.items(), key=lambda kv: (-kv[1], paths[kv[0]]))[:top]

    def tiered(self, q: Query, ranked: Sequence[tuple[int, float]]) -> list[SimilarHit]:
        """The hits of ranked() with their tiers (only these rows are pixel-checked)."""
        return [SimilarHit(i, s, *self._tier(q, i, s)) for i, s in ranked]

    def nearest(self, vector: np.ndarray, want: int) -> list[tuple[int, float]]:
        """(row, cosine) of the `want` embedded photos closest to `vector`, best first: by LSH
        candidates and their exact cosine in a big library, else by one exact product."""
        embeddings, valid = self.embeddings, self._valid
        assert embeddings is not None and valid is not None
        if len(embeddings) >= self.exact_below:
            index = self._tables()
            found = np.zeros(0, np.int64)
            for radius in range(MAX_RADIUS + 1):
                found = unique_sorted(np.concatenate([found, index.candidates(vector, radius)]))
                found = found[valid[found]]
                # Radius 1 always: the tables are sized for recall with it (probe=True); radius 0
                # alone found the planted copy first for only 163 of 200 queries at 1M (K=19).
                if radius >= 1 and len(found) >= 4 * want + 32:  # enough to rank the true top few
                    break
            if len(found) >= want:  # a few thousand rows: no BLAS call (see Hyperplanes.signatures)
                return _best(np.einsum("ij,j->i", embeddings[found], vector), want, found)
        sims = np.empty(len(embeddings), np.float32)
        for s in range(0, len(embeddings), _PRODUCT_ROWS):
            np.matmul(embeddings[s : s + _PRODUCT_ROWS], vector, out=sims[s : s + _PRODUCT_ROWS])
        sims[~valid] = -2.0
        return _best(sims, want)

    def _tables(self) -> QueryIndex:
        with self._lock:
            if self._lsh is None:
                self._lsh = QueryIndex.build(self.embeddings, self.thresholds)  # type: ignore[arg-type]
            return self._lsh

    def _tier(self, q: Query, i: int, sim: float) -> tuple[Tier | None, str]:
        """The hit's tier, and for a near copy how the pixel check says it differs."""
        t, record = self.thresholds, self.records[i]
        if q.record is not None and record.content_hash == q.record.content_hash:
            return Tier.EXACT, "same bytes"
        if sim >= t.near:
            if q.record is None or q.thumb is None or self.thumbs is None:
                return Tier.NEAR, ""
            from photofind.core.match import verify

            with self._reading(q):
                how = verify.pixel_check(q.record, record, q.thumb, self.thumbs[i])
            if how is not None:
                return Tier.NEAR, how
        return (Tier.SIMILAR if sim >= t.similar else None), ""

    @contextmanager
    def _reading(self, q: Query) -> Iterator[None]:
        """The pixel check reads cached details (and the outside query's own), not files."""
        if self._facts is None:
            yield
            return
        from photofind.core.match import verify

        with verify.reading_from(self._facts if q.detail is None else _WithQuery(self._facts, q)):
            yield


class _WithQuery:
    """verify.PixelFacts: the cache's, and the detail a query photo from outside the library
    got from its one read (embed_query)."""

    def __init__(self, facts: PixelFacts, query: Query) -> None:
        assert query.record is not None
        self._facts, self._query, self._hash = facts, query, query.record.content_hash

    def detail(self, record: ImageRecord) -> Detail | None:
        return self._query.detail if record.content_hash == self._hash else self._facts.detail(record)

    def bordered(self, record: ImageRecord) -> bool:
        if record.content_hash == self._hash:
            return self._query.detail is not None and self._query.detail.bordered
        return self._facts.bordered(record)

    def digest(self, record: ImageRecord) -> str | None:
        return self._facts.digest(record)


_PRODUCT_ROWS = 65_536  # rows per matrix-vector product: bounded temporaries


def _has_embedding(embeddings: np.ndarray) -> np.ndarray:
    """Rows holding an embedding (unit length), not the zeros of a photo without one."""
    valid = np.empty(len(embeddings), bool)
    for s in range(0, len(embeddings), _PRODUCT_ROWS):
        block = embeddings[s : s + _PRODUCT_ROWS]
        valid[s : s + _PRODUCT_ROWS] = np.einsum("ij,ij->i", block, block) > 0.25
    return valid


def _best(sims: np.ndarray, want: int, rows: np.ndarray | None = None) -> list[tuple[int, float]]:
    """The `want` highest of `sims` (ties by position), as (row, cosine); -2 marks no embedding."""
    if want < len(sims):
        part = np.argpartition(-sims, want - 1)[:want]
        best = part[np.lexsort((part, -sims[part]))]
    else:
        best = np.argsort(-sims, kind="stable")
    rows = np.arange(len(sims)) if rows is None else rows
    return [(int(rows[k]), float(sims[k])) for k in best if sims[k] > -1.0]


def find_similar(
    query: Any,
    records: Sequence[ImageRecord],
    embeddings: np.ndarray | None,
    *,
    top: int = 20,
    thumbs: np.ndarray | None = None,
    thresholds: Thresholds | None = None,
    embedder: Any = None,
    exact_below: int = QUERY_EXACT_BELOW,
) -> list[SimilarHit]:
    """One query without keeping an index: `SimilarIndex(...).find(query, top)`."""
    index = SimilarIndex(records, embeddings, thumbs=thumbs, thresholds=thresholds, exact_below=exact_below)
    return index.find(query, top, embedder=embedder)


def search_result(
    result: Any, path: str, top: int, *, embedder: Any = None, index: SimilarIndex | None = None
) -> list[tuple[str, float, str, str]]:
    """For the GUI: (path, similarity, tier value or "", relation) of the `top` photos of a
    finished scan most like `path`; the relation says what each is to the query (`relation`).
    Without embeddings (no model) the answer is the query's copies: its byte copies and the
    other members of its duplicate group, which the pixel check confirmed during the scan.
    `index`: SimilarIndex.for_result(result), kept between queries. Raises
    SimilarSearchError with a message for the user."""
    index = index or SimilarIndex.for_result(result)
    row = index.row_of(path)
    if result.embeddings is None or result.model is None:
        if row is None:
            raise SimilarSearchError(result.model_problem or "visual similarity is off for this scan")
    elif embedder is not None and embedder.model.id != result.model.id:
        raise SimilarSearchError("the loaded model differs from the one this scan used; scan again")
    hits = index.find(path, top, embedder=embedder)
    if row is not None:
        hits = _with_group_copies(result.records, index.copy_group(row), row, hits, top)
    records = result.records
    query = records[row] if row is not None else None
    return [
        (
            records[h.index].path,
            h.similarity,
            h.tier.value if h.tier else "",
            relation(query, records[h.index], h),
        )
        for h in hits
    ]


def relation(query: ImageRecord | None, record: ImageRecord, hit: SimilarHit) -> str:
    """What a hit is to the query, in words: "copy" (with how it was made, when known),
    "burst" (the same camera seconds apart), "similar scene", or "" below every threshold."""
    from photofind.core.match.bursts import is_burst

    if hit.tier in (Tier.EXACT, Tier.PIXELS, Tier.NEAR):
        return f"copy: {hit.how}" if hit.how else "copy"
    if hit.tier is Tier.SIMILAR:
        return "burst" if query is not None and is_burst([query, record]) else "similar scene"
    return ""


def _with_group_copies(
    records: Sequence[ImageRecord], group: Group | None, row: int, hits: list[SimilarHit], top: int
) -> list[SimilarHit]:
    """`hits` with the members of the query's duplicate `group` the search did not find (all
    of them when there are no embeddings), at their similarity to the group's keeper and with
    how the scan's pixel check said each was made; best first."""
    if group is None:
        return hits
    found = {h.index for h in hits}
    made = {d.index: d for d in group.derivation}
    extra = []
    for m in group.members:
        if m.index == row or m.index in found:
            continue
        d = made.get(m.index)
        how = ", ".join(d.how) if d is not None and d.how else ""
        if not how and group.tier is not Tier.NEAR:
            how = "same bytes" if group.tier is Tier.EXACT else "same pixels"
        extra.append(SimilarHit(m.index, m.similarity, group.tier, how))
    merged = sorted(hits + extra, key=lambda h: (-h.similarity, records[h.index].path))
    return merged[:top]
