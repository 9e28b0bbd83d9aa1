""" "Photos like this one" over a finished scan, for the similar view. No Qt here: it runs on a
pool thread and reads only the immutable ScanResult.

It uses the engine's similar search (photofind.core.match.similar) when that module provides one,
and otherwise a brute-force cosine over the result's embeddings, which at 100k x 512 floats
is one matrix-vector product (~50 ms), fast enough for a click.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from photofind.core.types import ScanResult, Tier

Match = tuple[str, float, str]  # path, similarity, tier ("" when below every threshold)


class NoModel(RuntimeError):
    """There are no embeddings to compare: the message says why, for the user."""


def search(result: ScanResult, path: str, top: int, *, embedder: Any = None) -> list[Match]:
    """The `top` photos of `result` most like `path` (inside the library or not), best first,
    the query itself left out. Exact copies come first, at similarity 1.0."""
    engine = _engine_search(result, path, top, embedder)
    if engine is not None:
        return engine
    records = result.records
    position = {r.path: i for i, r in enumerate(records)}
    query_index = position.get(os.path.abspath(path), position.get(path))
    query_hash = records[query_index].content_hash if query_index is not None else _hash_file(path)
    vector = _query_vector(result, query_index, path, embedder)
    thresholds = result.settings.thresholds
    scored: list[tuple[float, int]] = []
    if vector is not None:
        sims = result.embeddings @ vector
        valid = np.einsum("ij,ij->i", result.embeddings, result.embeddings) > 0.25
        sims = np.where(valid, sims, -1.0)
        order = np.argsort(-sims, kind="stable")[: top + 1 + _copies(records, query_hash)]
        scored = [(float(sims[i]), int(i)) for i in order if sims[i] > -1.0]
    exact = [i for i, r in enumerate(records) if r.content_hash == query_hash]
    seen: set[int] = set()
    out: list[Match] = []
    for sim, i in [(1.0, i) for i in exact] + scored:
        if i == query_index or i in seen:
            continue
        seen.add(i)
        same_bytes = records[i].content_hash == query_hash
        out.append(
            (
                records[i].path,
                1.0 if same_bytes else min(sim, 1.0),
                Tier.EXACT.value if same_bytes else _tier(sim, thresholds),
            )
        )
        if len(out) >= top:
            break
    return out


def _tier(similarity: float, thresholds: Any) -> str:
    if similarity >= thresholds.near:
        return Tier.NEAR.value
    if similarity >= thresholds.similar:
        return Tier.SIMILAR.value
    return ""


def _copies(records, content_hash: str | None) -> int:
    return sum(1 for r in records if r.content_hash == content_hash) if content_hash else 0


def _query_vector(result: ScanResult, index: int | None, path: str, embedder: Any) -> np.ndarray | None:
    if result.embeddings is None or result.model is None:
        if index is not None:
            return None  # exact copies can still be listed
        raise NoModel(result.model_problem or "visual similarity is off for this scan")
    if index is not None:
        vector = np.asarray(result.embeddings[index], dtype=np.float32)
        if float(vector @ vector) > 0.25:
            return vector
    if embedder is None:
        raise NoModel("the similarity model is not loaded; scan again to load it")
    from photofind.core.scan.imageio import decode_file
    from photofind.core.types import Skipped

    decoded = decode_file(path)
    if isinstance(decoded, Skipped):
        raise ValueError(f"cannot read {os.path.basename(path)}: {decoded.detail or decoded.reason.value}")
    if embedder.model.id != result.model.id:
        raise NoModel("the loaded model differs from the one this scan used; scan again")
    batch = np.stack([embedder.prepare(decoded.image)])
    return np.asarray(embedder.embed(batch)[0], dtype=np.float32)


def _hash_file(path: str) -> str | None:
    try:
        from photofind.core.scan.hashing import content_hash_file

        return content_hash_file(path)
    except OSError:
        return None


def _engine_search(result: ScanResult, path: str, top: int, embedder: Any) -> list[Match] | None:
    """The matching engine's search, once photofind.core.match.similar offers `search_result`."""
    try:
        from photofind.core.match import similar
    except ImportError:
        return None
    fn = getattr(similar, "search_result", None)
    if fn is None:
        return None
    return [
        (p, float(s), str(getattr(t, "value", t))) for p, s, t in fn(result, path, top, embedder=embedder)
    ]
