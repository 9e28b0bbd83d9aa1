"""Which file of a group to keep: a chain of rules, ties falling to the next rule.

A chain reads like `original,resolution,format,size,unedited,oldest,mtime,shortest` (see
`RULES`). Files inside a protected folder always win, before any rule; the path breaks the
last tie so the choice never depends on scan order.

`original` and `edited` use the derivation tree the grouping inferred for a duplicate group
(photofind.core.match.phylogeny, carried as `Group.derivation`); `resolution` counts the
picture's own pixels there (letterbox bars excluded, an upscaled copy credited no more than
its source). Without a tree (a similar group, a hand-picked set) `original` and `edited`
tie and `resolution` counts every pixel.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

from photofind.core.scan.companions import Companions, kinds_by_path
from photofind.core.scan.formats import RAW_EXTENSIONS
from photofind.core.types import Derivation, Group, ImageRecord, Member, ScanSettings

DEFAULT_FORMAT_ORDER = ("raw", "heic", "jpeg", "png", "webp")
DEFAULT_CHAIN = "original,resolution,complete,format,unedited,oldest,mtime,size,shortest"

# The keeper chains offered to users (the GUI's "Keep in each group" menu): a label and the chain
# ("" is the default chain).
KEEP_PRESETS: tuple[tuple[str, str], ...] = (
    ("Best quality: resolution, format, size", ""),
    (
        "Original names: no 'copy', '(1)' or '-edited'",
        "unedited,resolution,complete,format,size,oldest,mtime,shortest",
    ),
    ("Oldest photo", "oldest,resolution,complete,format,size,unedited,mtime,shortest"),
    ("Newest photo", "newest,resolution,complete,format,size,unedited,mtime,shortest"),
)

_FORMAT_BY_PIL = {
    "JPEG": "jpeg",
    "MPO": "jpeg",
    "PNG": "png",
    "WEBP": "webp",
    "HEIF": "heic",
    "HEIC": "heic",
    "AVIF": "avif",
    "TIFF": "tiff",
    "GIF": "gif",
    "BMP": "bmp",
}
_FORMAT_BY_EXT = {
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".jpe": "jpeg",
    ".png": "png",
    ".webp": "webp",
    ".heic": "heic",
    ".heif": "heic",
    ".avif": "avif",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".gif": "gif",
    ".bmp": "bmp",
}
_FORMAT_ALIASES = {"jpg": "jpeg", "heif": "heic", "tif": "tiff", "dng": "raw"}

# Names that file managers, phones and editors give to copies and edits of a photo.
_EDIT_MARKERS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"(^|[\s_\-.])(copy|kopie|copie|copia|kopia)(\s*\d+)?($|[\s_\-.])",  # "a copy", "a - Copy 2"
        r"\(\d+\)$",  # "a (1)" from browsers and Windows
        r"[\s_\-](edited|edit|bearbeitet|modifie|modifié)(\d*)$",  # Google Photos "-edited", "-Edit"
        r"-(effects|collage|animation|retouch)$",
    )
)


class RuleError(ValueError):
    """A rule chain that cannot be parsed; the message says what is accepted."""


@dataclass(frozen=True)
class Rule:
    """One link of a chain: `name` is canonical (see RULES), `args` its parameters."""

    name: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.name == "folder":
            return "folder:" + "|".join(self.args)
        if self.name == "format" and self.args != DEFAULT_FORMAT_ORDER:
            return "format:" + ">".join(self.args)
        return self.name


# canonical name -> (aliases, what it prefers)
RULES: dict[str, tuple[tuple[str, ...], str]] = {
    "original": (("root", "source"), "the original: the other copies were made from it"),
    "edited": (("derived", "edit"), "an edited copy: made from another photo of the group"),
    "resolution": (("pixels", "res"), "highest resolution"),
    "size": (("largest", "bytes"), "largest file"),
    "oldest": (("oldest-taken",), "oldest date taken"),
    "newest": (("newest-taken",), "newest date taken"),
    "mtime": (("oldest-file", "oldest-mtime"), "oldest file time"),
    "folder": (("prefer", "preferred"), "in a preferred folder (folder:PATH|PATH...)"),
    "unedited": (("original-name", "not-edited"), "name without copy/(1)/-edited"),
    "format": (("type",), "format order (format:raw>heic>jpeg>png>webp)"),
    "shortest": (("shortest-path", "path"), "shortest path"),
    "complete": (("unit", "companions"), "the most complete capture unit (Live video, RAW, sidecars)"),
}
_ALIAS = {alias: name for name, (aliases, _) in RULES.items() for alias in (name, *aliases)}


def parse_rules(text: str) -> tuple[Rule, ...]:
    """`"resolution,size,folder:/photos/originals,format:heic>jpeg"` -> rules. Empty text gives
    the default chain. Raises RuleError naming the bad token and the known rules."""
    rules: list[Rule] = []
    for token in (text or DEFAULT_CHAIN).split(","):
        token = token.strip()
        if not token:
            continue
        head, sep, arg = token.partition(":")  # first colon only: "folder:C:\\x" keeps its drive
        name = _ALIAS.get(head.strip().lower())
        if name is None:
            known = ", ".join(RULES)
            raise RuleError(f"unknown keeper rule {head.strip()!r}; known rules: {known}")
        if name == "folder":
            folders = tuple(
                os.path.abspath(os.path.expanduser(p.strip())) for p in arg.split("|") if p.strip()
            )
            if not folders:
                raise RuleError("the folder rule needs a folder: folder:PATH (several: folder:A|B)")
            rules.append(Rule("folder", folders))
        elif name == "format":
            order = parse_format_order(arg) if sep else DEFAULT_FORMAT_ORDER
            rules.append(Rule("format", order))
        else:
            if sep:
                raise RuleError(f"the {name} rule takes no argument (got {token!r})")
            rules.append(Rule(name))
    if not rules:
        raise RuleError("the rule chain is empty")
    return tuple(rules)


def parse_format_order(text: str) -> tuple[str, ...]:
    """`"raw>heic>jpeg"` (or with `/` or spaces) -> ("raw", "heic", "jpeg")."""
    names = [t.strip().lower().lstrip(".") for t in re.split(r"[>/\s]+", text) if t.strip()]
    if not names:
        raise RuleError("the format rule needs an order, e.g. format:raw>heic>jpeg>png>webp")
    return tuple(dict.fromkeys(_FORMAT_ALIASES.get(n, n) for n in names))


def format_rules(rules: Sequence[Rule]) -> str:
    return ",".join(str(r) for r in rules)


def format_class(record: ImageRecord) -> str:
    """ "raw", "heic", "jpeg", ... from the extension (RAW) or the decoder's format name."""
    ext = os.path.splitext(record.path)[1].lower()
    if ext in RAW_EXTENSIONS:
        return "raw"
    by_pil = _FORMAT_BY_PIL.get((record.facts.format or "").upper())
    return by_pil or _FORMAT_BY_EXT.get(ext, ext.lstrip(".") or "unknown")


