"""Undo a clean-up batch from the journal, newest file first.

Nothing here trusts the journal's statuses alone: after a crash a file may be marked
"planned" yet already be in the trash, so each file's real state is looked at before it is
restored, and every restored file is checked against the content hash taken at scan time.
Running undo again finishes what an interrupted undo left.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

from photofind.core.cleanup import trash
from photofind.core.cleanup.fileops import move_no_overwrite, restore_bytes, same_file
from photofind.core.cleanup.journal import Journal, JournalItem
from photofind.core.cleanup.sidecar_write import undo_sidecar
from photofind.core.progress import NULL_PROGRESS, Progress
from photofind.core.scan.hashing import content_hash_file

PHASE = "restoring"
_NEVER_ACTED = ("skipped", "cancelled")


class UndoStatus(str, Enum):
    RESTORED = "restored"
    ALREADY = "already-restored"  # by an earlier undo (or by hand): nothing was done now
    UNTOUCHED = "untouched"  # never acted on (skipped, cancelled, or the batch died first)
    MANUAL = "manual"  # the user must do it: restore from the system trash; or deleted for good
    FAILED = "failed"  # could not be restored now; running undo again retries


@dataclass(frozen=True)
class UndoResult:
    path: str
    status: UndoStatus
    detail: str = ""


@dataclass(frozen=True)
class UndoReport:
    batch_id: int
    action: str
    results: tuple[UndoResult, ...]
    cancelled: bool = False
    was_undone: bool = False  # the batch had been undone before this run

    def count(self, status: UndoStatus) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def complete(self) -> bool:
        """Nothing left that another undo could still do."""
        return not self.cancelled and self.count(UndoStatus.FAILED) == 0


class NothingToUndo(LookupError):
    pass


class BatchRunning(RuntimeError):
    """The batch is still being carried out by a live process: undo it once it ends."""


def undo(
    batch_id: int | None = None, *, journal: Journal | None = None, progress: Progress = NULL_PROGRESS
) -> UndoReport:
    """Reverse batch `batch_id` (default: the newest batch not yet undone)."""
    own = journal is None
    journal = journal or Journal()
    try:
        return _undo(journal, batch_id, progress)
    finally:
        if own:
            journal.close()


def _undo(journal: Journal, batch_id: int | None, progress: Progress) -> UndoReport:
    if batch_id is None:
        batch_id = journal.last_undoable()
        if batch_id is None:
            raise NothingToUndo("there is nothing to undo")
    info = journal.batch(batch_id)
    if info is None:
        raise NothingToUndo(f"there is no batch {batch_id}")
    if info.running:
        raise BatchRunning(f"batch {batch_id} is still running; undo it when it has finished")
    items = list(reversed(journal.items(batch_id)))
    move_root = info.details.get("move_to")
    results: list[UndoResult] = []
    cancelled = False
    progress.update(PHASE, 0, len(items))
    for n, item in enumerate(items, start=1):
        if progress.is_cancelled():
            cancelled = True
            break
        if item.undo_status in (UndoStatus.RESTORED.value, UndoStatus.ALREADY.value):
            results.append(UndoResult(item.path, UndoStatus.ALREADY, "restored by an earlier undo"))
            continue
        if item.undo_status == UndoStatus.UNTOUCHED.value:
            results.append(UndoResult(item.path, UndoStatus.UNTOUCHED, item.undo_detail or ""))
            continue
        try:
            result = _undo_item(item, move_root)
        except OSError as exc:
            result = UndoResult(item.path, UndoStatus.FAILED, exc.strerror or str(exc))
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not stop the rest
            result = UndoResult(item.path, UndoStatus.FAILED, f"{type(exc).__name__}: {exc}")
        journal.set_undo(batch_id, item.seq, result.status.value, result.detail)
        results.append(result)
        progress.update(PHASE, n, len(items))
    if not cancelled:
        results.extend(_undo_sidecars(journal, batch_id, info.details.get("sidecars", [])))
    report = UndoReport(batch_id, info.action, tuple(reversed(results)), cancelled, info.undone is not None)
    if report.complete and not report.was_undone:
        journal.set_undone(batch_id)
    journal.flush()
    return report


def _undo_sidecars(journal: Journal, batch_id: int, entries: list[dict]) -> list[UndoResult]:
    """Put the keepers' XMP sidecars back as they were before the batch wrote into them."""
    results = []
    for entry in entries:
        if entry.get("undone"):
            continue
        try:
            status, detail = undo_sidecar(entry)
        except OSError as exc:
            status, detail = UndoStatus.FAILED.value, exc.strerror or str(exc)
        results.append(UndoResult(entry["path"], UndoStatus(status), detail))
        entry["undone"] = status != UndoStatus.FAILED.value
    if entries:
        journal.set_sidecars(batch_id, entries)
    return results


