"""Command-line front end. Never imports PySide6; heavy modules load inside commands only,
so `photofind --help` is instant."""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from photofind import __version__

# Each module in photofind.commands provides add_parser(subparsers) and run(args) -> int.
COMMANDS = ("scan", "similar", "cache", "gui", "undo", "history", "ignore", "install_desktop", "doctor")

# 0 ok; 1 finished, but some files were skipped; 2 usage error or unusable input (nothing
# was done); 70 internal error (a bug: the traceback goes to a log file); 74 finished, but a
# result file could not be written (a full disk); 130 cancelled. README.md lists them too.
EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
EXIT_INTERNAL, EXIT_OUTPUT = 70, 74
EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 finished with skipped files, 2 usage error or unusable input, "
    "70 internal error (see the log it names), 74 a result file could not be written, 130 cancelled."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="photofind",
        description="Find exact duplicates, near-duplicates and similar photos.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"photofind {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"photofind.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _tolerate_odd_paths()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # every command's parser sets args.run; none was named
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
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the details in a log
        return _report_crash(exc, args.command)


def entry() -> None:
    """The `photofind` command (and `python -m photofind`): main(), then out of the process
    without the interpreter's teardown, which after a scan costs 1-2 s of waiting once the
    summary is printed (finalising torch's modules: collecting and freeing what dies with
    the process anyway). Every database and report file is closed by then, and the standard
    streams are flushed here. The app is left to its normal exit, where Qt saves its state,
    and so is a run under a profiler or a coverage tracer, which write their results then."""
    code = main()
    if "PySide6" in sys.modules or sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left, or a stream closed
            pass
    os._exit(code)


def _tolerate_odd_paths() -> None:
    """Print file names that are not UTF-8 with U+FFFD instead of failing on them."""
    from photofind.core.output import REPLACE

    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=REPLACE)


def _report_crash(exc: Exception, command: str) -> int:
    """One line on stderr, the traceback in a log file whose path is printed."""
    import tempfile
    import time
    import traceback

    from photofind.paths import cache_dir

    text = (
        f"photofind {__version__} {command}: {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
        f"argv: {sys.argv!r}\n\n{traceback.format_exc()}"
    )
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    log = None
    for folder in (cache_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8", errors="backslashreplace")
        except OSError:
            continue
        log = folder / name
        break
    where = f"details are in {log}" if log else "no log could be written"
    print(
        f"photofind {command}: internal error: {type(exc).__name__}: {exc} ({where}; please report it)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
