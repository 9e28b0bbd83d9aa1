"""`photofind similar` as a query: the whole command a user waits for on a cached library,
against the time to import torch, and the search alone at up to 1M embeddings.

Part 1 (whole command): a library of N small JPEGs (a fifth of them with a resized copy) is
read into a cache once by the pipeline, embedded by the tests' fast FakeEmbedder under the
random-weights ResNet-34's model id, so the real CLI (`--weights random`) finds every
embedding cached. Then, each in a fresh process, timed from start to exit:
`python -c "import torch"`, `photofind similar LIBRARY_PHOTO --in LIB --top 5` and
`photofind similar OUTSIDE_PHOTO ...` (that one builds the ResNet-34 and embeds one photo),
both with `--weights random` (seeded random init) and with `--weights FILE`, a saved
random-init state dict: the code path of real weights (the cache is filled for both).
photofind's bytecode is compiled first and kept, as an installed package's is.
`--baseline DIR` also times the same commands with the photofind of DIR (a checkout of an
earlier commit, e.g. `git worktree add /tmp/base main`), each run of each command interleaved
with the others, so both sets of medians come from the same minutes of machine load.

Part 2 (search alone): SimilarIndex over N synthetic 512-d embeddings (benchmarks/index_scale.py's
anisotropic vectors with planted near-duplicates): index build, the first query (which builds
the LSH tables above 200k), then per-query times over 40 queries (half with a planted
near-duplicate, which must come first), against one exact product and faiss IndexFlatIP.

Usage: python benchmarks/similar_query.py [--photos 10000] [--sizes 10000,100000,1000000]
       [--baseline DIR] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("PHOTOFIND_NO_DOWNLOAD", "1")

QUERIES = 40
RUNS = 3


def make_library(root: Path, photos: int) -> Path:
    """`photos` 96x72 JPEGs of smooth random colour fields; every fifth has a resized copy.
    Kept under .bench/ and reused between runs."""
    from PIL import Image

    marker = root / f".complete-{photos}"
    if marker.exists():
        return root
    rng = np.random.default_rng(0)
    n = 0
    while n < photos:
        folder = root / f"roll{n // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        field = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(field).resize((96, 72), Image.Resampling.BICUBIC)
        image.save(folder / f"img{n:06d}.jpg", quality=90)
        n += 1
        if n % 5 == 1 and n < photos:
            image.resize((64, 48), Image.Resampling.LANCZOS).save(folder / f"img{n - 1:06d}_small.jpg")
            n += 1
    marker.touch()
    return root


def save_weights_file(path: Path) -> Path:
    """A seeded random-init ResNet-34 state dict, saved as a user's checkpoint would be: the
    outside-photo row with it runs the real-weights code path (read, check, load). Kept
    between runs: its sha256 names the model whose embeddings the cache holds."""
    if path.exists():
        return path
    import torch

    from photofind.core.model.resnet import build_resnet34

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save(build_resnet34().state_dict(), path)
    return path


def fill_cache(library: Path, cache: Path, weights_arg: str = "random") -> tuple[float, int]:
    """Read the library into `cache` as a scan would, with the fake embedder under the model
    id of ResNet-34 with `weights_arg` ("random" or a weights file); returns (seconds, photos)."""
    from photofind.core.model.weights import ARCH, resolve_weights
    from photofind.core.pipeline import scan
    from photofind.core.types import ModelInfo, ScanSettings
    from tests.conftest import FakeEmbedder

    weights = resolve_weights(weights_arg)

    class AsRandomResNet(FakeEmbedder):
        @property
        def model(self) -> ModelInfo:
            return ModelInfo(id=weights.model_id, arch=ARCH, weights=weights.label, source="random")

    start = time.perf_counter()
    settings = ScanSettings(roots=(str(library),), cache_path=str(cache), weights=weights_arg)
    result = scan(settings, embedder=AsRandomResNet(), group=False)
    return time.perf_counter() - start, len(result.records)


def timed(command: list[str], code: Path = ROOT) -> float:
    """Seconds from start to exit of `command`, importing photofind from `code`."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package's bytecode is compiled once
    start = time.perf_counter()
    # Run from `code`: `python -m` puts the working folder first on sys.path.
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=code)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds


