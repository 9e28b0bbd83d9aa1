"""Options and helpers that several subcommands share."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from photofind.core.units import human_bytes  # noqa: F401 - re-exported


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--weights",
        metavar="PATH|random",
        help="ResNet-34 weights file; 'random' = seeded random init, for tests and offline "
        "benchmarks only (its groups are meaningless). Default: $PHOTOFIND_WEIGHTS, then the "
        "torch hub cache, then a download.",
    )
    p.add_argument("--cache", metavar="PATH", help="cache database (default: per-user cache dir)")
    p.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        default=[],
        help="skip files and folders matching GLOB (repeatable)",
    )
    p.add_argument("--hidden", action="store_true", help="also scan hidden files and folders")
    p.add_argument(
        "--no-embed", action="store_true", help="skip the CNN: exact and pixel-level duplicates only"
    )
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "bf16", "fp16"],
        help="inference precision (auto: the fastest this machine runs faithfully)",
    )
    p.add_argument(
        "--rotations",
        action="store_true",
        help="also match copies rotated by 90/180/270 degrees or mirrored (slower "
        "verification: up to 8 checks for each pair that fails the upright one)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def settings_from_args(args: argparse.Namespace, roots, **overrides):
    """ScanSettings from the engine options and --threshold, which each caller (scan,
    similar) adds itself: its help differs from one command to the other."""
    from photofind.core.types import ScanSettings, Thresholds

    thresholds = Thresholds()
    if args.threshold is not None:
        thresholds = Thresholds(near=args.threshold, similar=min(thresholds.similar, args.threshold))
    return ScanSettings(
        roots=tuple(roots),
        exclude=tuple(args.exclude),
        include_hidden=args.hidden,
        thresholds=thresholds,
        weights=args.weights,
        cache_path=args.cache,
        device=args.device,
        precision=args.precision,
        embed=not args.no_embed,
        rotations=args.rotations,
        calibrate=args.threshold is None,
        **overrides,
    )


@contextmanager
def cancel_on_sigint(token) -> Iterator[None]:
    """First Ctrl-C asks the engine to stop cleanly (work is kept); a second one aborts."""

    def handler(signum, frame):  # noqa: ARG001
        if token.is_cancelled():
            raise KeyboardInterrupt
        token.cancel()
        print("\nstopping after the current batch (Ctrl-C again to abort)...", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def open_store(
    make: Callable[[Any], Any],
    path: str | None,
    failure: str,
    out: TextIO | None = None,
    *,
    warn: bool = True,
) -> Any:
    """`make(path)` (a Journal, a DecisionStore, a Cache), with its warnings printed unless
    `warn` is False (a scan prints them in its summary); None, after printing `failure: why`,
    when it cannot be opened (the caller exits 2)."""
    from photofind.core.store import StoreError

    out = out or sys.stderr
    try:
        store = make(path)
    except StoreError as exc:
        print(f"{failure}: {exc}", file=out)
        return None
    for w in store.warnings if warn else ():
        print(f"warning: {w}", file=out)
    return store


def offer_moved_aside(path, out: TextIO | None = None) -> None:
    """Point at journals that were moved aside from `path`: their batches may still be undone."""
    import shlex

    from photofind.core.store import moved_aside

    for old in moved_aside(path):
        where = shlex.quote(str(old))
        print(
            f"note: an earlier journal was moved aside to {old}; list its batches with "
            f"`photofind history --journal {where}` and undo them with `photofind undo --journal {where}`",
            file=out or sys.stderr,
        )


def open_cache(path: str | None, failure: str, *, warn: bool = True) -> Any:
    """The scan cache at `path` (default: the per-user one), or None after saying why not."""
    from photofind.core.scan.cache import Cache
    from photofind.paths import default_cache_path

    return open_store(lambda p: Cache(p or default_cache_path()), path, failure, warn=warn)


def output_problems(targets: dict[str, str | None]) -> str | None:
    """Why one of the report files named by options (--json, --csv...) cannot be written,
    found before a long scan rather than after it."""
    from photofind.core.output import output_problem

    for option, target in targets.items():
        problem = target and output_problem(target)
        if problem:
            return f"{option}: {problem}"
    return None
