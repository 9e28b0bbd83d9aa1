"""Command-line front end. Never imports PySide6; heavy modules load inside commands only,
so `photofind --help` is instant."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from photofind import __version__

# Each module in photofind.commands provides add_parser(subparsers) and run(args) -> int.
COMMANDS = ("scan", "similar", "cache", "gui", "undo", "history", "ignore", "install_desktop", "doctor")

EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photofind",
        description="Find exact duplicates, near-duplicates and similar photos.",
        epilog="Exit codes: 0 ok, 1 finished with skipped files, 2 usage error, 130 cancelled.",
    )
    parser.add_argument("--version", action="version", version=f"photofind {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"photofind.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:
        # `photofind scan ... | head`: the reader left; stop quietly like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