def edit_markers(path: str) -> int:
    """How many copy/edit markers the file name carries ("a copy (1).jpg" -> 2)."""
    stem = os.path.splitext(os.path.basename(path))[0].strip()
    return sum(1 for pattern in _EDIT_MARKERS if pattern.search(stem))


@lru_cache(maxsize=65536)
def _real_folder(folder: str) -> str:
    # Cached per folder: files share folders, and resolving symlinks costs a stat per level.
    return os.path.normcase(os.path.realpath(folder))


def clear_path_cache() -> None:
    """Forget resolved folders (call before acting, in case links changed since the scan)."""
    _real_folder.cache_clear()


def is_under(path: str, folder: str) -> bool:
    """`path` is `folder` or inside it, compared both as written and with the folders'
    symlinks resolved (the file itself is not resolved: acting never follows a file link)."""
    p, f = os.path.normcase(os.path.abspath(path)), os.path.normcase(os.path.abspath(folder))
    if p == f or p.startswith(f.rstrip(os.sep) + os.sep):
        return True
    head, name = os.path.split(p)
    p, f = os.path.join(_real_folder(head), name), _real_folder(f)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def in_protected(path: str, protected: Sequence[str]) -> bool:
    return any(is_under(path, folder) for folder in protected)


def _taken_ts(record: ImageRecord) -> float | None:
    return _parse_taken(record.facts.taken) if record.facts.taken else None


@lru_cache(maxsize=4096)  # copies and bursts share their date
def _parse_taken(taken: str) -> float | None:
    try:
        return datetime.fromisoformat(taken.replace("Z", "")).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


