"""`photofind history [BATCH]`: list clean-up batches from the undo journal, or one batch's files."""

from __future__ import annotations

import argparse
import json
import sys
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="list past clean-up batches (what undo can restore)")
    p.add_argument("batch", nargs="?", type=int, metavar="BATCH", help="show this batch's files")
    p.add_argument("-n", "--limit", type=int, default=20, metavar="N", help="batches to list (default 20)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--journal", metavar="PATH", help="undo journal (default: per-user data dir)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from photofind.commands.common import offer_moved_aside, open_store
    from photofind.core.cleanup.journal import Journal

    if args.limit < 1:
        print("photofind history: -n must be at least 1", file=sys.stderr)
        return 2
    journal = open_store(Journal, args.journal, "photofind history")
    if journal is None:
        return 2
    offer_moved_aside(journal.path)
    with journal:
        if args.batch is not None:
            return _show_batch(journal, args.batch, args.json)
        batches = journal.batches(limit=args.limit)
    if args.json:
        # Not ASCII escapes: odd bytes in a path then print as U+FFFD, as in the scan's JSON.
        print(json.dumps([_batch_json(b) for b in batches], indent=2, ensure_ascii=False))
        return 0
    if not batches:
        print("no clean-up batches yet")
        return 0
    from photofind.commands.common import human_bytes

    for b in batches:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(b.counts.items()))
        hint = "" if b.undone is not None else f"  (undo: photofind undo {b.id})"
        print(
            f"#{b.id}  {_when(b.created)}  {b.action:<8} {b.files} files, "
            f"{human_bytes(b.bytes_done)} done  [{b.state}] {counts}{hint}"
        )
    return 0


def _show_batch(journal, batch_id: int, as_json: bool) -> int:
    info = journal.batch(batch_id)
    if info is None:
        print(f"photofind history: there is no batch {batch_id}", file=sys.stderr)
        return 2
    items = journal.items(batch_id)
    if as_json:
        doc = _batch_json(info)
        doc["items"] = [
            {
                "path": i.path,
                "bytes": i.size,
                "status": i.status,
                "reason": i.reason,
                "location": i.location,
                "keep": i.keeper_path,
                "content_hash": i.content_hash,
                "undo": i.undo_status,
                "undo_detail": i.undo_detail,
            }
            for i in items
        ]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"#{info.id}  {_when(info.created)}  {info.action}  [{info.state}]")
    for i in items:
        where = f" -> {i.location}" if i.location else ""
        undo = (
            f"  (undo: {i.undo_status}{': ' + i.undo_detail if i.undo_detail else ''})"
            if i.undo_status
            else ""
        )
        reason = f": {i.reason}" if i.reason else ""
        print(f"  {i.status:<9} {i.path}{where}{reason}{undo}")
    return 0


def _batch_json(b) -> dict:
    return {
        "id": b.id,
        "action": b.action,
        "created": b.created,
        "finished": b.finished,
        "state": b.state,
        "files": b.files,
        "counts": b.counts,
        "bytes_done": b.bytes_done,
        "details": b.details,
    }


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
