"""Derivation trees remembered between scans. A group's tree (phylogeny.infer) depends only on
its members' contents (their details, facts and verdicts against the anchor) and on which
members are the anchor and the root, so an unchanged group takes its tree from the scan cache
and no detail image is decoded: at 100k photos that decoding was most of a warm rescan.

The cache keeps one entry: the trees the last grouping used, so it does not grow with every
slider position or library change."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from typing import Any

from photofind.core.match.detail import DETAIL_FORMAT
from photofind.core.match.phylogeny import Node
from photofind.core.match.verify import VERIFIER_VERSION

TREE_VERSION = 1  # bump when phylogeny.infer would answer differently for the same inputs
NAMESPACE = "trees"
_KEY = "last"


def tree_key(hashes: Sequence[str], anchor: int, root: int | None) -> str:
    """Names one tree: the members' content hashes in group order, the anchor's and the
    root's positions, and every version its answer depends on."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{TREE_VERSION}/{VERIFIER_VERSION}/{DETAIL_FORMAT}/{anchor}/{root}".encode())
    for h in hashes:
        digest.update(h.encode() + b"\0")
    return digest.hexdigest()


class TreeMemo:
    """The last grouping's trees, read from `cache` once; `save` writes the trees this
    grouping used when they differ from what was read."""

    def __init__(self, cache: Any) -> None:
        self._cache = cache
        self._stored: dict[str, list] = {}
        if cache is not None:
            saved = cache.get_blob(NAMESPACE, _KEY)
            if saved is not None:
                self._stored = json.loads(zlib.decompress(saved))
        self._used: dict[str, list] = {}

    def get(self, key: str) -> list[Node] | None:
        rows = self._used.get(key) or self._stored.get(key)
        if rows is None:
            return None
        self._used[key] = rows
        return [Node(parent, tuple(how), original, pixels) for parent, how, original, pixels in rows]

    def put(self, key: str, nodes: Sequence[Node]) -> None:
        self._used[key] = [[n.parent, list(n.how), n.original, n.content_pixels] for n in nodes]

    def has(self, key: str) -> bool:
        return key in self._used or key in self._stored

    def save(self) -> None:
        if self._cache is not None and self._used.keys() != self._stored.keys():
            self._cache.put_blob(NAMESPACE, _KEY, zlib.compress(json.dumps(self._used).encode(), 1))
            self._stored = self._used
        self._used = {}
