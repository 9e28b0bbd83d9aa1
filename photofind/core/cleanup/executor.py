"""Carry out a clean-up plan: journal first, re-check each file at the last moment, act, and
report every file's outcome. One file's failure never stops the others."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from enum import Enum

from photofind.core.cleanup import trash
from photofind.core.cleanup.actions import Action, Plan, PlanItem, check_plan, other_links
from photofind.core.cleanup.fileops import free_path, move_no_overwrite, replace_with_link, same_file
from photofind.core.cleanup.journal import Journal
from photofind.core.cleanup.keep import clear_path_cache, in_protected
from photofind.core.cleanup.sidecar_write import WRITTEN, journal_entries, write_sidecar
from photofind.core.progress import NULL_PROGRESS, Progress
from photofind.core.scan.hashing import content_hash_file

PHASE = "cleaning up"
# Test hook: exit abruptly after acting on N files, before their outcome is journaled, so a
# test can prove that undo copes with a batch killed at its worst moment.
CRASH_AFTER_ENV = "PHOTOFIND_TEST_CRASH_AFTER"


class PermanentDeleteNotConfirmed(PermissionError):
    """Permanent deletion was asked for without `allow_permanent=True`."""


class Status(str, Enum):
    DONE = "done"
    SKIPPED = "skipped"  # a safety check failed: the file was left exactly as it was
    FAILED = "failed"  # the action itself failed (permission, disk...)
    CANCELLED = "cancelled"  # the user stopped the batch before this file


@dataclass(frozen=True)
class Outcome:
    item: PlanItem
    status: Status
    reason: str = ""
    location: str | None = None  # where the file went (trash entry, move destination)


@dataclass(frozen=True)
class BatchReport:
    batch_id: int
    action: Action
    outcomes: tuple[Outcome, ...]
    cancelled: bool = False
    sidecar_notes: tuple[str, ...] = ()  # what was written into the keepers' XMP sidecars

    def count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def bytes_done(self) -> int:
        return sum(o.item.file.size for o in self.outcomes if o.status is Status.DONE)


def execute(
    plan: Plan,
    *,
    journal: Journal | None = None,
    progress: Progress = NULL_PROGRESS,
    allow_permanent: bool = False,
) -> BatchReport:
    """Act on every item of `plan`, in order. The batch is in the journal before the first
    file is touched; each outcome is written as soon as it is known."""
    check_plan(plan)
    if plan.action is Action.DELETE and not allow_permanent:
        raise PermanentDeleteNotConfirmed("permanent deletion needs an explicit confirmation")
    own = journal is None
    journal = journal or Journal()
    try:
        return _run(plan, journal, progress)
    finally:
        journal.flush()
        if own:
            journal.close()


def _run(plan: Plan, journal: Journal, progress: Progress) -> BatchReport:
    clear_path_cache()
    batch = journal.begin(plan)
    notes = _write_sidecars(plan, journal, batch)
    crash_after = int(os.environ.get(CRASH_AFTER_ENV, "0") or 0)
    removed: set[str] = set()
    keeper_hashes: dict[str, str] = {}
    outcomes: list[Outcome] = []
    cancelled = False
    total = len(plan.items)
    progress.update(PHASE, 0, total)
    companions = _companions_by_photo(plan)
    for seq, item in enumerate(plan.items):
        # A companion goes exactly when its photo went: never stopped halfway through a unit.
        if item.companion_of is not None and item.companion_of not in removed:
            status = Status.CANCELLED if cancelled else Status.SKIPPED
            outcome = Outcome(item, status, "its photo was left alone")
            journal.record(batch, seq, outcome.status.value, outcome.reason)
            outcomes.append(outcome)
            continue
        if item.companion_of is None and (cancelled or progress.is_cancelled()):
            cancelled = True
            outcome = Outcome(item, Status.CANCELLED, "stopped before this file")
            journal.record(batch, seq, outcome.status.value, outcome.reason)
            outcomes.append(outcome)
            continue
        why, mode = _recheck(plan, item, removed, keeper_hashes)
        if why is None:
            why = _companion_problem(plan, companions.get(item.path, []), removed, keeper_hashes)
        if why is not None:
            outcome = Outcome(item, Status.SKIPPED, why)
        else:
            outcome = _act(plan, item, journal, batch, seq)
            if outcome.status is Status.DONE:
                removed.add(item.path)
                if crash_after and len(removed) >= crash_after:
                    os._exit(86)
        journal.record(batch, seq, outcome.status.value, outcome.reason, outcome.location, mode)
        outcomes.append(outcome)
        progress.update(PHASE, seq + 1, total)
    journal.finish(batch, cancelled)
    return BatchReport(batch, plan.action, tuple(outcomes), cancelled, notes)


def _write_sidecars(plan: Plan, journal: Journal, batch: int) -> tuple[str, ...]:
    """Carried-over metadata into the keepers' XMP sidecars, journaled before each is touched.
    First, so a batch stopped halfway never removed a copy whose metadata was still to come."""
    if not plan.sidecars:
        return ()
    entries = journal_entries(plan.sidecars, journal.sidecar_backups(batch))
    journal.set_sidecars(batch, entries)
    notes = []
    for write, entry in zip(plan.sidecars, entries):
        write_sidecar(write, entry, lambda _entry: journal.set_sidecars(batch, entries))
        if entry["status"] == WRITTEN:
            notes.append(f"wrote {write.describe()}")
        else:
            notes.append(f"could not write {write.sidecar}: {entry['detail']}")
    return tuple(notes)


def _recheck(
    plan: Plan, item: PlanItem, removed: set[str], keeper_hashes: dict[str, str]
) -> tuple[str | None, int | None]:
    """Why the file must be left alone now (None: go ahead), and its permission bits.
    `keeper_hashes` holds the kept files already hashed in this batch: each is read once."""
    path, keeper = item.path, item.keeper.path
    if in_protected(path, plan.protected):
        return "inside a protected folder", None
    if path == keeper or same_file(path, keeper):
        return "it is the kept file", None
    if keeper in removed:
        return "the kept file was removed earlier in this batch", None
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "no longer exists", None
    except OSError as exc:
        return f"cannot be checked: {exc.strerror or exc}", None
    if stat.S_ISLNK(st.st_mode):
        return "is now a symbolic link", None
    if not stat.S_ISREG(st.st_mode):
        return "is no longer a regular file", None
    if st.st_size != item.file.size or st.st_mtime_ns != item.file.mtime_ns:
        return "changed since scan", None
    if item.file.ino and (st.st_dev, st.st_ino) != (item.file.dev, item.file.ino):
        return "changed since scan (replaced by another file)", None
    if st.st_nlink > 1:
        return other_links(st.st_nlink), None
    why = _keeper_problem(item)
    if why is not None:
        return why, None
    if plan.action is Action.HARDLINK and st.st_dev != os.stat(keeper).st_dev:
        return "on another volume than the kept file: cannot hard-link", None
    try:
        # Every action: the kept file must still hold the scanned bytes (an edit that kept
        # size and time, a damaged disk), or this copy may be the last intact one.
        if keeper not in keeper_hashes:
            keeper_hashes[keeper] = content_hash_file(keeper)
        if keeper_hashes[keeper] != item.keeper_hash:
            return "the kept file changed since scan (content)", None
        # Irreversible for these bytes: prove them against the scan, not just size and time.
        # (Trash and move can be undone even if the file itself changed.)
        if plan.action in (Action.HARDLINK, Action.DELETE) and content_hash_file(path) != item.content_hash:
            return "changed since scan (content)", None
    except OSError as exc:
        return f"cannot be verified: {exc.strerror or exc}", None
    return None, stat.S_IMODE(st.st_mode)


def _companions_by_photo(plan: Plan) -> dict[str, list[PlanItem]]:
    out: dict[str, list[PlanItem]] = {}
    for item in plan.items:
        if item.companion_of is not None:
            out.setdefault(item.companion_of, []).append(item)
    return out


def _companion_problem(
    plan: Plan, companions: list[PlanItem], removed: set[str], keeper_hashes: dict[str, str]
) -> str | None:
    """Why a photo must stay because a companion it would take along fails its own re-check
    (acting on the photo alone would orphan the companion)."""
    for companion in companions:
        if not os.path.lexists(companion.path):
            continue  # gone since the plan: nothing left to orphan
        why, _mode = _recheck(plan, companion, removed, keeper_hashes)
        if why is not None:
            return f"its companion {os.path.basename(companion.path)} {why}"
    return None


def _keeper_problem(item: PlanItem) -> str | None:
    keeper = item.keeper.path
    try:
        st = os.stat(keeper)
    except FileNotFoundError:
        return "the kept file no longer exists"
    except OSError as exc:
        return f"the kept file cannot be checked: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return "the kept file is no longer a regular file"
    if st.st_size != item.keeper.size or st.st_mtime_ns != item.keeper.mtime_ns:
        return "the kept file changed since scan"
    try:
        with open(keeper, "rb") as fh:
            fh.read(1)
    except OSError as exc:
        return f"the kept file cannot be read: {exc.strerror or exc}"
    return None


def _act(plan: Plan, item: PlanItem, journal: Journal, batch: int, seq: int) -> Outcome:
    try:
        if plan.action is Action.TRASH:
            location = trash.send(item.path)
            return Outcome(item, Status.DONE, "" if location else "in the system trash", location)
        if plan.action is Action.MOVE:
            assert item.target is not None
            target = str(free_path(item.target))
            if target != item.target:
                journal.set_target(batch, seq, target)  # before moving: undo must find it
            move_no_overwrite(item.path, target)
            return Outcome(item, Status.DONE, "", target)
        if plan.action is Action.HARDLINK:
            replace_with_link(item.path, item.keeper.path)
            return Outcome(item, Status.DONE, "", item.keeper.path)
        if plan.action is Action.DELETE:
            os.unlink(item.path)
            return Outcome(item, Status.DONE, "permanently deleted")
    except OSError as exc:
        return Outcome(item, Status.FAILED, exc.strerror or str(exc))
    except Exception as exc:  # noqa: BLE001 - one file's surprise must not stop the batch
        return Outcome(item, Status.FAILED, f"{type(exc).__name__}: {exc}")
    raise ValueError(f"unknown action {plan.action}")
