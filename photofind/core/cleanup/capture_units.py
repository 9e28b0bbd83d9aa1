"""A clean-up plan acts on capture units, not lone files: a photo that is trashed, moved or
deleted takes its companions (Live Photo video, RAW, sidecars; photofind.core.scan.companions)
along, so none is left orphaned, and a photo whose companion has no copy beside the kept photo
stays, so no unique content is lost.

Hard links take nothing along: the photo's name stays, so its companions keep their photo.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from photofind.core.scan.companions import Companion
from photofind.core.scan.hashing import content_hash_file
from photofind.core.types import FileRef


@dataclass(frozen=True)
class UnitFile:
    """A companion as the plan saw it: stat facts and content hash, for the last-moment re-check
    and for undo's byte check."""

    companion: Companion
    file: FileRef
    content_hash: str


@dataclass(frozen=True)
class UnitVerdict:
    """For one photo of the plan: the companions to take along, or why the photo must stay."""

    take: tuple[UnitFile, ...] = ()
    refusal: str | None = None


def unit_of(path: str, companions: Mapping[str, tuple[Companion, ...]]) -> tuple[Companion, ...]:
    """`path`'s companions and, for Apple's edited copy among them, the edited copy's own
    (IMG_E1.MOV travels with IMG_E1.JPG, which travels with IMG_1.JPG)."""
    out: dict[str, Companion] = {}
    todo = list(companions.get(path, ()))
    while todo:
        c = todo.pop(0)
        if c.path in out or c.path == path:
            continue
        out[c.path] = c
        todo.extend(companions.get(c.path, ()))
    return tuple(out.values())


def owners_of(companions: Mapping[str, tuple[Companion, ...]]) -> dict[str, set[str]]:
    """Companion path -> every photo that claims it."""
    owners: dict[str, set[str]] = defaultdict(set)
    for photo in companions:
        for c in unit_of(photo, companions):
            owners[c.path].add(photo)
    return owners


def judge_units(
    removals: Sequence[tuple[str, str]],
    companions: Mapping[str, tuple[Companion, ...]],
    grouped: Mapping[str, int],
) -> dict[str, UnitVerdict]:
    """For each (photo, keeper) pair of a plan that removes the photo: its verdict.

    A companion stays where it is when the keeper's unit holds it too, or when another photo
    that stays claims it. Any other companion goes along, but only if the keeper's unit holds a
    byte-identical file of the same kind; else the photo is refused with the reason. A refusal
    can leave a shared companion with a photo that stays, so this runs until nothing changes.
    `grouped`: path -> group id of every photo in a group (a companion that is itself in a
    group is decided there, never swept along)."""
    owners = owners_of(companions)
    removing = {photo for photo, _keep in removals}
    verdicts: dict[str, UnitVerdict] = {}
    hashes = _HashMemo()
    changed = True
    while changed:
        changed = False
        for photo, keep in removals:
            if photo not in removing:
                continue
            verdict = _judge(photo, keep, companions, owners, removing, grouped, hashes)
            verdicts[photo] = verdict
            if verdict.refusal is not None:
                removing.discard(photo)
                changed = True
    return verdicts


def _judge(
    photo: str,
    keep: str,
    companions: Mapping[str, tuple[Companion, ...]],
    owners: Mapping[str, set[str]],
    removing: set[str],
    grouped: Mapping[str, int],
    hashes: _HashMemo,
) -> UnitVerdict:
    kept_unit = unit_of(keep, companions)
    kept_paths = {c.path for c in kept_unit} | {keep}
    take: list[UnitFile] = []
    for c in unit_of(photo, companions):
        if c.path in kept_paths or not owners[c.path] <= removing:
            continue  # another photo that stays keeps it
        if c.path in grouped:
            return UnitVerdict(
                refusal=f"its {c.kind.noun} {c.name} is in group {grouped[c.path]}: decide it there"
            )
        try:
            st = os.stat(c.path)
            chash = hashes(c.path)
        except FileNotFoundError:
            continue  # gone since the scan: nothing left to orphan
        except OSError as exc:
            return UnitVerdict(refusal=f"its {c.kind.noun} {c.name} cannot be read: {exc.strerror or exc}")
        if not _has_copy(c, st.st_size, chash, kept_unit, hashes):
            return UnitVerdict(
                refusal=f"its {c.kind.noun} {c.name} has no copy beside the kept photo: kept so it is not lost"
            )
        take.append(UnitFile(c, FileRef(c.path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino), chash))
    return UnitVerdict(take=tuple(take))


def _has_copy(
    companion: Companion, size: int, chash: str, kept_unit: Sequence[Companion], hashes: _HashMemo
) -> bool:
    for other in kept_unit:
        if other.kind is not companion.kind:
            continue
        try:
            if os.path.getsize(other.path) == size and hashes(other.path) == chash:
                return True
        except OSError:
            continue
    return False


class _HashMemo:
    """Content hashes of companions, each file read at most once per plan."""

    def __init__(self, hash_file: Callable[[str], str] = content_hash_file) -> None:
        self._hash_file = hash_file
        self._known: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if path not in self._known:
            self._known[path] = self._hash_file(path)
        return self._known[path]


def companion_target(photo: str, photo_target: str, companion: str) -> str:
    """Where a moved photo's companion goes: beside the photo's destination, renamed the same
    way if the photo had to be renamed there ("IMG_1 (1).JPG" takes "IMG_1 (1).MOV")."""
    old_stem, new_stem = Path(photo).stem, Path(photo_target).stem
    name = os.path.basename(companion)
    if old_stem != new_stem and name.startswith(old_stem):
        name = new_stem + name[len(old_stem) :]
    return os.path.join(os.path.dirname(photo_target), name)
