"""Clean-up plans: which files go, where, and what is kept. A plan is pure data (shown as a
dry run, exported as JSON/CSV); `photofind.core.execute` carries it out."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from photofind.core.cleanup.fileops import free_path
from photofind.core.cleanup.keep import KeeperPolicy, in_protected, is_under, policy_from_settings
from photofind.core.cleanup.marks import SAFE_TIERS, Marks
from photofind.core.output import write_text_atomic
from photofind.core.types import FileRef, Group, ImageRecord, ScanResult, Tier
from photofind.core.units import human_bytes  # noqa: F401 - re-exported


class Action(str, Enum):
    TRASH = "trash"  # the system trash (default; undo puts files back)
    MOVE = "move"  # into a folder, keeping the structure below the scanned root
    HARDLINK = "hardlink"  # replace the file by a hard link to the identical kept file
    DELETE = "delete"  # permanent: only behind an explicit flag and a second confirmation

    @property
    def verb(self) -> str:
        return {
            "trash": "move to the trash",
            "move": "move",
            "hardlink": "replace with a hard link",
            "delete": "PERMANENTLY DELETE",
        }[self.value]


class UnsafePlan(ValueError):
    """A plan that would touch a kept file or empty a group: refused before anything runs."""


@dataclass(frozen=True)
class PlanItem:
    """One file to act on, with the facts the last-moment re-check compares against."""

    group_id: int
    tier: str
    file: FileRef
    content_hash: str
    keeper: FileRef
    keeper_hash: str
    target: str | None = None  # a move's destination

    @property
    def path(self) -> str:
        return self.file.path


@dataclass(frozen=True)
class Refused:
    """A marked file left out of the plan, and why."""

    group_id: int
    path: str
    reason: str


@dataclass(frozen=True)
class Plan:
    action: Action
    items: tuple[PlanItem, ...]
    refused: tuple[Refused, ...] = ()
    protected: tuple[str, ...] = ()
    move_to: str | None = None

    @property
    def files(self) -> int:
        return len(self.items)

    @property
    def bytes(self) -> int:
        return sum(i.file.size for i in self.items)

    @property
    def groups(self) -> int:
        return len({i.group_id for i in self.items})

    def summary(self) -> str:
        text = (
            f"{self.action.verb} {_count(self.files, 'file')} ({human_bytes(self.bytes)}) "
            f"from {_count(self.groups, 'group')}"
        )
        if self.action is Action.MOVE:
            text += f" into {self.move_to}"
        if self.refused:
            text += f"; {len(self.refused)} left alone"
        return text


def check_plan(plan: Plan) -> None:
    """Raise UnsafePlan if any kept file is also to be acted on, or a file twice."""
    paths = [i.path for i in plan.items]
    if len(set(paths)) != len(paths):
        raise UnsafePlan("the plan names a file twice")
    kept = {i.keeper.path for i in plan.items}
    overlap = kept.intersection(paths)
    if overlap:
        raise UnsafePlan(f"the plan would act on a kept file: {sorted(overlap)[0]}")
    if plan.action is Action.MOVE and not plan.move_to:
        raise UnsafePlan("a move needs a destination folder")


def plan_duplicates(
    result: ScanResult,
    action: Action | str = Action.TRASH,
    *,
    tiers: Iterable[Tier] = SAFE_TIERS,
    move_to: str | None = None,
    policy: KeeperPolicy | None = None,
) -> Plan:
    """Everything but each group's keeper, in groups of `tiers` (never `similar` by default)."""
    marks = Marks(result.records, result.groups, policy or policy_from_settings(result.settings))
    refusals = marks.mark_duplicates(tiers)
    plan = plan_marked(result, marks, action, move_to=move_to)
    extra = tuple(Refused(gid, result.records[i].path, why.value) for gid, i, why in refusals)
    return Plan(plan.action, plan.items, extra + plan.refused, plan.protected, plan.move_to)