Evidence = Derivation | None  # a member's place in its group's derivation tree, if known
RuleKey = Callable[[ImageRecord, Evidence], Any]


def _rule_key(rule: Rule) -> RuleKey:
    """Smaller is better, for every rule."""
    name = rule.name
    if name == "original":
        return lambda r, d: 0 if d is None or d.original else 1
    if name == "edited":
        return lambda r, d: 1 if d is None or d.original else 0
    if name == "resolution":
        return lambda r, d: -(d.content_pixels if d is not None and d.content_pixels else r.facts.pixels)
    if name == "size":
        return lambda r, d: -r.file.size
    if name == "oldest":
        return lambda r, d: (0, t) if (t := _taken_ts(r)) is not None else (1, 0.0)
    if name == "newest":
        return lambda r, d: (0, -t) if (t := _taken_ts(r)) is not None else (1, 0.0)
    if name == "mtime":
        return lambda r, d: r.file.mtime_ns
    if name == "folder":
        folders = rule.args
        return lambda r, d: next((n for n, f in enumerate(folders) if is_under(r.path, f)), len(folders))
    if name == "unedited":
        return lambda r, d: edit_markers(r.path)
    if name == "format":
        rank = {f: n for n, f in enumerate(rule.args)}
        return lambda r, d: rank.get(format_class(r), len(rank))
    if name == "shortest":
        return lambda r, d: len(r.path)
    raise RuleError(f"unknown keeper rule {name!r}")


def derivations_of(group: Group) -> dict[int, Derivation]:
    """A group's derivation tree by member index (empty for a group without one)."""
    return {d.index: d for d in group.derivation}


@dataclass(frozen=True)
class KeeperPolicy:
    """A rule chain plus the protected folders, whose files always win."""

    rules: tuple[Rule, ...] = field(default_factory=lambda: parse_rules(DEFAULT_CHAIN))
    protected: tuple[str, ...] = ()
    # Photo path -> the kinds of companion its capture unit carries (photofind.core.scan.companions);
    # what the `complete` rule compares. Empty: every unit counts as a lone photo.
    unit_kinds: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, chain: str = "", protected: Sequence[str] = ()) -> KeeperPolicy:
        return cls(parse_rules(chain), tuple(os.path.abspath(p) for p in protected))

    def key(self, record: ImageRecord, derivation: Evidence = None) -> tuple:
        """The full sort key (smallest wins); `pick` gives the same answer faster."""
        keys = [fn(record, derivation) for fn in self._keys]
        return (0 if in_protected(record.path, self.protected) else 1, *keys, record.path)

    def with_units(self, companions: Companions) -> KeeperPolicy:
        """This policy, with a scan's capture units (`ScanResult.companions`) for the `complete` rule."""
        return replace(self, unit_kinds=kinds_by_path(companions))

    @cached_property
    def _keys(self) -> list[RuleKey]:
        return [self._complete_key if r.name == "complete" else _rule_key(r) for r in self.rules]

    def _complete_key(self, record: ImageRecord, derivation: Evidence = None) -> int:
        """Fewer companion kinds is worse: a Live Photo with its video beats the bare photo."""
        return -len(self.unit_kinds.get(record.path, ()))

    def pick(
        self,
        records: Sequence[ImageRecord],
        indices: Sequence[int],
        derivations: Mapping[int, Derivation] | None = None,
    ) -> int:
        """The keeper among `indices`. Rule by rule, only the files still tied are looked at,
        so a later (dearer) rule runs only when the earlier ones tie. `derivations`: the
        group's derivation tree by index (`derivations_of`), for `original` and `resolution`."""
        tree = derivations or {}
        candidates = list(indices)
        if not candidates:
            raise ValueError("no files to pick a keeper from")
        if self.protected and len(candidates) > 1:
            inside = [i for i in candidates if in_protected(records[i].path, self.protected)]
            candidates = inside or candidates
        for key in self._keys:
            if len(candidates) == 1:
                return candidates[0]
            values = [key(records[i], tree.get(i)) for i in candidates]
            best = min(values)
            candidates = [i for i, v in zip(candidates, values) if v == best]
        return min(candidates, key=lambda i: records[i].path)

    def explain(
        self,
        records: Sequence[ImageRecord],
        indices: Sequence[int],
        derivations: Mapping[int, Derivation] | None = None,
    ) -> str:
        """Why the keeper won, in words: the first rule where it beat the runner-up."""
        if len(indices) < 2:
            return "only file"
        tree = derivations or {}
        ranked = sorted(indices, key=lambda i: self.key(records[i], tree.get(i)))
        best = self.key(records[ranked[0]], tree.get(ranked[0]))
        second = self.key(records[ranked[1]], tree.get(ranked[1]))
        if best[0] != second[0]:
            return "in a protected folder"
        for n, rule in enumerate(self.rules, start=1):
            if best[n] != second[n]:
                return RULES[rule.name][1]
        return "first path in order (all rules tied)"


