"""Clean-up plans: which files go, where, and what is kept. A plan is pure data (shown as a
dry run, exported as JSON/CSV); `photofind.core.execute` carries it out."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from photofind.core.cleanup import trash
from photofind.core.cleanup.capture_units import companion_target, judge_units
from photofind.core.cleanup.carry import SidecarWrite, plan_carry
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
    # A companion (photofind.core.cleanup.capture_units) travels with the photo at this path,
    # which comes just before it in the plan; `kind` says what it is ("live", "xmp", ...).
    companion_of: str | None = None
    kind: str = ""

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
    # Metadata the kept photos lack and removed copies have, for their XMP sidecars (opt-in:
    # photofind.core.cleanup.carry); written and journaled with the batch.
    sidecars: tuple[SidecarWrite, ...] = ()

    @property
    def files(self) -> int:
        return len(self.items)

    @property
    def bytes(self) -> int:
        return sum(i.file.size for i in self.items)

    @property
    def groups(self) -> int:
        return len({i.group_id for i in self.items})

    @property
    def companions(self) -> int:
        """How many of the files are companions taken along with their photo."""
        return sum(1 for i in self.items if i.companion_of is not None)

    def summary(self) -> str:
        text = f"{self.action.verb} {_count(self.files, 'file')} ({human_bytes(self.bytes)}) "
        if self.companions:
            text += f"with {_count(self.companions, 'companion')} "
        text += f"from {_count(self.groups, 'group')}"
        if self.action is Action.MOVE:
            text += f" into {self.move_to}"
        if self.sidecars:
            text += f"; metadata into {_count(len(self.sidecars), 'XMP sidecar')} of kept photos"
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
    photos: set[str] = set()
    for i in plan.items:
        if i.companion_of is None:
            photos.add(i.path)
        elif i.companion_of not in photos:
            raise UnsafePlan(f"the companion {i.path} comes before its photo in the plan")


def plan_duplicates(
    result: ScanResult,
    action: Action | str = Action.TRASH,
    *,
    tiers: Iterable[Tier] = SAFE_TIERS,
    move_to: str | None = None,
    policy: KeeperPolicy | None = None,
    carry: bool = False,
) -> Plan:
    """Everything but each group's keeper, in groups of `tiers` (never `similar` by default).
    `carry`: also plan the metadata to write into the keepers' XMP sidecars."""
    policy = (policy or policy_from_settings(result.settings)).with_units(result.companions)
    marks = Marks(result.records, result.groups, policy)
    refusals = marks.mark_duplicates(tiers)
    plan = plan_marked(result, marks, action, move_to=move_to, carry=carry)
    extra = tuple(Refused(gid, result.records[i].path, why.value) for gid, i, why in refusals)
    return replace(plan, refused=extra + plan.refused)


def plan_marked(
    result: ScanResult,
    marks: Marks,
    action: Action | str = Action.TRASH,
    *,
    move_to: str | None = None,
    carry: bool = False,
) -> Plan:
    """A plan for the files the user marked; each group keeps the policy's pick among its
    unmarked files. `carry`: see `plan_duplicates`."""
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
        why = _plan_refusal(action, rec, keep, protected, move_to)
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
            assert move_to is not None  # checked at the top
            target = str(free_path(_move_target(rec.path, roots, move_to), claimed))
            claimed.add(target)
        items.append(
            PlanItem(group.id, _tier(group), rec.file, rec.content_hash, keep.file, keep.content_hash, target)
        )
        planned.add(rec.path)
        kept.add(keep.path)
    if action is not Action.HARDLINK and result.companions:
        items = _with_companions(result, items, refused, claimed)
    plan = Plan(action, tuple(items), tuple(refused), protected, move_to)
    return with_carried_metadata(plan, result) if carry else plan


def with_carried_metadata(plan: Plan, result: ScanResult) -> Plan:
    """`plan` plus the metadata its keepers lack and its removed photos have, for the keepers'
    XMP sidecars (photofind.core.cleanup.carry). Reads every removed photo's metadata."""
    removals = [(i.path, i.keeper.path) for i in plan.items if i.companion_of is None]
    return replace(plan, sidecars=plan_carry(removals, result.companions))


