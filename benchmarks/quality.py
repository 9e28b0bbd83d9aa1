"""Matching quality on real photographs: one command, one table, one JSON file.

    .venv/bin/python benchmarks/quality.py [--set main|alternate] [--out DIR] [--quick] [--rotations] [--hygiene]

1. Builds the evaluation set (benchmarks/quality_set.py) from photos installed by Debian
   wallpaper packages and scikit-image; prints what to install if some are missing.
2. Runs `photofind scan --weights random --json` on it (the JSON users get), with and without
   the CNN (and with --rotations if asked), and scores each report (photofind.core.match.evaluation).
3. Scores a reference grouping made directly from the verification functions (pHash and CNN
   candidates, the pixel check, complete linkage), so verify.py is measured even while the
   grouping code changes, plus the CNN cosine alone and the peer, imagehash's pHash at
   distance 12.
4. --hygiene also measures embedding hygiene: input geometry and centring/whitening.

Targets (issue 11): on every transform but 90-degree rotations and mirrors (small tilts
included) precision >= 0.99 and recall >= 0.95; no hard negative, and no pair of frames of a
moving scene, in a near (or stronger) group; the keeper is the original (or a lossless
equivalent) in >= 95% of the groups that hold it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import quality_reference as ref  # noqa: E402
import quality_set  # noqa: E402

from photofind.core.match import evaluation as ev  # noqa: E402


def run_cli(root: Path, report: Path, cache: Path, *extra: str) -> tuple[dict, float]:
    cmd = [
        sys.executable,
        "-m",
        "photofind",
        "scan",
        str(root),
        "--json",
        str(report),
        "--cache",
        str(cache),
        "-q",
        *extra,
    ]
    env = dict(os.environ, PHOTOFIND_NO_DOWNLOAD="1")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(report.read_text()), seconds


def row(name: str, score: ev.Score, seconds: float | None = None, note: str = "") -> dict:
    return {
        "name": name,
        "seconds": None if seconds is None else round(seconds, 1),
        "note": note,
        **score.as_json(),
    }


def print_table(rows: list[dict], transforms: list[str]) -> None:
    head = f"{'method':52s} {'prec':>6s} {'recall':>6s} {'F1':>6s} {'pairs':>7s} {'hardneg':>8s} {'groups':>9s} {'s':>6s}"
    print(head)
    print("-" * len(head))
    for r in rows:
        hn = f"{r['hard_negatives_merged']}/{r['hard_negative_pairs']}"
        gr = f"{r['groups_exact']}/{r['sources']}" if r["sources"] else "-"
        secs = "" if r["seconds"] is None else f"{r['seconds']:.0f}"
        print(
            f"{r['name']:52s} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
            f"{r['predicted_pairs']:7d} {hn:>8s} {gr:>9s} {secs:>6s}"
        )
    print()
    names = [r["name"] for r in rows]
    short = [f"[{k + 1}]" for k in range(len(rows))]
    print(
        "recall per transform (derivative grouped with its original); columns: "
        + ", ".join(f"{s} {n}" for s, n in zip(short, names))
    )
    print(f"{'transform':26s} " + " ".join(f"{s:>5s}" for s in short))
    for t in transforms:
        cells = []
        for r in rows:
            v = r["recall_by_transform"].get(t)
            cells.append("    -" if v is None else f"{v:5.2f}")
        print(f"{t:26s} " + " ".join(cells))


def print_keepers(rows: list[dict]) -> None:
    """The keeper and frame lines of the CLI rows."""
    print()
    for r in rows:
        if "keeper" not in r:
            continue
        k = r["keeper"]
        instead = ", ".join(f"{t} {n}" for t, n in k["kept_instead"].items()) or "-"
        print(
            f"{r['name']}: keeper is the original in {k['original_kept']}/{k['groups']} groups "
            f"({k['rate']:.3f}; kept instead: {instead}); frame pairs in near: "
            f"{r['frame_pairs_near']}/{r['frame_pairs']}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--set",
        choices=sorted(quality_set.SETS),
        default="main",
        help="which photos: main (the README's table) or alternate (other photos, a check "
        "that the tuning carries over)",
    )
    p.add_argument(
        "--out", help="set, caches and results (default .bench/quality, or .bench/quality-alternate)"
    )
    p.add_argument("--quick", action="store_true", help="8 source photos instead of all (a smoke run)")
    p.add_argument("--hygiene", action="store_true", help="also measure input geometry and centring (slow)")
    p.add_argument("--skip-cli", action="store_true", help="only the in-process rows")
    p.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="JSON",
        help="also score an existing `photofind scan --json` report of the set (repeatable)",
    )
    p.add_argument(
        "--rotations",
        action="store_true",
        help="also run `photofind scan --rotations` (slow with random weights: it checks "
        "every candidate pair in 8 orientations and a range of small angles)",
    )
    args = p.parse_args(argv)
    out = Path(args.out or ROOT / ".bench" / ("quality" if args.set == "main" else f"quality-{args.set}"))
    truth_doc, missing = quality_set.build(
        out, limit=8 if args.quick else None, spec=quality_set.SETS[args.set]
    )
    if missing:
        print(
            f"note: {len(missing)} photo sources are not installed ({', '.join(m.name for m in missing)}); "
            f"to add them: {quality_set.install_hint(missing)}",
            file=sys.stderr,
        )
    if not truth_doc["files"]:
        print("no photos to evaluate: " + quality_set.install_hint(missing), file=sys.stderr)
        return 2
    truth = ev.Truth.load(out / "truth.json")
    root = Path(truth_doc["root"])
    cache = out / "cache.sqlite3"
    print(
        f"evaluation set: {len(truth.files)} files, {len({t.source for t in truth.files.values()})} photos, "
        f"{len({t.family for t in truth.files.values()})} scenes in {root}\n",
        file=sys.stderr,
    )
    rows: list[dict] = []
    results: dict = {"set": {"files": len(truth.files), "root": str(root)}, "rows": rows}
    if not args.skip_cli:
        runs = [
            ("photofind scan --weights random", ("--weights", "random"), ev.unrotated),
            ("photofind scan --no-embed", ("--no-embed",), ev.unrotated),
        ]
        if args.rotations:
            runs.append(
                (
                    "photofind scan --weights random --rotations [all]",
                    ("--weights", "random", "--rotations"),
                    ev.everything,
                )
            )
        for name, extra, subset in runs:
            tag = (
                name.replace("photofind scan ", "").replace(" ", "_").replace("-", "").replace("[all]", "all")
            )
            report, secs = run_cli(root, out / f"report{tag}.json", cache, *extra)
            rows.append(row(name, ev.score_groups(truth, ev.report_groups(report), subset=subset), secs))
            rows[-1]["keeper"] = ev.score_keepers(truth, report).as_json()
            pairs, merged = ev.frame_pairs(truth, ev.report_groups(report), ("near",))
            rows[-1]["frame_pairs"], rows[-1]["frame_pairs_near"] = pairs, merged
            if report.get("calibration"):
                results.setdefault("calibration", report["calibration"])
            results.setdefault("thresholds", report.get("thresholds"))
    for path in args.report:
        report = json.loads(Path(path).read_text())
        subset = ev.everything if report.get("rotations") else ev.unrotated
        rows.append(
            row(
                f"report {Path(path).name}" + (" [all]" if report.get("rotations") else ""),
                ev.score_groups(truth, ev.report_groups(report), subset=subset),
                report.get("stats", {}).get("seconds"),
            )
        )
    scan = ref.load_scan(root, cache)
    for name, rotations, subset in (
        ("verify.py + reference grouping", False, ev.unrotated),
        ("verify.py + reference grouping, rotations [all]", True, ev.everything),
    ):
        started = time.monotonic()
        groups = ref.reference_groups(scan, rotations=rotations)
        rows.append(row(name, ev.score_groups(truth, groups, subset=subset), time.monotonic() - started))
    best = ref.cnn_alone(scan, truth)
    rows.append(
        row(
            f"CNN cosine alone (random, best F1 at {best['threshold']:.5f})",
            best["score"],
            note="no pixel check",
        )
    )
    started = time.monotonic()
    peer = ref.imagehash_pairs(list(truth.files), 12)
    if peer is not None:
        rows.append(
            row("peer: imagehash pHash <= 12", ev.score_pairs(truth, peer), time.monotonic() - started)
        )
    transforms = sorted({t.transform for t in truth.files.values()} - {ev.ORIGINAL})
    print_table(rows, transforms)
    print_keepers(rows)
    if args.hygiene:
        results["hygiene"] = ref.hygiene(scan, truth, out)
    results_path = out / "results.json"
    results_path.write_text(json.dumps(results, indent=1))
    print(f"\nwritten: {results_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
