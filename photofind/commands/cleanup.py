"""`photofind scan ... --act`: the clean-up options of the scan command, their checks, and
the plan / act / report steps that run after the scan."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

ACTIONS = ("trash", "move", "hardlink", "delete")
DEFAULT_ACT_TIERS = "exact,pixels,near"


def add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "clean-up",
        "Act on duplicates after the scan. Only the exact, pixels and near tiers are acted on "
        "unless --act-tiers names 'similar'. Every batch is journaled: `photofind undo` reverses it.",
    )
    g.add_argument(
        "--act",
        choices=ACTIONS,
        metavar="ACTION",
        help="trash (system trash), move (needs --move-to), hardlink (identical files "
        "only, same volume), delete (permanent: needs --permanent and confirmation)",
    )
    g.add_argument(
        "--rule",
        metavar="CHAIN",
        default="",
        help="keeper rule chain, best first, e.g. resolution,format,size,unedited,oldest,"
        "mtime,shortest (the default); also newest, folder:PATH, format:raw>heic>jpeg",
    )
    g.add_argument(
        "--protect",
        metavar="DIR",
        action="append",
        default=[],
        help="files in DIR are always kept and never touched (repeatable)",
    )
    g.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    g.add_argument("--move-to", metavar="DIR", help="destination of --act move (structure kept)")
    g.add_argument(
        "--act-tiers",
        metavar="LIST",
        default=DEFAULT_ACT_TIERS,
        help=f"tiers to act on (default {DEFAULT_ACT_TIERS}; add 'similar' only if you "
        "mean to remove different photos of the same scene)",
    )
    g.add_argument("--plan-json", metavar="FILE", help="write the plan as JSON ('-' for stdout)")
    g.add_argument("--plan-csv", metavar="FILE", help="write the plan as CSV ('-' for stdout)")
    g.add_argument("--permanent", action="store_true", help="allow --act delete (no undo!)")
    g.add_argument("--yes", action="store_true", help="answer the confirmation of --act delete (for scripts)")
    g.add_argument("--journal", metavar="PATH", help="undo journal (default: per-user data dir)")
    g.add_argument(
        "--carry-metadata",
        action="store_true",
        help="write the date taken, GPS position, rating, keywords or description that a kept photo "
        "lacks and a removed copy has into the kept photo's XMP sidecar (never the photo; undone with the batch)",
    )
    g.add_argument(
        "--no-decisions",
        action="store_true",
        help="show groups even if remembered as 'not a duplicate' or 'keep all'",
    )


def validate(args: argparse.Namespace) -> str | None:
    """A usage error to print before scanning (nothing is read yet), or None."""
    from pathlib import Path

    from photofind.core.cleanup.keep import RuleError, parse_rules

    try:
        parse_rules(args.rule)
    except RuleError as exc:
        return str(exc)
    try:
        parse_tiers(args.act_tiers)
    except ValueError as exc:
        return str(exc)
    if args.act == "move" and not args.move_to:
        return "--act move needs --move-to DIR"
    if args.move_to and args.act != "move":
        return "--move-to is only used with --act move"
    if args.act == "delete" and not args.permanent:
        return "--act delete deletes files for good; add --permanent to allow it (or use --act trash)"
    if args.permanent and args.act != "delete":
        return "--permanent is only used with --act delete"
    for folder in args.protect:
        if not Path(folder).is_dir():
            return f"--protect {folder}: no such folder"
    outputs = [args.json, args.csv, args.plan_json, args.plan_csv]  # --json, --csv: scan's own
    if outputs.count("-") > 1:
        return "only one of --json, --csv, --plan-json, --plan-csv can write to stdout ('-')"
    if args.dry_run and not args.act:
        return "--dry-run needs --act ACTION (the action to plan)"
    if (args.plan_json or args.plan_csv) and not args.act:
        return "--plan-json/--plan-csv need --act ACTION (the action to plan)"
    return None


def parse_tiers(text: str) -> tuple[Any, ...]:
    from photofind.core.types import Tier

    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    try:
        tiers = tuple(Tier(n) for n in names)
    except ValueError:
        known = ", ".join(t.value for t in Tier)
        raise ValueError(f"--act-tiers: unknown tier in {text!r}; known: {known}") from None
    if not tiers:
        raise ValueError("--act-tiers is empty")
    return tiers


def settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """What the clean-up options change in ScanSettings: the JSON's keepers follow them too."""
    from pathlib import Path

    return {
        "protected": tuple(str(Path(p).resolve()) for p in args.protect),
        "keep_rules": args.rule,
        "use_decisions": not args.no_decisions,
    }


