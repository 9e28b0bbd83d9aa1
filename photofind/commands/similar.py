"""`photofind similar IMAGE`: the photos most like one image (provided by the matching engine)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("similar", help="list the photos most similar to an image")
    p.add_argument("image", help="an image inside or outside the library")
    p.add_argument("--in", dest="roots", nargs="+", metavar="PATH", required=True, help="library folders")
    p.add_argument("--top", type=int, default=20, metavar="N")
    p.add_argument("--json", metavar="FILE")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print("photofind similar: not implemented yet", file=sys.stderr)
    return 2
