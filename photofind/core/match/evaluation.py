"""Score grouping results against known truth: pairwise precision/recall/F1, recall per
transform, hard negatives merged, and groups recovered exactly.

It reads the same JSON contract users get (`photofind scan --json`), so it measures what they
see, and it also scores plain pair lists, so peers such as a perceptual-hash tool can be
ranked on the same set.

Truth: every file has a `source` (files of one source are the same photo), a `transform`
(how it was derived from the source's original), a `kind` ("same", "edit", "tilted",
"rotated", "mirrored") and a `family` (sources of one family are different photos of one scene: the
hard negatives).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

STRONG_TIERS = ("exact", "pixels", "near")  # the tiers a user may safely clean up
ALL_TIERS = (*STRONG_TIERS, "similar")
ORIGINAL = "original"
# Files with the original's pixels (or the same bytes): keeping one of them keeps the original.
LOSSLESS = (ORIGINAL, "copy", "metadata", "exif_orientation", "png_of_jpeg")
FRAMES = "frames"  # families of different moments (video frames, bursts) start with this


@dataclass(frozen=True)
class FileTruth:
    source: str
    transform: str
    kind: str
    family: str


Subset = Callable[[FileTruth], bool]


def unrotated(t: FileTruth) -> bool:
    """The set the targets are stated on: everything but 90-degree rotations and mirror
    images (small tilts, as editors straighten, included)."""
    return t.kind in ("same", "edit", "tilted")


def everything(_t: FileTruth) -> bool:
    return True


@dataclass(frozen=True)
class Truth:
    files: Mapping[str, FileTruth]  # normalised absolute path -> truth

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Truth:
        """Read a truth file: {"root": DIR, "files": {relative path: {source, transform, ...}}}."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        root = Path(doc.get("root") or Path(path).parent)
        files = {}
        for rel, info in doc["files"].items():
            files[_norm(root / rel)] = FileTruth(
                source=str(info["source"]),
                transform=str(info.get("transform", "")),
                kind=str(info.get("kind", "edit")),
                family=str(info.get("family", info["source"])),
            )
        return cls(files)


@dataclass
class Score:
    precision: float
    recall: float
    f1: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    recall_by_transform: dict[str, float] = field(default_factory=dict)
    hard_negative_pairs: int = 0
    hard_negatives_merged: int = 0  # at the scored tiers
    hard_negatives_similar: int = 0  # put in a "similar" group: the right answer for them
    sources: int = 0
    groups_exact: int = 0  # sources whose files form exactly one group, nothing else in it

    def as_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for k in ("precision", "recall", "f1"):
            out[k] = round(out[k], 4)
        out["recall_by_transform"] = {k: round(v, 4) for k, v in self.recall_by_transform.items()}
        return out


def _norm(path: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.abspath(os.fspath(path)))


def report_groups(report: Mapping[str, Any] | str | os.PathLike[str]) -> list[tuple[str, list[str]]]:
    """(tier, paths) of each group in a `photofind scan --json` report (dict or file)."""
    doc = report if isinstance(report, Mapping) else json.loads(Path(report).read_text(encoding="utf-8"))
    return [(g["tier"], [f["path"] for f in g["files"]]) for g in doc.get("groups", [])]


def pairs_of_groups(
    groups: Iterable[tuple[str, Sequence[str]]], tiers: Iterable[str]
) -> set[tuple[str, str]]:
    wanted = set(tiers)
    pairs: set[tuple[str, str]] = set()
    for tier, paths in groups:
        if tier in wanted:
            pairs.update(_pair(a, b) for a, b in combinations([_norm(p) for p in paths], 2))
    return pairs


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def score_groups(
    truth: Truth,
    groups: Iterable[tuple[str, Sequence[str]]],
    *,
    tiers: Sequence[str] = STRONG_TIERS,
    subset: Subset = unrotated,
) -> Score:
    """Score groups (tier, paths). Pairs in groups of `tiers` count as predicted duplicates;
    hard negatives placed in "similar" groups are counted apart, as the right answer."""
    groups = list(groups)
    score = score_pairs(truth, pairs_of_groups(groups, tiers), subset=subset)
    similar = pairs_of_groups(groups, ("similar",))
    score.hard_negatives_similar = sum(1 for p in _hard_negative_pairs(truth, subset) if p in similar)
    score.sources, score.groups_exact = _exact_groups(truth, groups, tiers, subset)
    return score


