"""The pHash candidate search after new photos: the full search (a cold scan) against the
update of the remembered answer (phash_memo) when NEW of the photos are new to it, and whether
the two answers are equal. Photos: the pHashes and thumbnails of a scan cache's images (the
100k benchmark library's), or --photos N random smooth thumbnails; the last NEW of them (in
content-hash order) taken as the new ones.

Usage:
  python benchmarks/phash_rescan.py --cache CACHE.sqlite3 [--new 0.01] [--rotations]
  python benchmarks/phash_rescan.py --photos 10000
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from photofind.core.match import phash_memo
from photofind.core.scan.cache import Cache
from photofind.core.scan.hashing import phashes_through


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--cache", help="a scan cache (opened read-only)")
    source.add_argument("--photos", type=int, help="this many random smooth thumbnails instead")
    ap.add_argument("--new", type=float, default=0.01)
    ap.add_argument("--rotations", action="store_true")
    args = ap.parse_args()
    h, thumbs = _from_cache(args.cache) if args.cache else _random(args.photos)
    old = len(h) - round(args.new * len(h))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(Path(tmp) / "cache.sqlite3")
        times = {}
        start = time.perf_counter()
        phash_memo.remembered_candidates(cache, h[:old], thumbs[:old], rotations=args.rotations)
        times["full search, old photos (kept)"] = time.perf_counter() - start
        blob = len(cache.get_blob(phash_memo.NAMESPACE, "candidates"))
        start = time.perf_counter()
        updated = phash_memo.remembered_candidates(cache, h, thumbs, rotations=args.rotations)
        times[f"update, +{len(h) - old} new"] = time.perf_counter() - start
        start = time.perf_counter()
        full = phash_memo.remembered_candidates(None, h, thumbs, rotations=args.rotations)
        times["full search, all photos"] = time.perf_counter() - start
    same = all(np.array_equal(a, b) for a, b in zip(updated, full))
    print(f"{len(h)} photos, rotations {args.rotations}; remembered answer {blob / 1e6:.1f} MB")
    print(f"{'':34} {'s':>8}")
    for name, seconds in times.items():
        print(f"{name:34} {seconds:8.2f}")
    print(f"close pairs {len(full[0])}, turned {len(full[1])}; update == full search: {same}")


def _from_cache(path: str) -> tuple[np.ndarray, np.ndarray]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = db.execute(
        "SELECT phash, thumb FROM images WHERE phash IS NOT NULL AND thumb IS NOT NULL ORDER BY content_hash"
    ).fetchall()
    h = np.array([p for p, _ in rows], np.int64).view(np.uint64)
    return h, np.frombuffer(b"".join(t for _, t in rows), np.uint8).reshape(-1, 32, 32)


def _random(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random 8x8 pictures upscaled to 32x32 (pHashes spread like photos', few pairs)."""
    coarse = np.random.default_rng(0).integers(0, 256, (n, 8, 8)).astype(np.uint8)
    thumbs = coarse.repeat(4, axis=1).repeat(4, axis=2)
    return phashes_through(thumbs, np.eye(32), np.eye(32)), thumbs


if __name__ == "__main__":
    main()
