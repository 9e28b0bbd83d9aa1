"""The matching engine at scale: time to find every group of near-duplicates among N photos'
embeddings, against exact blocked search, lshash3 and faiss, on isotropic and anisotropic
vectors. Also the GUI slider: regrouping 10k photos from cached candidates.

Data: 512-d unit vectors, N/20 planted near-duplicate pairs at cosine 0.90-0.99 (uniform).
"aniso" gives every vector a shared positive mean and a k^-0.4 spectrum, so unrelated
vectors sit at cosine ~0.5 like pooled ReLU features; "iso" vectors are uniform on the sphere.
Each measurement runs in a fresh process, so its peak RSS is its own (it includes the
vectors: 2 GB at 1M); "extra" is how far the method raised the process's resident memory at its
peak (the kernel's peak counter, reset before the method: it sees numba's and BLAS's
allocations, and costs nothing, where tracemalloc made the threaded run 1.4x slower). "CPU s" is the
method's CPU time over all its threads: on a shared machine the wall time depends on how much of
the cores the other jobs leave, the CPU time much less (on k idle cores, wall >= CPU / k).
"all groups" = index build + candidate search + exact check + complete-linkage grouping.
lshash3 cannot do all pairs at these sizes: it indexes everything, answers a sample of
queries, and its all-pairs time is extrapolated (marked ~); so is faiss-ivf's (IndexIVFFlat,
approximate: faiss's exact range search would take hours at 1M). "numpy" is photofind with
its numpy candidate loop instead of the compiled (numba) one: the same pairs, for the ratio.

Usage:
  python benchmarks/index_scale.py                  # N = 10k and 100k, both kinds, all baselines
  python benchmarks/index_scale.py --million        # adds N = 1M (photofind only)
  python benchmarks/index_scale.py --sizes 20000 --kinds aniso --baselines exact,faiss
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIM = 512
THRESHOLD = 0.90
SEED = 7


def make_vectors(n: int, kind: str, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(n, DIM) float32 unit rows, and the (m, 2) planted pairs (lower index first)."""
    rng = np.random.default_rng(seed)
    spectrum = np.arange(1, DIM + 1, dtype=np.float32) ** -0.4
    mean = np.abs(rng.standard_normal(DIM)).astype(np.float32)
    mean /= np.linalg.norm(mean)
    x = np.empty((n, DIM), np.float32)
    for s in range(0, n, 65536):
        g = rng.standard_normal((min(65536, n - s), DIM), dtype=np.float32)
        if kind == "aniso":
            g *= spectrum
            g /= np.linalg.norm(g, axis=1, keepdims=True)
            g += mean  # |noise| == |mean|: mean cosine of unrelated vectors ~0.5
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        x[s : s + len(g)] = g
    m = n // 20
    src = rng.choice(n, size=2 * m, replace=False)
    a, b = src[:m], src[m:]
    c = rng.uniform(0.90, 0.99, m).astype(np.float32)
    for s in range(0, m, 65536):
        sa, sb, sc = a[s : s + 65536], b[s : s + 65536], c[s : s + 65536]
        w = rng.standard_normal((len(sa), DIM), dtype=np.float32) * (spectrum if kind == "aniso" else 1.0)
        w -= np.einsum("ij,ij->i", w, x[sa])[:, None] * x[sa]
        w /= np.linalg.norm(w, axis=1, keepdims=True)
        x[sb] = sc[:, None] * x[sa] + np.sqrt(1 - sc * sc)[:, None] * w
    return x, np.sort(np.stack([a, b], axis=1), axis=1)


def group_pairs(x: np.ndarray, i: np.ndarray, j: np.ndarray, sim: np.ndarray) -> int:
    """Complete-linkage groups over the found pairs (the engine's rule); returns how many."""
    from photofind.core.match.linkage import complete_linkage

    order = np.lexsort((j, i, -sim))

    def accept(xs, ys):
        return bool((x[xs] @ x[ys].T).min() >= THRESHOLD)

    clusters, _ = complete_linkage(i[order], j[order], accept, 64)
    return len(clusters)


# -- methods: each returns build seconds, total seconds, found pair codes, and notes ------------------


