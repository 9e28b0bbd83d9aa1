"""How fast clean-up runs, and what its safety costs: files per second for a bare send2trash
loop versus photofind's journaled, re-checked trash, move, hard link and their undo.

Runs in a temporary folder with its own trash (XDG_DATA_HOME and HOME point inside it).
Usage: python benchmarks/cleanup_throughput.py [--files N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_library(root: Path, pairs: int):
    from photofind.core.scan.hashing import content_hash_file
    from photofind.core.types import (
        FileRef,
        Group,
        ImageFacts,
        ImageRecord,
        Member,
        ScanResult,
        ScanSettings,
        Tier,
    )

    records, groups = [], []
    for n in range(pairs):
        data = os.urandom(30_000) + n.to_bytes(4, "little")  # a photo-sized file
        for name in (f"orig/{n:05d}.jpg", f"copies/{n % 50:02d}/{n:05d} copy.jpg"):
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    for n in range(pairs):
        base = len(records)
        for name in (f"orig/{n:05d}.jpg", f"copies/{n % 50:02d}/{n:05d} copy.jpg"):
            p = str(root / name)
            st = os.stat(p)
            records.append(
                ImageRecord(
                    FileRef(p, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino),
                    content_hash_file(p),
                    ImageFacts(100, 100, "JPEG"),
                )
            )
        groups.append(Group(n + 1, Tier.EXACT, (Member(base, 1.0), Member(base + 1, 1.0)), 1.0, 1.0))
    return ScanResult(ScanSettings(roots=(str(root),)), tuple(records), (), tuple(groups), None)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="duplicates to act on (default 1000)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="photofind-bench-"))
    os.environ.update(XDG_DATA_HOME=str(work / "xdg"), HOME=str(work), PHOTOFIND_DATA_DIR=str(work / "data"))
    from send2trash import send2trash

    from photofind.core.cleanup.actions import Action, plan_duplicates
    from photofind.core.cleanup.executor import Status, execute
    from photofind.core.cleanup.restore import undo
    from photofind.core.cleanup.trash import _backend

    _backend()  # point send2trash at this run's trash, as photofind does
    n = args.files
    rows: list[tuple[str, float]] = []
    try:
        lib = work / "bare"
        result = make_library(lib, n)
        dups = [result.records[g.members[1].index].path for g in result.groups]
        rows.append(("send2trash loop (no checks, no journal)", timed(lambda: [send2trash(p) for p in dups])))
        shutil.rmtree(work / "xdg")
        for action in (Action.TRASH, Action.MOVE, Action.HARDLINK):
            lib = work / action.value
            result = make_library(lib, n)
            plan = plan_duplicates(result, action, move_to=str(work / "moved"))
            holder: dict = {}
            rows.append((f"photofind {action.value}", timed(lambda h=holder, p=plan: h.update(r=execute(p)))))
            assert holder["r"].count(Status.DONE) == n, holder["r"].outcomes[0]
            rows.append((f"photofind undo {action.value}", timed(lambda h=holder: h.update(u=undo()))))
            assert holder["u"].complete
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = rows[0][1]
    print(f"{n} files, {os.cpu_count()} CPUs, {sys.platform}")
    print(f"{'operation':<42} {'seconds':>8} {'files/s':>9} {'x bare':>7}")
    for name, secs in rows:
        print(f"{name:<42} {secs:8.2f} {n / secs:9.0f} {secs / base:7.2f}")


if __name__ == "__main__":
    main()