def score_pairs(truth: Truth, predicted: Iterable[tuple[str, str]], *, subset: Subset = unrotated) -> Score:
    """Pairwise scores of predicted duplicate pairs, restricted to files in `subset`."""
    files = {p: t for p, t in truth.files.items() if subset(t)}
    by_source: dict[str, list[str]] = defaultdict(list)
    for p, t in files.items():
        by_source[t.source].append(p)
    true_pairs = {_pair(a, b) for members in by_source.values() for a, b in combinations(members, 2)}
    pred = {_pair(_norm(a), _norm(b)) for a, b in predicted}
    pred = {p for p in pred if p[0] in files and p[1] in files}
    correct = len(pred & true_pairs)
    precision = correct / len(pred) if pred else 1.0
    recall = correct / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    negatives = _hard_negative_pairs(truth, subset)
    return Score(
        precision=precision,
        recall=recall,
        f1=f1,
        true_pairs=len(true_pairs),
        predicted_pairs=len(pred),
        correct_pairs=correct,
        recall_by_transform=_recall_by_transform(files, by_source, pred),
        hard_negative_pairs=len(negatives),
        hard_negatives_merged=sum(1 for p in negatives if p in pred),
    )


def _recall_by_transform(files, by_source, pred) -> dict[str, float]:
    """For each transform, the share of derivatives put with their source's original."""
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for members in by_source.values():
        originals = [p for p in members if files[p].transform == ORIGINAL]
        if not originals:
            continue
        for p in members:
            t = files[p].transform
            if t == ORIGINAL:
                continue
            found[t][1] += 1
            found[t][0] += _pair(originals[0], p) in pred
    return {t: hit / total for t, (hit, total) in sorted(found.items())}


def _hard_negative_pairs(truth: Truth, subset: Subset) -> set[tuple[str, str]]:
    by_family: dict[str, list[str]] = defaultdict(list)
    for p, t in truth.files.items():
        if subset(t):
            by_family[t.family].append(p)
    out = set()
    for members in by_family.values():
        for a, b in combinations(members, 2):
            if truth.files[a].source != truth.files[b].source:
                out.add(_pair(a, b))
    return out


def _exact_groups(truth: Truth, groups, tiers, subset: Subset) -> tuple[int, int]:
    """(sources with 2+ files, sources recovered as exactly one group)."""
    wanted = set(tiers)
    by_source: dict[str, set[str]] = defaultdict(set)
    for p, t in truth.files.items():
        if subset(t):
            by_source[t.source].add(p)
    found = set()
    for tier, paths in groups:
        if tier not in wanted:
            continue
        members = frozenset(p for p in map(_norm, paths) if p in truth.files and subset(truth.files[p]))
        if len(members) > 1:
            found.add(members)
    multi = {s: frozenset(m) for s, m in by_source.items() if len(m) > 1}
    return len(multi), sum(1 for m in multi.values() if m in found)


@dataclass
class KeeperScore:
    """Groups that hold a source's original: how often the keeper is that original (or a
    lossless equivalent), and what was kept instead."""

    groups: int = 0
    original_kept: int = 0
    kept_instead: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.original_kept / self.groups if self.groups else 1.0

    def as_json(self) -> dict[str, Any]:
        return {
            "groups": self.groups,
            "original_kept": self.original_kept,
            "rate": round(self.rate, 4),
            "kept_instead": dict(sorted(self.kept_instead.items())),
        }


def score_keepers(
    truth: Truth, report: Mapping[str, Any], tiers: Sequence[str] = STRONG_TIERS
) -> KeeperScore:
    """For every duplicate group of a report that holds a source's original, is its keeper
    that original or a lossless equivalent of it (same source, LOSSLESS transform)?"""
    score = KeeperScore()
    for g in report.get("groups", []):
        if g["tier"] not in tiers:
            continue
        files = [truth.files.get(_norm(f["path"])) for f in g["files"]]
        keep = truth.files.get(_norm(g["keep"]))
        sources = {t.source for t in files if t is not None and t.transform == ORIGINAL}
        if not sources or keep is None:
            continue
        score.groups += 1
        if keep.source in sources and keep.transform in LOSSLESS:
            score.original_kept += 1
        else:
            score.kept_instead[keep.transform] = score.kept_instead.get(keep.transform, 0) + 1
    return score


def frame_pairs(
    truth: Truth, groups: Iterable[tuple[str, Sequence[str]]], tiers: Sequence[str]
) -> tuple[int, int]:
    """(pairs of different frames or burst shots, how many of them share a group of `tiers`)."""
    frames = {p: t for p, t in truth.files.items() if t.family.startswith(FRAMES)}
    negatives = {
        _pair(a, b)
        for a, b in combinations(sorted(frames), 2)
        if frames[a].family == frames[b].family and frames[a].source != frames[b].source
    }
    merged = pairs_of_groups(groups, tiers)
    return len(negatives), sum(1 for p in negatives if p in merged)