def run_photofind(x, compiled: bool | None = None):
    from photofind.core.match.lsh import Hyperplanes
    from photofind.core.match.pairsearch import COMPILED_FROM, auto_params, lsh_pairs

    start = time.perf_counter()
    params = auto_params(x, THRESHOLD)
    planes = Hyperplanes.fit(x, params)
    sig = planes.signatures(x)
    built = time.perf_counter()
    pairs = lsh_pairs(x, THRESHOLD, planes, signatures=sig, compiled=compiled)
    groups = group_pairs(x, pairs.i, pairs.j, pairs.sim)
    total = time.perf_counter() - start
    return (
        built - start,
        total,
        pairs.codes(len(x)),
        f"K={params.bits} L={params.tables} probe, "
        f"{'numpy' if compiled is False or len(x) < COMPILED_FROM else 'numba'} loop; {groups} groups",
    )


def run_photofind_numpy(x):
    """photofind with its numpy candidate loop at every size."""
    return run_photofind(x, compiled=False)


def run_exact(x):
    from photofind.core.match.pairsearch import exact_pairs

    start = time.perf_counter()
    pairs = exact_pairs(x, THRESHOLD)
    groups = group_pairs(x, pairs.i, pairs.j, pairs.sim)
    return 0.0, time.perf_counter() - start, pairs.codes(len(x)), f"fp32 BLAS blocks; {groups} groups"


def run_faiss(x):
    import faiss

    start = time.perf_counter()
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    built = time.perf_counter()
    lims, sims, cols = index.range_search(x, THRESHOLD)
    rows = np.repeat(np.arange(len(x)), np.diff(lims).astype(np.int64))
    keep = rows < cols
    i, j, s = rows[keep].astype(np.int64), cols[keep].astype(np.int64), sims[keep]
    groups = group_pairs(x, i, j, s)
    return (
        built - start,
        time.perf_counter() - start,
        i * len(x) + j,
        f"IndexFlatIP.range_search; {groups} groups",
    )


