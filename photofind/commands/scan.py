"""`photofind scan PATH...`: find duplicate and similar photos, print a summary, write JSON/CSV."""

from __future__ import annotations

import argparse
import sys

from photofind.commands import cleanup
from photofind.commands.common import (
    add_engine_options,
    cancel_on_sigint,
    human_bytes,
    open_cache,
    output_problems,
    settings_from_args,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="scan folders for duplicate and similar photos",
        description="Scan folders for exact duplicates, near-duplicates and similar photos.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="folders (or files) to scan")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON ('-' for stdout)")
    p.add_argument("--csv", metavar="FILE", help="write one row per grouped file as CSV ('-' for stdout)")
    p.add_argument(
        "--threshold",
        type=float,
        metavar="T",
        help="cosine similarity for near-duplicates, 0..1 (default: calibrated)",
    )
    p.add_argument("--show", type=int, default=20, metavar="N", help="groups to list in the summary")
    add_engine_options(p)
    cleanup.add_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from photofind.cli import EXIT_CANCELLED, EXIT_OK, EXIT_OUTPUT, EXIT_SKIPPED, EXIT_USAGE
    from photofind.commands.textprogress import TextProgress
    from photofind.core.pipeline import scan
    from photofind.core.progress import CancelToken

    problem = _usage_problem(args) or cleanup.validate(args)
    if problem:
        print(f"photofind scan: {problem}", file=sys.stderr)
        return EXIT_USAGE
    settings = settings_from_args(
        args, [str(Path(p).resolve()) for p in args.paths], **cleanup.settings_overrides(args)
    )
    cache = open_cache(args.cache, "photofind scan", warn=False)  # its warnings are in the summary
    if cache is None:
        return EXIT_USAGE
    token = CancelToken()
    progress = TextProgress(token, enabled=not args.quiet)
    with cache, cancel_on_sigint(token):
        result = scan(settings, cache=cache, progress=progress)
    progress.close()
    to_stdout = "-" in (args.json, args.csv, args.plan_json, args.plan_csv)
    out = sys.stderr if to_stdout else sys.stdout
    unwritten = _write_reports(args, result)
    print_summary(result, out, args.show)
    if unwritten:
        print(f"photofind scan: {unwritten}", file=sys.stderr)
        return EXIT_OUTPUT
    acted = cleanup.run_after_scan(args, result, out)
    if acted is not None:
        return acted
    if result.cancelled:
        return EXIT_CANCELLED
    return EXIT_SKIPPED if result.skipped else EXIT_OK


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What makes this command line unusable, found before anything is read."""
    from pathlib import Path

    from photofind.core.model.embed import device_problem

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        return f"no such file or folder: {', '.join(missing)}"
    if args.threshold is not None and not 0.0 < args.threshold <= 1.0:
        return "--threshold must be in (0, 1]"
    if args.show < 0:
        return "--show must be 0 or more"
    outputs = {
        "--json": args.json,
        "--csv": args.csv,
        "--plan-json": args.plan_json,
        "--plan-csv": args.plan_csv,
    }
    return output_problems(outputs) or (None if args.no_embed else device_problem(args.device))


def _write_reports(args: argparse.Namespace, result) -> str | None:
    """Write --json and --csv; what could not be written (a full disk), or None."""
    from photofind.core.report import write_csv, write_json

    for target, write in ((args.json, write_json), (args.csv, write_csv)):
        if not target:
            continue
        try:
            write(result, sys.stdout if target == "-" else target)
        except OSError as exc:
            return f"cannot write {target}: {exc.strerror or exc} (the summary above is complete)"
    return None


def print_summary(result, out, show: int) -> None:
    from collections import Counter

    from photofind.core.report import group_bytes_reclaimable

    for w in result.warnings:
        print(f"warning: {w}", file=out)
    if result.model is None:
        print(f"note: {result.model_problem}", file=out)
    elif result.model.weights.startswith("random"):
        print("note: using RANDOM weights (testing only): similarity groups are not meaningful", file=out)
    s = result.stats
    print(
        f"{len(result.records)} photos read ({s.from_cache} from cache, {s.embedded} embedded, "
        f"{s.reused_embeddings} reused) in {s.seconds:.1f} s; {len(result.skipped)} skipped",
        file=out,
    )
    if result.cancelled:
        print("cancelled: finished work is cached; scan again to resume", file=out)
        return
    print(thresholds_line(result), file=out)
    tiers = Counter(g.tier.value for g in result.groups)
    reclaim = sum(group_bytes_reclaimable(result, g) for g in result.groups if g.tier.value != "similar")
    tier_text = ", ".join(f"{n} {t}" for t, n in tiers.items()) or "none"
    print(f"{len(result.groups)} groups ({tier_text}); {human_bytes(reclaim)} reclaimable", file=out)
    for g in result.groups[:show]:
        keep = result.records[g.keep_index]
        why = ", ".join(g.why)
        print(f"  #{g.id} {g.tier.value} ({why}) min sim {g.min_similarity:.3f}", file=out)
        print(f"      keep {keep.path}", file=out)
        for m in g.members[1:]:
            print(f"      dup  {result.records[m.index].path}  ({m.similarity:.3f})", file=out)
    if len(result.groups) > show:
        print(f"  ... {len(result.groups) - show} more (use --json for all)", file=out)
    for sk in result.skipped[:show]:
        print(f"  skipped {sk.path}: {sk.reason.value} ({sk.detail})", file=out)
    if len(result.skipped) > show:
        print(f"  ... {len(result.skipped) - show} more skipped", file=out)


def thresholds_line(result) -> str:
    """Which cosine thresholds grouped this scan, and where they came from."""
    t = result.settings.thresholds
    cal = result.calibration
    text = f"thresholds: near {t.near:.4f} (+ pixel check), similar {t.similar:.4f}"
    if cal is not None:
        text += (
            f"; calibrated on this library: estimated precision {cal.estimated_precision:.3f} "
            f"(target {cal.target_precision:.2f}), near-duplicate recall {cal.near_recall:.3f}"
        )
    elif result.model is not None and result.settings.calibrate:
        text += "; defaults (too few photos to calibrate)"
    elif result.model is not None:
        text += "; set by you"
    if result.settings.rotations:
        text += "; rotated and mirrored copies matched"
    return text