def run_after_scan(args: argparse.Namespace, result: Any, out: TextIO) -> int | None:
    """Plan, print, maybe act. Returns an exit code to use instead of the scan's, or None."""
    if not args.act or result.cancelled:
        return None
    from photofind.core.cleanup.actions import Action, plan_duplicates, write_plan_csv, write_plan_json

    tiers = parse_tiers(args.act_tiers)
    model = result.model
    if model is not None and str(model.weights).startswith("random"):
        # Random weights make visual groups meaningless: only byte- or pixel-identical files are safe.
        safe = tuple(t for t in tiers if t.value in ("exact", "pixels"))
        if safe != tiers:
            print("note: random weights: acting only on the exact and pixels tiers", file=out)
        tiers = safe
    plan = plan_duplicates(
        result, Action(args.act), tiers=tiers, move_to=args.move_to, carry=args.carry_metadata
    )
    if args.plan_json:
        write_plan_json(plan, sys.stdout if args.plan_json == "-" else args.plan_json)
    if args.plan_csv:
        write_plan_csv(plan, sys.stdout if args.plan_csv == "-" else args.plan_csv)
    print_plan(plan, out, detailed=args.dry_run, limit=args.show)
    if args.dry_run or not plan.items:
        if args.dry_run:
            print("dry run: nothing was changed", file=out)
        return None
    if plan.action is Action.DELETE and not _confirm_delete(plan, args.yes, out):
        print("not confirmed: nothing was deleted", file=out)
        return 2
    return _execute(plan, args, out)


def print_plan(plan: Any, out: TextIO, detailed: bool, limit: int) -> None:
    """The plan's one-line summary; with `detailed` (a dry run) up to `limit` of its files."""
    print(f"plan: {plan.summary()}", file=out)
    limit = max(limit, 0)
    if detailed:
        for item in plan.items[:limit]:
            extra = f" -> {item.target}" if item.target else ""
            if item.companion_of is not None:  # a capture unit's companion, listed under its photo
                print(f"      with its {item.kind} companion {item.path}{extra}", file=out)
                continue
            print(f"  #{item.group_id} {item.tier:<7} {plan.action.value} {item.path}{extra}", file=out)
            print(f"      keeps {item.keeper.path}", file=out)
        if len(plan.items) > limit:
            print(f"  ... {len(plan.items) - limit} more (use --plan-json for all)", file=out)
    for write in plan.sidecars[:limit]:
        print(f"  metadata for {write.keeper}: {write.describe()}", file=out)
    for r in plan.refused[:limit]:
        print(f"  left alone: {r.path}: {r.reason}", file=out)
    if len(plan.refused) > limit:
        print(f"  ... {len(plan.refused) - limit} more left alone", file=out)


def _confirm_delete(plan: Any, yes: bool, out: TextIO) -> bool:
    """The second confirmation of a permanent delete: --yes, or typing the file count."""
    if yes:
        return True
    if not sys.stdin.isatty():
        print("--act delete --permanent needs --yes when not run from a terminal", file=out)
        return False
    answer = input(f"Permanently delete {plan.files} files? There is no undo. Type {plan.files} to confirm: ")
    return answer.strip() == str(plan.files)


def _execute(plan: Any, args: argparse.Namespace, out: TextIO) -> int | None:
    from photofind.commands.common import cancel_on_sigint, human_bytes, open_store
    from photofind.commands.textprogress import TextProgress
    from photofind.core.cleanup.executor import Status, execute
    from photofind.core.cleanup.journal import Journal
    from photofind.core.progress import CancelToken

    token = CancelToken()
    progress = TextProgress(token, enabled=not args.quiet)
    journal = open_store(
        Journal, args.journal, "photofind: cannot write the undo journal, so nothing was changed", out
    )
    if journal is None:
        return 2
    with journal, cancel_on_sigint(token):
        report = execute(plan, journal=journal, progress=progress, allow_permanent=args.permanent)
    progress.close()
    for note in report.sidecar_notes:
        print(f"  {note}", file=out)
    for o in report.outcomes:
        if o.status is not Status.DONE:
            print(f"  {o.status.value}: {o.item.path}: {o.reason}", file=out)
    done = report.count(Status.DONE)
    print(
        f"{plan.action.value}: {done} done ({human_bytes(report.bytes_done)}), "
        f"{report.count(Status.SKIPPED)} skipped, {report.count(Status.FAILED)} failed"
        + (", cancelled" if report.cancelled else ""),
        file=out,
    )
    if done and plan.action.value != "delete":
        print(f"undo with: photofind undo {report.batch_id}", file=out)
    if report.cancelled:
        return 130
    return 1 if report.count(Status.FAILED) else None
