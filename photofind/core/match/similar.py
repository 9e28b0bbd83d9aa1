"""The photos most like one photo: the engine behind `photofind similar` and the GUI's
"browse similar" view.

Small libraries are searched exactly (one matrix-vector product). Big ones use LSH
candidates (`QueryIndex`): the query's buckets first, then buckets at Hamming distance 1
and 2, widening until enough candidates are found, and exact search if even that is not
enough. Candidates are always ranked by their exact cosine.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, NamedTuple

import numpy as np

from photofind.core.match.lsh import Hyperplanes
from photofind.core.match.pairsearch import auto_params, unique_sorted
from photofind.core.types import FileRef, ImageRecord, Thresholds, Tier

QUERY_EXACT_BELOW = 200_000  # below this, one matrix-vector product (< 0.1 s) beats an index
MAX_RADIUS = 2


class SimilarSearchError(ValueError):
    """The search cannot run; the message says why, for the user."""


class SimilarHit(NamedTuple):
    index: int  # type: ignore[assignment]  # position in the records (shadows tuple.index)
    similarity: float  # cosine to the query (1.0 for the same bytes)
    tier: Tier | None  # exact, near (pixels confirm), similar, or None: below both thresholds


@dataclass(frozen=True)
class Query:
    """A query photo: its embedding, and what the pixel check needs when it is a file."""

    vector: np.ndarray
    record: ImageRecord | None = None
    thumb: np.ndarray | None = None
    library_index: int | None = None  # the query itself, when it is in the library


class QueryIndex:
    """Per-table sorted keys of a fixed set of vectors, for candidate lookups by key."""

    def __init__(self, vectors: np.ndarray, planes: Hyperplanes) -> None:
        self.planes = planes
        sig = planes.signatures(np.ascontiguousarray(vectors, np.float32))
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
    """Decode `path` as the scan does and embed it with `embedder` (prepare + embed)."""
    from photofind.core.scan.hashing import content_hash_file, gray_thumb, phash
    from photofind.core.scan.imageio import decode_file
    from photofind.core.types import Skipped

    decoded = decode_file(path)
    if isinstance(decoded, Skipped):
        raise SimilarSearchError(f"cannot read {path}: {decoded.detail or decoded.reason.value}")
    if embedder is None:
        raise SimilarSearchError("searching by an image outside the library needs the similarity model")
    vector = np.asarray(embedder.embed(np.stack([embedder.prepare(decoded.image)]))[0], np.float32)
    st = os.stat(path)
    record = ImageRecord(
        FileRef(path, st.st_size, st.st_mtime_ns),
        content_hash_file(path),
        decoded.facts,
        phash(decoded.image),
    )
    return Query(vector, record, gray_thumb(decoded.image, 32).astype(np.uint8))


def resolve_query(
    query: Any,
    records: Sequence[ImageRecord],
    embeddings: np.ndarray | None,
    thumbs: np.ndarray | None = None,
    embedder: Any = None,
) -> Query:
    """A Query from an embedding, a Query, or a path (a library photo reuses its embedding)."""
    if isinstance(query, Query):
        return query
    if isinstance(query, np.ndarray):
        return Query(np.asarray(query, np.float32).ravel())
    path = os.path.abspath(os.fspath(query))
    wanted = {path, os.path.realpath(path)}
    index = next((i for i, r in enumerate(records) if r.path in wanted), None)
    if index is not None:
        vector = None if embeddings is None else np.asarray(embeddings[index], np.float32)
        thumb = thumbs[index] if thumbs is not None else None
        if vector is not None and float(vector @ vector) > 0.25:
            return Query(vector, records[index], thumb, index)
        if embedder is None:  # no embedding for it: its byte copies can still be listed
            return Query(np.zeros(0, np.float32), records[index], thumb, index)
    if not os.path.isfile(path):
        raise SimilarSearchError(f"no such image: {query}")
    found = embed_query(path, embedder)
    return Query(found.vector, found.record, found.thumb, index)


def find_similar(
    query: Any,
    records: Sequence[ImageRecord],
    embeddings: np.ndarray | None,
    *,
    top: int = 20,
    thumbs: np.ndarray | None = None,
    thresholds: Thresholds | None = None,
    embedder: Any = None,
    index: QueryIndex | None = None,
    exact_below: int = QUERY_EXACT_BELOW,
) -> list[SimilarHit]:
    """The `top` photos most like `query` (a path, an embedding or a Query), best first.

    The query itself is left out (also when it is a file of the library); its byte-identical
    copies come first at similarity 1.0. Tiers: exact (same bytes), near (cosine >= near and
    the pixel check confirms; an embedding query has no pixels, so its cosine decides),
    similar (cosine >= similar), else None. `index` (a QueryIndex over `embeddings`) is
    used for libraries of `exact_below` photos or more, and built here if not given.
    """
    t = thresholds or Thresholds()
    q = resolve_query(query, records, embeddings, thumbs, embedder)
    scores: dict[int, float] = {}
    if q.record is not None:
        for i, r in enumerate(records):
            if r.content_hash == q.record.content_hash:
                scores[i] = 1.0
    if embeddings is not None and len(q.vector) and len(records):
        for i, s in _nearest(q.vector, embeddings, top + len(scores) + 1, index, exact_below, t):
            scores.setdefault(i, s)
    if q.library_index is not None:
        scores.pop(q.library_index, None)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], records[kv[0]].path))[:top]
    return [SimilarHit(i, s, _tier(q, i, s, records, thumbs, t)) for i, s in ranked]


def _nearest(
    vector: np.ndarray,
    embeddings: np.ndarray,
    want: int,
    index: QueryIndex | None,
    exact_below: int,
    thresholds: Thresholds,
) -> list[tuple[int, float]]:
    n = len(embeddings)
    if n >= exact_below:
        index = index or _shared_index(embeddings, thresholds)
        found = np.zeros(0, np.int64)
        for radius in range(MAX_RADIUS + 1):
            found = unique_sorted(np.concatenate([found, index.candidates(vector, radius)]))
            if len(found) >= 4 * want + 32:  # enough to rank: the true top few are among them
                break
        if len(found) >= want:
            sims = embeddings[found] @ vector
            best = np.argsort(-sims, kind="stable")[:want]
            return [(int(found[k]), float(sims[k])) for k in best if sims[k] > -1.0]
    sims = np.empty(n, np.float32)
    for s in range(0, n, 65536):
        block = embeddings[s : s + 65536]
        sims[s : s + 65536] = np.where(np.einsum("ij,ij->i", block, block) > 0.25, block @ vector, -2.0)
    best = np.argsort(-sims, kind="stable")[:want]
    return [(int(i), float(sims[i])) for i in best if sims[i] > -1.0]


_INDEXES: dict[int, tuple[Any, QueryIndex]] = {}


def _shared_index(embeddings: np.ndarray, thresholds: Thresholds) -> QueryIndex:
    """One index per embeddings array, kept while the array lives: a GUI clicking through
    photos pays for the index once."""
    key = id(embeddings)
    hit = _INDEXES.get(key)
    if hit is not None and hit[0]() is embeddings:
        return hit[1]
    valid = np.einsum("ij,ij->i", embeddings, embeddings) > 0.25
    index = QueryIndex.build(np.where(valid[:, None], embeddings, 0.0), thresholds)
    _INDEXES.clear()
    _INDEXES[key] = (weakref.ref(embeddings), index)
    return index


def _tier(q: Query, i: int, sim: float, records, thumbs, t: Thresholds) -> Tier | None:
    if q.record is not None and records[i].content_hash == q.record.content_hash:
        return Tier.EXACT
    if sim >= t.near:
        if q.record is None or q.thumb is None or thumbs is None:
            return Tier.NEAR
        from photofind.core.match.verify import pixel_check

        if pixel_check(q.record, records[i], q.thumb, thumbs[i]) is not None:
            return Tier.NEAR
    return Tier.SIMILAR if sim >= t.similar else None


def search_result(
    result: Any, path: str, top: int, *, embedder: Any = None, index: QueryIndex | None = None
) -> list[tuple[str, float, str]]:
    """For the GUI: (path, similarity, tier value or "") of the `top` photos of a finished
    scan most like `path`. Raises SimilarSearchError with a message for the user."""
    if result.embeddings is None or result.model is None:
        if not any(r.path == os.path.abspath(path) for r in result.records):
            raise SimilarSearchError(result.model_problem or "visual similarity is off for this scan")
    elif embedder is not None and embedder.model.id != result.model.id:
        raise SimilarSearchError("the loaded model differs from the one this scan used; scan again")
    hits = find_similar(
        path,
        result.records,
        result.embeddings,
        top=top,
        thumbs=result.thumbs,
        thresholds=result.settings.thresholds,
        embedder=embedder,
        index=index,
    )
    return [(result.records[h.index].path, h.similarity, h.tier.value if h.tier else "") for h in hits]