def _with_companions(
    result: ScanResult, items: list[PlanItem], refused: list[Refused], claimed: set[str]
) -> list[PlanItem]:
    """Each photo followed by the companions it takes along; photos whose companions would be
    lost move to `refused` (photofind.core.cleanup.capture_units)."""
    grouped = {result.records[i].path: g.id for g in result.groups for i in g.indices}
    verdicts = judge_units([(i.path, i.keeper.path) for i in items], result.companions, grouped)
    out: list[PlanItem] = []
    taken: set[str] = set()  # a companion two removed photos share goes once, with the first
    for item in items:
        verdict = verdicts[item.path]
        if verdict.refusal is not None:
            refused.append(Refused(item.group_id, item.path, verdict.refusal))
            continue
        out.append(item)
        for unit_file in verdict.take:
            if unit_file.file.path in taken:
                continue
            taken.add(unit_file.file.path)
            target = None
            if item.target is not None:
                target = str(
                    free_path(companion_target(item.path, item.target, unit_file.file.path), claimed)
                )
                claimed.add(target)
            out.append(
                replace(
                    item,
                    file=unit_file.file,
                    content_hash=unit_file.content_hash,
                    target=target,
                    companion_of=item.path,
                    kind=unit_file.companion.kind.value,
                )
            )
    return out


def _tier(group: Group) -> str:
    return group.tier.value if isinstance(group.tier, Tier) else str(group.tier)


def _plan_refusal(
    action: Action, rec: ImageRecord, keep: ImageRecord, protected: tuple[str, ...], move_to: str | None
) -> str | None:
    path, file, content_hash = rec.path, rec.file, rec.content_hash
    if in_protected(path, protected):
        return "inside a protected folder"
    if path == keep.path:
        return "it is the kept file"
    if file.nlink > 1:
        return other_links(file.nlink)
    if rec.facts.frames > 1 and content_hash != keep.content_hash:
        # Only byte copies are safe: matching looked at the first frame or page alone.
        return f"it has {rec.facts.frames} frames or pages, and only the first was compared"
    if action is Action.TRASH:
        too_long = trash.name_problem(path)
        if too_long:
            return too_long
    if action is Action.HARDLINK:
        if content_hash != keep.content_hash:
            return "a hard link can only replace a file with identical bytes"
        if file.dev and keep.file.dev and file.dev != keep.file.dev:
            return "on another volume than the kept file: cannot hard-link"
    if action is Action.MOVE and move_to and is_under(path, move_to):
        return "already inside the destination folder"
    return None


def other_links(nlink: int) -> str:
    return f"it has {nlink - 1} other hard link{'s' if nlink > 2 else ''} (outside the scan): removing this name frees no space"


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
PLAN_CSV_COLUMNS = [
    "group",
    "tier",
    "action",
    "path",
    "bytes",
    "keep",
    "target",
    "content_hash",
    "companion_of",  # empty for a photo; the photo's path for a companion taken along
    "kind",
]


def plan_as_json(plan: Plan) -> dict[str, Any]:
    return {
        "version": PLAN_JSON_VERSION,
        "action": plan.action.value,
        "files": plan.files,
        "bytes": plan.bytes,
        "groups": plan.groups,
        "companions": plan.companions,
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
                "companion_of": i.companion_of,
                "kind": i.kind or None,
            }
            for i in plan.items
        ],
        "refused": [{"group": r.group_id, "path": r.path, "reason": r.reason} for r in plan.refused],
        "sidecars": [
            {"keep": w.keeper, "sidecar": w.sidecar, "fields": sorted(w.values), "from": dict(w.sources)}
            for w in plan.sidecars
        ],
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
                "companion_of": i.companion_of or "",
                "kind": i.kind,
            }
        )
    _write(buf.getvalue(), target)


def _write(text: str, target: str | os.PathLike[str] | TextIO) -> None:
    if isinstance(target, (str, os.PathLike)):
        write_text_atomic(text, target)
    else:
        target.write(text)