DEFAULT_POLICY = KeeperPolicy()


def policy_from_settings(settings: ScanSettings) -> KeeperPolicy:
    """The policy a scan asks for: its rule chain (default if unset) and protected folders."""
    chain, protected = settings.keep_rules, settings.protected
    if not chain and not protected:
        return DEFAULT_POLICY
    return KeeperPolicy.parse(chain, protected)


def default_keeper_key(record: ImageRecord, derivation: Evidence = None) -> tuple:
    """Sort key of the default chain: the smallest key is the keeper."""
    return DEFAULT_POLICY.key(record, derivation)


def pick_keeper(
    records: Sequence[ImageRecord],
    indices: Sequence[int],
    policy: KeeperPolicy | None = None,
    derivations: Mapping[int, Derivation] | None = None,
) -> int:
    return (policy or DEFAULT_POLICY).pick(records, indices, derivations)


def similarity(records: Sequence[ImageRecord], embeddings: Any, a: int, b: int, fallback: float) -> float:
    """Similarity of records `a` and `b`: 1.0 for the same bytes, the cosine of their
    embeddings when both were embedded, else `fallback`."""
    if records[a].content_hash == records[b].content_hash:
        return 1.0
    if embeddings is not None:
        va, vb = embeddings[a], embeddings[b]
        if float(va @ va) > 0.25 and float(vb @ vb) > 0.25:  # both rows embedded (unit vectors)
            return float(va @ vb)
    return fallback


def with_keeper(group: Group, records: Sequence[ImageRecord], keep: int, embeddings: Any = None) -> Group:
    """`group` with `keep` first and similarities relative to it (see `similarity`; without
    embeddings the old values stay, which is exact for the old keeper by symmetry)."""
    if keep == group.keep_index:
        return group
    old = {m.index: m.similarity for m in group.members}
    others = [i for i in group.indices if i != keep]
    sims = {
        i: similarity(records, embeddings, keep, i, old[keep] if i == group.keep_index else old[i])
        for i in others
    }
    others.sort(key=lambda i: (-sims[i], records[i].path))
    members = (Member(keep, 1.0), *(Member(i, sims[i]) for i in others))
    values = list(sims.values())
    return replace(
        group,
        members=members,
        min_similarity=min(values) if values else 1.0,
        mean_similarity=sum(values) / len(values) if values else 1.0,
    )


def burst_keep_reason(reason: str) -> str:
    """Why a burst keeps its best shot (photofind.core.match.bursts), in words."""
    return f"best shot of the burst: {reason}"


def apply_policy(
    groups: Sequence[Group], records: Sequence[ImageRecord], policy: KeeperPolicy, embeddings: Any = None
) -> tuple[Group, ...]:
    """Re-pick every group's keeper with `policy` (a no-op for groups it already agrees with).
    A burst keeps its best shot (photofind.core.match.bursts) while the shot is in the group."""
    out = []
    for g in groups:
        if g.best_shot is not None and g.best_shot in g.indices:
            picked = with_keeper(g, records, g.best_shot, embeddings)
            out.append(replace(picked, keep_reason=burst_keep_reason(g.best_shot_reason)))
            continue
        if g.best_shot is not None:  # split apart by a remembered decision: no burst suggestion left
            g = replace(g, best_shot=None, best_shot_reason="")
        tree = derivations_of(g)
        picked = with_keeper(g, records, policy.pick(records, g.indices, tree), embeddings)
        out.append(replace(picked, keep_reason=policy.explain(records, g.indices, tree)))
    return tuple(out)