def _in_place(item: JournalItem) -> bool:
    """The file is at its path exactly as scanned: there is nothing to undo for it."""
    try:
        st = os.lstat(item.path)
    except OSError:
        return False
    return st.st_size == item.size and st.st_mtime_ns == item.mtime_ns


def _found_in_place(item: JournalItem, detail: str) -> UndoResult:
    """A file in place: never acted on, unless its outcome says it was; then an earlier undo
    (killed before its own outcomes were written) or the user has put it back."""
    if item.status == "done":
        return UndoResult(
            item.path, UndoStatus.ALREADY, "back in place (restored by an earlier undo or by hand)"
        )
    return UndoResult(item.path, UndoStatus.UNTOUCHED, detail)


def _restored(item: JournalItem, detail: str) -> UndoResult:
    """RESTORED, saying so if the bytes put back are not those scanned: trash and move are
    undone even then (the file changed before it went, or while it was away)."""
    if content_hash_file(item.path) != item.content_hash:
        detail += "; its bytes differ from the scan (it changed before the clean-up or since)"
    return UndoResult(item.path, UndoStatus.RESTORED, detail)


def _undo_item(item: JournalItem, move_root: str | None) -> UndoResult:
    if item.status in _NEVER_ACTED:
        return UndoResult(item.path, UndoStatus.UNTOUCHED, item.reason)
    action = item.action
    if action == "trash":
        return _undo_trash(item)
    if action == "move":
        return _undo_move(item, move_root)
    if action == "hardlink":
        return _undo_hardlink(item)
    if action == "delete":
        if _in_place(item):
            return _found_in_place(item, "was not deleted")
        return UndoResult(item.path, UndoStatus.MANUAL, "permanently deleted: it cannot be restored")
    return UndoResult(item.path, UndoStatus.FAILED, f"unknown action {action!r}")


def _occupied(item: JournalItem, where: str) -> UndoResult:
    return UndoResult(
        item.path, UndoStatus.FAILED, f"another file now has its name; the original is at {where}"
    )


def _undo_trash(item: JournalItem) -> UndoResult:
    if _in_place(item):
        return _found_in_place(item, "already in place")
    location = item.location
    if location is None or not os.path.exists(location):
        # A crash before the outcome was written, or a restore by hand: look for it.
        location = trash.find(item.path, item.size) or location
    if location is None:
        return UndoResult(item.path, UndoStatus.MANUAL, "restore it from the system trash")
    if os.path.lexists(item.path):
        return _occupied(item, location)
    if not os.path.exists(location):
        return UndoResult(
            item.path, UndoStatus.FAILED, f"no longer in the trash at {location} (was the trash emptied?)"
        )
    trash.restore(location, item.path)
    return _restored(item, "from the trash")


def _undo_move(item: JournalItem, move_root: str | None) -> UndoResult:
    target = item.location or item.target
    if os.path.lexists(item.path):
        if target and same_file(item.path, target):
            os.unlink(target)  # the process died between linking and unlinking: drop the extra name
            return UndoResult(item.path, UndoStatus.UNTOUCHED, "the move had not finished")
        if _in_place(item):
            return _found_in_place(item, "already in place")
        return _occupied(item, target or "?")
    if not target or not os.path.exists(target):
        return UndoResult(item.path, UndoStatus.FAILED, f"not found where it was moved ({target})")
    move_no_overwrite(target, item.path)
    if move_root:
        _prune_empty(os.path.dirname(target), move_root)
    return _restored(item, f"moved back from {target}")


def _undo_hardlink(item: JournalItem) -> UndoResult:
    linked = same_file(item.path, item.keeper_path)
    if not linked and _in_place(item):
        return _found_in_place(item, "already in place")
    if os.path.lexists(item.path) and not linked:
        # Not our link: something else took the name; leave it alone.
        if content_hash_file(item.path) == item.content_hash:
            return UndoResult(item.path, UndoStatus.UNTOUCHED, "already holds the original bytes")
        return _occupied(item, item.keeper_path)
    for source in (item.keeper_path, item.path):
        if os.path.exists(source) and content_hash_file(source) == item.content_hash:
            restore_bytes(source, item.path, item.content_hash, item.mtime_ns, item.mode)
            return UndoResult(item.path, UndoStatus.RESTORED, f"bytes copied back from {source}")
    return UndoResult(
        item.path,
        UndoStatus.FAILED,
        "the kept file no longer holds the original bytes, so they cannot be written back",
    )


def _prune_empty(folder: str, stop: str) -> None:
    """Remove folders that a move created and undo emptied, up to (not including) `stop`."""
    stop = os.path.abspath(stop)
    folder = os.path.abspath(folder)
    while folder.startswith(stop + os.sep):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)
