"""`photofind gui`: open the desktop app."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop app")
    p.add_argument("paths", nargs="*", metavar="PATH", help="folders to add to the library")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from photofind.gui.app import main  # imported only here: the CLI must not load Qt

    return main(args.paths)
