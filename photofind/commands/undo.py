"""`photofind undo [BATCH]`: put back the files of the last (or a given) clean-up batch."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "undo",
        help="restore the files of the last (or a given) clean-up batch",
        description="Restore the files a clean-up batch trashed, moved or hard-linked, "
        "checking each against the content hash taken at scan time. "
        "Running it again finishes an interrupted undo.",
    )
    p.add_argument(
        "batch",
        nargs="?",
        type=int,
        metavar="BATCH",
        help="batch number from `photofind history` (default: the newest not undone)",
    )
    p.add_argument("--journal", metavar="PATH", help="undo journal (default: per-user data dir)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from photofind.commands.common import cancel_on_sigint, offer_moved_aside, open_store
    from photofind.commands.textprogress import TextProgress
    from photofind.core.cleanup.journal import Journal
    from photofind.core.cleanup.restore import BatchRunning, NothingToUndo, UndoStatus, undo
    from photofind.core.progress import CancelToken

    journal = open_store(Journal, args.journal, "photofind undo")
    if journal is None:
        return 2
    token = CancelToken()
    progress = TextProgress(token, enabled=not args.quiet)
    with journal, cancel_on_sigint(token):
        try:
            report = undo(args.batch, journal=journal, progress=progress)
        except NothingToUndo as exc:
            print(f"photofind undo: {exc}", file=sys.stderr)
            offer_moved_aside(journal.path)
            return 0 if args.batch is None else 2
        except BatchRunning as exc:
            print(f"photofind undo: {exc}", file=sys.stderr)
            return 1
    progress.close()
    for r in report.results:
        if r.status in (UndoStatus.MANUAL, UndoStatus.FAILED):
            print(f"  {r.status.value}: {r.path}: {r.detail}")
    counts = ", ".join(f"{report.count(s)} {s.value}" for s in UndoStatus if report.count(s))
    if report.was_undone:
        print(f"batch {report.batch_id} ({report.action}) was already undone: {counts or 'no files'}")
        return 0
    print(
        f"undo of batch {report.batch_id} ({report.action}): {counts or 'no files'}"
        + (" (cancelled: run it again to finish)" if report.cancelled else "")
    )
    if report.cancelled:
        return 130
    if not report.complete:
        print(
            f"some files could not be restored yet; fix the cause and run "
            f"`photofind undo {report.batch_id}` again",
            file=sys.stderr,
        )
        return 1
    return 1 if report.count(UndoStatus.MANUAL) else 0
