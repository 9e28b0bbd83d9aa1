"""`photofind cache info|prune|clear`: look after the scan cache."""

from __future__ import annotations

import argparse
import sqlite3
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cache", help="show, prune or clear the scan cache")
    p.add_argument(
        "action",
        choices=["info", "prune", "clear"],
        help="info: sizes; prune: forget deleted files; clear: delete the cache",
    )
    p.add_argument("--cache", metavar="PATH", help="cache database (default: per-user cache dir)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from photofind.commands.common import open_cache
    from photofind.core.scan.cache import APP_ID
    from photofind.core.store import StoreError, remove_store
    from photofind.paths import default_cache_path

    path = Path(args.cache or default_cache_path())
    if args.action == "clear":
        try:
            removed = remove_store(path, APP_ID)
        except StoreError as exc:
            print(f"photofind cache: {exc}", file=sys.stderr)
            return 2
        print(f"removed {path}" if removed else f"no cache at {path}: nothing to remove")
        return 0
    cache = open_cache(str(path), "photofind cache")
    if cache is None:
        return 2
    opened_with = len(cache.warnings)  # open_cache printed these
    with cache:
        if args.action == "prune":
            try:
                print(f"forgot {cache.prune_missing()} files that no longer exist")
            except sqlite3.OperationalError as exc:  # read-only, a full disk: not corruption
                print(f"photofind cache: cannot prune {path}: {exc}", file=sys.stderr)
                return 2
        stats = cache.stats()
    for w in cache.warnings[opened_with:]:  # damage found while reading (see Cache)
        print(f"warning: {w}", file=sys.stderr)
    print(
        f"{path}: {stats['files']} files, {stats['images']} images, "
        f"{stats['embeddings']} embeddings, {stats['bytes'] / 1e6:.1f} MB"
    )
    return 0