def run_faiss_ivf(x, sample: int = 20_000, nlist: int = 1024, nprobe: int = 8):
    """faiss's approximate route at sizes where its exact range search would take hours:
    IndexIVFFlat (k-means cells), range search probing `nprobe` cells, timed on `sample`
    queries and extrapolated to all of them (marked ~), recall on the pairs those queries own."""
    import faiss

    start = time.perf_counter()
    quantizer = faiss.IndexFlatIP(x.shape[1])
    index = faiss.IndexIVFFlat(quantizer, x.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(0)
    index.train(x[rng.choice(len(x), size=min(len(x), 64 * nlist), replace=False)])
    index.add(x)
    index.nprobe = nprobe
    built = time.perf_counter() - start
    queries = np.sort(rng.choice(len(x), size=min(sample, len(x)), replace=False))
    q_start = time.perf_counter()
    lims, _sims, cols = index.range_search(x[queries], THRESHOLD)
    per_query = (time.perf_counter() - q_start) / len(queries)
    rows = np.repeat(queries, np.diff(lims).astype(np.int64))
    keep = rows != cols
    a, b = rows[keep], cols[keep].astype(np.int64)
    found = np.minimum(a, b) * len(x) + np.maximum(a, b)
    total = built + per_query * len(x)
    note = f"~extrapolated from {len(queries):,} queries; nlist={nlist} nprobe={nprobe}"
    return built, total, found, note, queries


def run_lshash3(x, sample: int = 300):
    from lshash.lshash import LSHash

    from photofind.core.match.lsh import Hyperplanes
    from photofind.core.match.pairsearch import auto_params

    params = auto_params(x, THRESHOLD)
    planes = Hyperplanes.fit(x, params)  # the same planes and centring as photofind
    centred = x - planes.mean
    start = time.perf_counter()
    lsh = LSHash(params.bits, x.shape[1], num_hashtables=params.tables)
    lsh.uniform_planes = [planes.table_planes(t) for t in range(params.tables)]
    for k, v in enumerate(centred):
        lsh.index(v.tolist(), extra_data=f"#{k}")
    built = time.perf_counter() - start
    queries = np.random.default_rng(0).choice(len(x), size=min(sample, len(x)), replace=False)
    found = []
    q_start = time.perf_counter()
    for q in queries:
        for (_point, extra), _dist in lsh.query(centred[q].tolist(), distance_func="cosine"):
            other = int(extra[1:])
            if other != q and float(x[q] @ x[other]) >= THRESHOLD:
                found.append(min(q, other) * len(x) + max(q, other))
    per_query = (time.perf_counter() - q_start) / len(queries)
    total = built + per_query * len(x)
    note = f"~extrapolated from {len(queries)} queries ({per_query * 1000:.0f} ms each), no probes"
    return built, total, np.array(found, np.int64), note, queries


METHODS = {
    "photofind": run_photofind,
    "numpy": run_photofind_numpy,
    "exact": run_exact,
    "faiss": run_faiss,
    "faiss-ivf": run_faiss_ivf,
    "lshash3": run_lshash3,
}


def measure(method: str, n: int, kind: str, out: mp.Queue) -> None:
    """One measurement, in its own process."""
    from photofind.core.match.pairsearch import contains, unique_sorted

    x, planted = make_vectors(n, kind)
    tc = planted[:, 0].astype(np.int64) * n + planted[:, 1]
    cos = np.einsum("ij,ij->i", x[planted[:, 0]], x[planted[:, 1]])
    before = _reset_peak_rss()
    cpu = _cpu_seconds()
    result = METHODS[method](x)
    cpu = _cpu_seconds() - cpu
    extra = max(0, _status_kb("VmHWM") - before) * 1024
    build, total, codes, note = result[:4]
    mask = cos >= THRESHOLD
    if len(result) > 4:  # sampled queries: only pairs whose query was asked can be found
        asked = np.sort(result[4])
        mask &= contains(asked, planted[:, 0]) | contains(asked, planted[:, 1])
    edge = mask & (cos < THRESHOLD + 0.01)
    found = contains(unique_sorted(np.asarray(codes, np.int64)), tc)
    out.put(
        dict(
            method=method,
            n=n,
            kind=kind,
            build=build,
            total=total,
            cpu=cpu if len(result) == 4 else float("nan"),  # a sampled run's CPU is not the whole job's
            pairs=len(codes),
            recall=float(found[mask].mean()) if mask.any() else float("nan"),
            edge=float(found[edge].mean()) if edge.any() else float("nan"),
            rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            extra=extra / 2**20,
            note=note,
        )
    )


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def _reset_peak_rss() -> int:
    """Resets the kernel's peak resident memory of this process to its current size (Linux
    clear_refs 5) and returns that size in kB: VmHWM afterwards is the method's peak."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _cpu_seconds() -> float:
    """CPU time of this process, all threads: on a shared machine, the work done regardless of
    how much of the cores the other jobs left us."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def in_child(method: str, n: int, kind: str) -> dict | None:
    """The measurement's row, or None if its process died (out of memory, a crash)."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=measure, args=(method, n, kind, out))
    proc.start()
    try:
        while True:
            try:
                row = out.get(timeout=1.0)
                break
            except Exception:  # noqa: BLE001 - queue.Empty: still working, or dead
                if not proc.is_alive():
                    print(f"    {method} at N={n:,} failed (exit code {proc.exitcode})", file=sys.stderr)
                    return None
    except KeyboardInterrupt:
        proc.terminate()
        raise
    proc.join()
    return row


def regroup_slider(n: int = 10_000) -> dict:
    """Regrouper over n photos (no files: the pixel check falls back to thumbnails). Besides
    the planted duplicates, 300 bursts of 8 shots at cosine ~0.85-0.95 give it similar groups."""
    from photofind.core.match.grouping import Regrouper
    from photofind.core.types import FileRef, ImageFacts, ImageRecord, Thresholds

    x, _ = make_vectors(n, "aniso")
    rng = np.random.default_rng(1)
    for b in range(300):
        rows = np.arange(n - 8 * (b + 1), n - 8 * b)
        shots = x[rows[0]] + 0.8 * x[rows] + 0.1 * rng.standard_normal((8, DIM)).astype(np.float32) / 22
        x[rows] = shots / np.linalg.norm(shots, axis=1, keepdims=True)
    thumbs = rng.integers(0, 256, (n, 32, 32), dtype=np.uint8)
    records = [
        ImageRecord(
            FileRef(f"/none/{k:06d}.jpg", 1000 + k, 0),
            f"h{k}",
            ImageFacts(400, 300, "JPEG"),
            int(rng.integers(0, 2**63)),
        )
        for k in range(n)
    ]
    start = time.perf_counter()
    regrouper = Regrouper(records, x, thumbs, floor=0.80, verify_floor=0.85)
    built = time.perf_counter() - start
    start = time.perf_counter()
    regrouper.group(Thresholds(near=0.90, similar=0.85))
    first = time.perf_counter() - start
    times = []
    for near in (0.86, 0.88, 0.90, 0.92, 0.95, 0.98):
        start = time.perf_counter()
        groups = regrouper.group(Thresholds(near=near, similar=min(near, 0.85)))
        times.append(time.perf_counter() - start)
    return dict(
        n=n,
        build=built,
        first=first,
        slider_max=max(times),
        slider_median=float(np.median(times)),
        candidates=len(regrouper.edge_a),
        groups=len(groups),
    )


def print_table(rows: list[dict]) -> None:
    ours = {(r["kind"], r["n"]): r["total"] for r in rows if r["method"] == "photofind"}
    head = (
        f"{'data':<6}{'N':>9}  {'method':<10}{'build s':>9}{'all groups s':>14}{'x ours':>8}{'CPU s':>8}"
        f"{'peak RSS MB':>13}{'extra MB':>10}{'recall':>8}{'@edge':>7}  notes"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = r["total"] / ours[(r["kind"], r["n"])] if (r["kind"], r["n"]) in ours else float("nan")
        total = f"{'~' if r['note'].startswith('~') else ''}{r['total']:.2f}"
        print(
            f"{r['kind']:<6}{r['n']:>9,}  {r['method']:<10}{r['build']:>9.2f}{total:>14}{ratio:>8.1f}"
            f"{'-' if np.isnan(r['cpu']) else format(r['cpu'], '.1f'):>8}"
            f"{r['rss']:>13.0f}{r['extra']:>10.0f}{r['recall']:>8.4f}{r['edge']:>7.3f}  {r['note']}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000", help="comma-separated N (default 10000,100000)")
    p.add_argument(
        "--million", action="store_true", help="also N = 1,000,000 (photofind only; ~2 GB of vectors)"
    )
    p.add_argument("--kinds", default="iso,aniso")
    p.add_argument(
        "--baselines",
        default="numpy,exact,faiss,faiss-ivf,lshash3",
        help="numpy: photofind's numpy loop instead of numba's; faiss-ivf: approximate, sampled",
    )
    p.add_argument("--exact-max", type=int, default=100_000, help="largest N for exact and faiss (flat)")
    p.add_argument("--lshash-max", type=int, default=10_000, help="largest N for lshash3")
    p.add_argument("--no-regroup", action="store_true", help="skip the 10k regrouping measurement")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.million else [])
    baselines = [b for b in args.baselines.split(",") if b]
    faiss = _importable("faiss")
    available = {
        "faiss": faiss,
        "faiss-ivf": faiss,
        "lshash3": _importable("lshash.lshash"),
        "exact": True,
        "numpy": True,
    }
    rows = []
    for kind in args.kinds.split(","):
        for n in sizes:
            plan = ["photofind"] + [
                b
                for b in baselines
                if available.get(b)
                and n
                <= {"lshash3": args.lshash_max, "exact": args.exact_max, "faiss": args.exact_max}.get(b, n)
            ]
            for method in plan:
                print(f"... {kind} N={n:,} {method}", file=sys.stderr, flush=True)
                row = in_child(method, n, kind)
                if row is not None:
                    rows.append(row)
    print(
        f"\nNear-duplicate pairs at cosine >= {THRESHOLD}, {DIM}-d, N/20 planted pairs (0.90-0.99); "
        f"'x ours' = all-groups time / photofind's on the same data.\n"
    )
    print_table(rows)
    for name, ok in available.items():
        if not ok and name in baselines:
            print(f"({name} not installed: no row)")
    if not args.no_regroup:
        r = regroup_slider()
        print(
            f"\nRegrouping {r['n']:,} photos (GUI slider, aniso, {r['candidates']:,} cached candidate pairs): "
            f"build {r['build']:.2f} s, first grouping {r['first']:.2f} s, "
            f"then per threshold median {r['slider_median']:.3f} s, max {r['slider_max']:.3f} s"
        )


def _importable(name: str) -> bool:
    try:
        __import__(name)
        return True
    except Exception:  # noqa: BLE001 - an optional baseline that fails to import is absent
        return False


if __name__ == "__main__":
    main()