def plan_marked(
    result: ScanResult, marks: Marks, action: Action | str = Action.TRASH, *, move_to: str | None = None
) -> Plan:
    """A plan for the files the user marked; each group keeps the policy's pick among its
    unmarked files."""
    action = Action(action)
    if action is Action.MOVE:
        if not move_to:
            raise ValueError("moving needs a destination folder")
        move_to = os.path.abspath(os.path.expanduser(move_to))
    records = result.records
    protected = tuple(marks.policy.protected)
    roots = tuple(os.path.abspath(r) for r in result.settings.roots)
    items: list[PlanItem] = []
    refused: list[Refused] = []
    claimed: set[str] = set()
    planned: set[str] = set()
    kept: set[str] = set()
    for group, index in marks:
        keep = records[marks.keeper(group.id)]
        rec = records[index]
        why = _plan_refusal(action, rec.path, rec.file, rec.content_hash, keep, protected, move_to)
        # Overlapping groups (a file in two) must not let one group remove another's keeper.
        if why is None and rec.path in planned:
            why = "already planned in another group"
        elif why is None and rec.path in kept:
            why = "it is the kept file of another group"
        elif why is None and keep.path in planned:
            why = "its kept file is planned for removal in another group"
        if why:
            refused.append(Refused(group.id, rec.path, why))
            continue
        target = None
        if action is Action.MOVE:
            target = str(free_path(_move_target(rec.path, roots, move_to), claimed))
            claimed.add(target)
        items.append(
            PlanItem(group.id, _tier(group), rec.file, rec.content_hash, keep.file, keep.content_hash, target)
        )
        planned.add(rec.path)
        kept.add(keep.path)
    return Plan(action, tuple(items), tuple(refused), protected, move_to)


def _tier(group: Group) -> str:
    return group.tier.value if isinstance(group.tier, Tier) else str(group.tier)


def _plan_refusal(
    action: Action,
    path: str,
    file: FileRef,
    content_hash: str,
    keep: ImageRecord,
    protected: tuple[str, ...],
    move_to: str | None,
) -> str | None:
    if in_protected(path, protected):
        return "inside a protected folder"
    if path == keep.path:
        return "it is the kept file"
    if action is Action.HARDLINK:
        if content_hash != keep.content_hash:
            return "a hard link can only replace a file with identical bytes"
        if file.dev and keep.file.dev and file.dev != keep.file.dev:
            return "on another volume than the kept file: cannot hard-link"
    if action is Action.MOVE and move_to and is_under(path, move_to):
        return "already inside the destination folder"
    return None


def _move_target(path: str, roots: tuple[str, ...], move_to: str) -> Path:
    """move_to / the path below the deepest scanned root that holds it."""
    holders = [r for r in roots if is_under(path, r) and os.path.abspath(path) != r]
    if holders:
        root = max(holders, key=len)
        rel = os.path.relpath(os.path.abspath(path), root)
    else:
        rel = os.path.basename(path)
    return Path(move_to) / rel


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


# -- export ----------------------------------------------------------------------------------

PLAN_JSON_VERSION = 1
PLAN_CSV_COLUMNS = ["group", "tier", "action", "path", "bytes", "keep", "target", "content_hash"]


def plan_as_json(plan: Plan) -> dict[str, Any]:
    return {
        "version": PLAN_JSON_VERSION,
        "action": plan.action.value,
        "files": plan.files,
        "bytes": plan.bytes,
        "groups": plan.groups,
        "move_to": plan.move_to,
        "protected": list(plan.protected),
        "items": [
            {
                "group": i.group_id,
                "tier": i.tier,
                "path": i.path,
                "bytes": i.file.size,
                "keep": i.keeper.path,
                "target": i.target,
                "content_hash": i.content_hash,
            }
            for i in plan.items
        ],
        "refused": [{"group": r.group_id, "path": r.path, "reason": r.reason} for r in plan.refused],
    }


def write_plan_json(plan: Plan, target: str | os.PathLike[str] | TextIO) -> None:
    _write(json.dumps(plan_as_json(plan), indent=2, ensure_ascii=False) + "\n", target)


def write_plan_csv(plan: Plan, target: str | os.PathLike[str] | TextIO) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=PLAN_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i in plan.items:
        writer.writerow(
            {
                "group": i.group_id,
                "tier": i.tier,
                "action": plan.action.value,
                "path": i.path,
                "bytes": i.file.size,
                "keep": i.keeper.path,
                "target": i.target or "",
                "content_hash": i.content_hash,
            }
        )
    _write(buf.getvalue(), target)


def _write(text: str, target: str | os.PathLike[str] | TextIO) -> None:
    if isinstance(target, (str, os.PathLike)):
        write_text_atomic(text, target)
    else:
        target.write(text)


def execute(plan: Plan, **kwargs: Any):  # -> executor.BatchReport
    """Carry out `plan`; see `photofind.core.cleanup.executor.execute` (here so callers need one module)."""
    from photofind.core.cleanup.executor import execute as run

    return run(plan, **kwargs)
