"""What finding straightened copies costs: grouping the quality set with and without the tilt
search, in one process, on the same candidates and decoded details.

    .venv/bin/python benchmarks/tilt_cost.py [--out DIR]

Runs on the set benchmarks/quality.py built (default .bench/quality; build it first). The
photos' details are decoded once before timing, so both rows time the pixel checks and the
grouping only (each twice, alternated, the faster kept); the ratio is what the tilt search
adds to that phase.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import quality_reference as ref  # noqa: E402

from photofind.core.match import evaluation as ev  # noqa: E402
from photofind.core.match import verify  # noqa: E402
from photofind.core.match.grouping import group_records  # noqa: E402


def timed_grouping(scan) -> tuple[float, list]:
    started = time.perf_counter()
    groups = group_records(scan.records, scan.embeddings, scan.settings.thresholds, thumbs=scan.thumbs)
    return time.perf_counter() - started, groups


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / ".bench" / "quality"), help="the quality set's folder")
    args = p.parse_args(argv)
    out = Path(args.out)
    truth = ev.Truth.load(out / "truth.json")
    scan = ref.load_scan(Path(truth_root(out)), out / "cache.sqlite3")
    for r in scan.records:  # decode every detail once, outside the timing
        verify.load_detail(r)
    tilted = verify._tilted
    times: dict[bool, list[float]] = {False: [], True: []}
    for tilt_on in (False, True, False, True):  # alternated: a loaded machine drifts
        verify._tilted = tilted if tilt_on else (lambda da, db: None)
        try:
            secs, found = timed_grouping(scan)
        finally:
            verify._tilted = tilted
        times[tilt_on].append(secs)
        if tilt_on:
            groups = found
        else:
            plain = found
    with_tilt, without = min(times[True]), min(times[False])
    rows = [
        ("without the tilt search", without, plain),
        ("with the tilt search (default)", with_tilt, groups),
    ]
    print(f"{'grouping of ' + str(len(scan.records)) + ' photos':36s} {'s':>7s} {'recall':>7s} {'tilts':>6s}")
    for name, secs, found in rows:
        pairs = [(g.tier.value, [scan.records[i].path for i in g.indices]) for g in found]
        score = ev.score_groups(truth, pairs)
        print(
            f"{name:36s} {secs:7.1f} {score.recall:7.3f} {score.recall_by_transform.get('straighten', 0):6.2f}"
        )
    print(f"\ncost of the tilt search: x{with_tilt / max(without, 1e-9):.2f} of the grouping phase")
    return 0


def truth_root(out: Path) -> str:
    import json

    return json.loads((out / "truth.json").read_text())["root"]


if __name__ == "__main__":
    raise SystemExit(main())