def whole_command(photos: int, runs: int, baseline: Path | None) -> None:
    import compileall

    from PIL import Image

    library = make_library(ROOT / ".bench" / f"similar-{photos}", photos)
    work = ROOT / ".bench" / f"similar-{photos}-work"  # kept: a second run finds the cache warm
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "cache.sqlite3"
    weights = str(save_weights_file(work / "resnet34-random.pth"))
    fill, count = fill_cache(library, cache)
    fill += fill_cache(library, cache, weights)[0]
    inside = str(next(library.glob("roll000/img000000.jpg")))
    outside = work / "outside.jpg"
    Image.open(inside).resize((80, 60), Image.Resampling.LANCZOS).save(outside, quality=80)
    similar = [sys.executable, "-m", "photofind", "similar"]
    tail = ["--in", str(library), "--top", "5", "--cache", str(cache), "-q"]
    commands = [
        ("similar, a library photo", [*similar, inside, *tail, "--weights", "random"]),
        ("similar, library, file", [*similar, inside, *tail, "--weights", weights]),
        ("similar, outside, random", [*similar, str(outside), *tail, "--weights", "random"]),
        ("similar, outside, file", [*similar, str(outside), *tail, "--weights", weights]),
    ]
    codes = [("", ROOT)] + ([("baseline: ", baseline)] if baseline is not None else [])
    rows = [("python -c 'import torch'", [sys.executable, "-c", "import torch"], ROOT)]
    rows += [(prefix + label, command, code) for prefix, code in codes for label, command in commands]
    for _prefix, code in codes:
        compileall.compile_dir(code / "photofind", quiet=1)
    load = os.getloadavg()[0]
    times: dict[str, list[float]] = {label: [] for label, _command, _code in rows}
    for _ in range(runs):  # interleaved: each command sees the same drift in the machine's load
        for label, command, code in rows:
            times[label].append(timed(command, code))
    torch_s = statistics.median(times[rows[0][0]])
    print(
        f"\nWhole command on a cached library of {count:,} photos (cache brought up to date in {fill:.1f} s); "
        f"median of {runs} fresh processes; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} CPUs"
        + (f"; baseline: the photofind of {baseline}" if baseline is not None else "")
        + "\n"
    )
    print(f"{'command':<38}{'median s':>10}{'min s':>8}{'- import torch s':>18}")
    for label, _command, _code in rows:
        median = statistics.median(times[label])
        print(f"{label:<38}{median:>10.2f}{min(times[label]):>8.2f}{median - torch_s:>18.2f}")


def search_alone(n: int) -> dict:
    from index_scale import make_vectors

    from photofind.core.match.similar import SimilarIndex
    from photofind.core.types import FileRef, ImageFacts, ImageRecord, Thresholds

    x, planted = make_vectors(n, "aniso")
    facts = ImageFacts(640, 480, "JPEG")
    records = [ImageRecord(FileRef(f"/lib/{k:07d}.jpg", 1, 0), f"h{k}", facts) for k in range(n)]
    start = time.perf_counter()
    index = SimilarIndex(records, x, thresholds=Thresholds(near=0.90, similar=0.85))
    built = time.perf_counter() - start
    rng = np.random.default_rng(1)
    pairs = planted[rng.choice(len(planted), QUERIES // 2, replace=False)]
    queries = list(pairs[:, 0]) + list(rng.integers(0, n, QUERIES // 2))
    start = time.perf_counter()
    index.find(records[queries[0]].path, 10)
    first = time.perf_counter() - start
    times, found = [], 0
    for k, q in enumerate(queries):
        start = time.perf_counter()
        hits = index.find(records[q].path, 10)
        times.append(time.perf_counter() - start)
        if k < len(pairs):
            found += hits[0].index == pairs[k, 1]
    start = time.perf_counter()
    for q in queries[:5]:
        np.argsort(-(x @ x[q]))[:10]
    exact = (time.perf_counter() - start) / 5
    faiss_s = float("nan")
    try:
        import faiss

        flat = faiss.IndexFlatIP(x.shape[1])
        flat.add(x)
        start = time.perf_counter()
        for q in queries[:5]:
            flat.search(x[q : q + 1], 11)
        faiss_s = (time.perf_counter() - start) / 5
    except ImportError:
        pass
    return dict(
        n=n,
        built=built,
        first=first,
        median=statistics.median(times),
        worst=max(times),
        found=found,
        asked=len(pairs),
        exact=exact,
        faiss=faiss_s,
        method="LSH tables" if n >= index.exact_below else "exact product",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000, help="library size for the whole command")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="embeddings for the search alone")
    parser.add_argument("--no-command", action="store_true", help="skip the whole-command part")
    parser.add_argument("--runs", type=int, default=RUNS, help="fresh processes per command (median)")
    parser.add_argument(
        "--baseline", type=Path, metavar="DIR", help="also time the photofind of DIR, interleaved"
    )
    args = parser.parse_args()
    if not args.no_command:
        whole_command(args.photos, args.runs, args.baseline)
    rows = [search_alone(int(n)) for n in args.sizes.split(",") if n]
    print(f"\nSearch alone: SimilarIndex.find(top 10) over aniso 512-d embeddings, {QUERIES} queries\n")
    print(
        f"{'N':>10}  {'method':<15}{'build s':>9}{'first ms':>10}{'median ms':>11}{'max ms':>8}"
        f"{'planted 1st':>13}{'exact ms':>10}{'faiss ms':>10}"
    )
    for r in rows:
        print(
            f"{r['n']:>10,}  {r['method']:<15}{r['built']:>9.2f}{r['first'] * 1000:>10.1f}"
            f"{r['median'] * 1000:>11.1f}{r['worst'] * 1000:>8.1f}{r['found']:>7}/{r['asked']:<5}"
            f"{r['exact'] * 1000:>10.1f}{r['faiss'] * 1000:>10.1f}"
        )


if __name__ == "__main__":
    main()
