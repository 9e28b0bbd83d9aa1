"""Every benchmark in one command, each printing its own table.

By default each runs its quick mode: a smoke run of every table in minutes. With --full each
runs as the README's benchmark section does (its numbers; much longer). Each benchmark runs
in its own process, started the way a user starts it, so its timings include start-up and
its peak memory is its own. A summary at the end says how long each took and how it exited
(some exit 1 when they miss their own target, as gui_responsiveness does over its 50 ms bar);
the exit status is 1 if any exited non-zero.

Usage: .venv/bin/python benchmarks/run_all.py [--full] [--only NAME[,NAME...]]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name: (quick arguments, full arguments). The full ones are the README's commands.
# tests/test_benchmarks_run_all.py fails if a benchmark script is missing here.
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "scan_throughput": (["--photos", "16", "--warm-files", "500", "--naive", "4"], []),  # 16: one batch
    "cleanup_throughput": (["--files", "200"], ["--files", "2000"]),
    "companions_scale": (["--photos", "10000"], ["--photos", "100000"]),
    "huge_images": (["--mp", "40", "--modes", "RGBA"], []),
    "tilt_cost": ([], []),
    "similar_query": (["--photos", "2000", "--sizes", "10000,100000"], []),
    "library_scale": (
        ["--photos", "2000", "--mode", "no-embed"],
        ["--photos", "10000", "--mode", "no-embed"],
    ),
    "quality": (["--quick"], []),
    "phash_rescan": (["--photos", "10000"], ["--photos", "100000"]),
    "index_scale": (["--sizes", "10000", "--kinds", "aniso", "--no-regroup"], ["--million"]),
    "gui_responsiveness": (
        ["--photos", "200", "--fixed-thresholds"],
        ["--photos", "2000", "--fixed-thresholds"],
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the README's runs instead of quick ones")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated, from: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results = []
    for name in names:
        quick, full = BENCHMARKS[name]
        command = [sys.executable, str(HERE / f"{name}.py"), *(full if args.full else quick)]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(command).returncode
        results.append((name, time.perf_counter() - start, code))
    print("\n| benchmark | seconds | exit |\n|---|---:|---|")
    for name, seconds, code in results:
        print(f"| {name} | {seconds:.0f} | {'ok' if code == 0 else f'exit {code}'} |")
    return 1 if any(code for _, _, code in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
