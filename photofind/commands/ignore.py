"""`photofind ignore list|add|remove|clear`: the remembered "not a duplicate" and "keep all"
decisions, stored by content hash so they survive renames."""

from __future__ import annotations

import argparse
import json
import sys
import time


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ignore",
        help="manage remembered 'not a duplicate' / 'keep all' decisions",
        description="Decisions are stored by file content, so they survive renames and "
        "moves; later scans do not show those files together again.",
    )
    p.add_argument("--decisions", metavar="PATH", help="decisions database (default: per-user data dir)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="list remembered decisions")
    ls.add_argument("--json", action="store_true")
    add = verbs.add_parser("add", help="remember that these files are not duplicates (or to keep all)")
    add.add_argument("files", nargs="+", metavar="FILE")
    add.add_argument(
        "--keep-all",
        action="store_true",
        help="they may be duplicates, but keep every one: never show them as a group",
    )
    rm = verbs.add_parser("remove", help="forget decisions by number")
    rm.add_argument("ids", nargs="+", type=int, metavar="ID")
    verbs.add_parser("clear", help="forget every decision")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from photofind.commands.common import open_store
    from photofind.core.cleanup.decisions import DecisionStore

    store = open_store(DecisionStore, args.decisions, "photofind ignore")
    if store is None:
        return 2
    with store:
        if args.verb == "list":
            return _list(store, args.json)
        if args.verb == "add":
            return _add(store, args.files, args.keep_all)
        if args.verb == "remove":
            missing = [i for i in args.ids if not store.remove(i)]
            for i in missing:
                print(f"photofind ignore: there is no decision {i}", file=sys.stderr)
            print(f"forgot {len(args.ids) - len(missing)} decisions")
            return 2 if missing else 0
        print(f"forgot {store.clear()} decisions")
        return 0


def _list(store, as_json: bool) -> int:
    decisions = store.list()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "id": d.id,
                        "kind": d.kind.value,
                        "created": d.created,
                        "content_hashes": list(d.hashes),
                        "paths": list(d.paths),
                    }
                    for d in decisions
                ],
                indent=2,
                ensure_ascii=False,  # odd bytes in a path print as U+FFFD, as in the scan's JSON
            )
        )
        return 0
    if not decisions:
        print("no remembered decisions")
    for d in decisions:
        when = time.strftime("%Y-%m-%d", time.localtime(d.created))
        print(f"#{d.id}  {when}  {d.kind.value}: {len(d.hashes)} files")
        for path in d.paths:
            print(f"      {path}")
    return 0


def _add(store, files: list[str], keep_all: bool) -> int:
    import os

    from photofind.core.cleanup.decisions import Kind
    from photofind.core.scan.hashing import content_hash_file

    hashes, paths = [], []
    for f in files:
        path = os.path.abspath(f)
        try:
            hashes.append(content_hash_file(path))
        except OSError as exc:
            print(f"photofind ignore: cannot read {f}: {exc.strerror or exc}", file=sys.stderr)
            return 2
        paths.append(path)
    if not keep_all and len(set(hashes)) < 2:
        print(
            "photofind ignore: 'not a duplicate' needs at least two files with different contents "
            "(use --keep-all for byte-identical copies)",
            file=sys.stderr,
        )
        return 2
    kind = Kind.KEEP_ALL if keep_all else Kind.NOT_DUPLICATE
    decision = store.add(kind, hashes, paths)
    print(f"remembered #{decision}: {kind.value} for {len(files)} files")
    return 0
