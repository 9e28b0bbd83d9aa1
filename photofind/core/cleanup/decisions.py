"""Remembered review decisions, "not a duplicate" and "keep all", stored by content hash so
they survive renames and moves, and applied to groups after every (re)grouping.

A "not a duplicate" decision over files A, B, C means no two of them with different bytes
are grouped again. A "keep all" decision hides any group whose contents are all covered by
it; a group that gains new contents shows again, since there is something new to decide.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any

from photofind.core.cleanup.keep import (
    KeeperPolicy,
    RuleError,
    apply_policy,
    policy_from_settings,
    similarity,
)
from photofind.core.match.units import fold_raw_companions
from photofind.core.scan.companions import Companions
from photofind.core.store import SQLiteStore, StoreError, Transaction, path_from_key, path_key
from photofind.core.types import Group, ImageRecord, Member, ScanSettings, Tier
from photofind.paths import data_dir

SCHEMA_VERSION = 1
APP_ID = "photofind-decisions"
_CHUNK = 500

_SCHEMA = """
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE decision_files (
    decision_id INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (decision_id, content_hash)
);
CREATE INDEX decision_files_by_hash ON decision_files(content_hash)
"""


def default_decisions_path() -> Path:
    return data_dir() / "decisions.sqlite3"


class Kind(str, Enum):
    NOT_DUPLICATE = "not-duplicate"
    KEEP_ALL = "keep-all"


@dataclass(frozen=True)
class Decision:
    id: int
    kind: Kind
    created: float
    hashes: tuple[str, ...]
    paths: tuple[str, ...]  # where the files were when decided: for display only


class DecisionIndex:
    """The decisions that concern a set of content hashes, ready for fast pair questions."""

    def __init__(self, decisions: Iterable[Decision] = ()) -> None:
        self._apart: dict[str, set[int]] = {}
        self._keep_all: list[frozenset[str]] = []
        for d in decisions:
            if d.kind is Kind.KEEP_ALL:
                self._keep_all.append(frozenset(d.hashes))
            else:
                for h in d.hashes:
                    self._apart.setdefault(h, set()).add(d.id)

    def __bool__(self) -> bool:
        return bool(self._apart or self._keep_all)

    def apart(self, a: str, b: str) -> bool:
        """The user said files with these (different) contents are not duplicates."""
        return a != b and bool(self._apart.get(a, set()) & self._apart.get(b, set()))

    def hidden(self, hashes: Iterable[str]) -> bool:
        """A "keep all" decision covers every content in the group."""
        wanted = set(hashes)
        return any(wanted <= kept for kept in self._keep_all)


class DecisionStore(SQLiteStore):
    """SQLite in the data dir (not the cache: clearing the cache must not forget decisions)."""

    APP_ID = APP_ID
    SCHEMA_VERSION = SCHEMA_VERSION
    SCHEMA = _SCHEMA

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path or default_decisions_path())

    def add(self, kind: Kind | str, hashes: Sequence[str], paths: Sequence[str] = ()) -> int:
        """Remember a decision about files with these contents; returns its id. "Not a
        duplicate" over a single content (byte copies) is stored as "keep all"."""
        kind = Kind(kind)
        by_hash = dict(zip(hashes, list(paths) + [""] * (len(hashes) - len(paths))))
        if not by_hash:
            raise ValueError("a decision needs at least one file")
        if kind is Kind.NOT_DUPLICATE and len(by_hash) == 1:
            kind = Kind.KEEP_ALL
        with self._lock, Transaction(self._db):
            cur = self._db.execute(
                "INSERT INTO decisions(kind, created) VALUES (?, ?)", (kind.value, time.time())
            )
            assert cur.lastrowid is not None  # set by every INSERT
            decision = cur.lastrowid
            self._db.executemany(
                "INSERT INTO decision_files(decision_id, content_hash, path) VALUES (?, ?, ?)",
                [(decision, h, path_key(p)) for h, p in by_hash.items()],
            )
        return decision

    def not_duplicate(self, records: Sequence[ImageRecord], indices: Sequence[int]) -> int:
        """These files (a pair, or a whole group) are not duplicates of each other."""
        return self.add(Kind.NOT_DUPLICATE, *_hashes_and_paths(records, indices))

    def keep_all(self, records: Sequence[ImageRecord], indices: Sequence[int]) -> int:
        """Keep every one of these files; do not show them as a group again."""
        return self.add(Kind.KEEP_ALL, *_hashes_and_paths(records, indices))

    def list(self) -> list[Decision]:
        with self._lock:
            rows = self._db.execute("SELECT id, kind, created FROM decisions ORDER BY id").fetchall()
            files = self._db.execute(
                "SELECT decision_id, content_hash, path FROM decision_files ORDER BY decision_id, path"
            ).fetchall()
        by_id: dict[int, list[tuple[str, str]]] = {}
        for did, h, p in files:
            by_id.setdefault(did, []).append((h, path_from_key(p)))
        return [
            Decision(
                did,
                Kind(kind),
                created,
                tuple(h for h, _ in by_id.get(did, [])),
                tuple(p for _, p in by_id.get(did, [])),
            )
            for did, kind, created in rows
        ]

    def remove(self, decision_id: int) -> bool:
        with self._lock, Transaction(self._db):
            self._db.execute("DELETE FROM decision_files WHERE decision_id = ?", (decision_id,))
            return self._db.execute("DELETE FROM decisions WHERE id = ?", (decision_id,)).rowcount > 0

    def clear(self) -> int:
        with self._lock, Transaction(self._db):
            self._db.execute("DELETE FROM decision_files")
            return self._db.execute("DELETE FROM decisions").rowcount

    def index_for(self, hashes: Iterable[str]) -> DecisionIndex:
        """Every decision touching any of `hashes`, in batched queries."""
        keys = list(dict.fromkeys(hashes))
        ids: set[int] = set()
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk: list[Any] = keys[start : start + _CHUNK]  # hashes here, decision ids below
                marks = ",".join("?" * len(chunk))
                ids.update(
                    r[0]
                    for r in self._db.execute(
                        f"SELECT DISTINCT decision_id FROM decision_files WHERE content_hash IN ({marks})",
                        chunk,
                    )
                )
            found: list[Decision] = []
            id_list = sorted(ids)
            for start in range(0, len(id_list), _CHUNK):
                chunk = id_list[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                kinds = dict(self._db.execute(f"SELECT id, kind FROM decisions WHERE id IN ({marks})", chunk))
                members: dict[int, list[str]] = {}
                for did, h in self._db.execute(
                    f"SELECT decision_id, content_hash FROM decision_files WHERE decision_id IN ({marks})",
                    chunk,
                ):
                    members.setdefault(did, []).append(h)
                found.extend(
                    Decision(did, Kind(kinds[did]), 0.0, tuple(members.get(did, [])), ())
                    for did in chunk
                    if did in kinds
                )
        return DecisionIndex(found)


def _hashes_and_paths(records: Sequence[ImageRecord], indices: Sequence[int]) -> tuple[list[str], list[str]]:
    chosen = [records[i] for i in indices]
    return [r.content_hash for r in chosen], [r.path for r in chosen]


# -- applying decisions to groups --------------------------------------------------------------


def apply(
    groups: Sequence[Group],
    records: Sequence[ImageRecord],
    *,
    index: DecisionIndex | None = None,
    store: DecisionStore | None = None,
    policy: KeeperPolicy | None = None,
    embeddings: Any = None,
) -> tuple[Group, ...]:
    """Groups without what the user decided: "keep all" groups vanish, "not a duplicate" pairs
    are split apart (what remains together must still be two or more files). With `policy`,
    every keeper is re-picked by it. Ids are renumbered only if a group changed."""
    if index is None and store is not None:
        index = store.index_for(records[i].content_hash for g in groups for i in g.indices)
    out: list[Group] = []
    changed = False
    for group in groups:
        parts = _split(group, records, index, embeddings) if index else [group]
        changed |= parts != [group]
        for part in parts:
            if policy is not None:  # with the group's derivation tree, which `original` needs
                (part,) = apply_policy((part,), records, policy, embeddings)
            out.append(part)
    if changed:
        out = [replace(g, id=n) for n, g in enumerate(out, start=1)]
    return tuple(out)


def _split(
    group: Group, records: Sequence[ImageRecord], index: DecisionIndex, embeddings: Any
) -> list[Group]:
    hashes = [records[i].content_hash for i in group.indices]
    if index.hidden(hashes):
        return []
    if not any(index.apart(a, b) for n, a in enumerate(hashes) for b in hashes[n + 1 :]):
        return [group]
    # Greedy, strongest match first: each file joins the first part it has no decision against.
    parts: list[list[Member]] = []
    for member in group.members:
        h = records[member.index].content_hash
        for part in parts:
            if not any(index.apart(h, records[m.index].content_hash) for m in part):
                part.append(member)
                break
        else:
            parts.append([member])
    result = []
    for members in parts:
        if len(members) < 2:
            continue
        contents = {records[m.index].content_hash for m in members}
        if index.hidden(contents):
            continue
        exact = len(contents) == 1
        first = members[0].index
        if first != group.keep_index:  # similarities were to a file no longer in this part
            members = [Member(first, 1.0)] + [
                Member(m.index, similarity(records, embeddings, first, m.index, m.similarity))
                for m in members[1:]
            ]
        sims = [m.similarity for m in members[1:]]
        result.append(
            replace(
                group,
                tier=Tier.EXACT if exact else group.tier,
                members=tuple(members),
                min_similarity=min(sims),
                mean_similarity=sum(sims) / len(sims),
                why=("same bytes",) if exact else group.why,
            )
        )
    return result


def apply_for_scan(
    groups: Sequence[Group],
    records: Sequence[ImageRecord],
    embeddings: Any,
    settings: ScanSettings,
    *,
    companions: Companions | None = None,
) -> tuple[tuple[Group, ...], tuple[str, ...]]:
    """The pipeline's (and a regroup's) hook: the scan's capture units (photofind.core.match.units),
    the settings' keeper policy, then the remembered decisions from the data dir. Returns the groups and warnings for the user;
    a broken store is a warning, never a failed scan."""
    warnings: list[str] = []
    try:
        policy = policy_from_settings(settings)
    except RuleError as exc:
        warnings.append(f"keeper rules ignored ({exc}); the default chain was used")
        policy = KeeperPolicy()
    if companions:  # a RAW+JPEG shot is one unit, and complete units are kept first
        groups = fold_raw_companions(groups, records, companions)
        policy = policy.with_units(companions)
    index = None
    path = Path(settings.decisions_path or default_decisions_path())
    if settings.use_decisions and groups and path.exists():
        try:
            with DecisionStore(path) as store:
                warnings.extend(store.warnings)
                index = store.index_for(records[i].content_hash for g in groups for i in g.indices)
        except (StoreError, OSError) as exc:
            warnings.append(f"remembered decisions were not applied: {exc}")
    return apply(groups, records, index=index, policy=policy, embeddings=embeddings), tuple(warnings)
