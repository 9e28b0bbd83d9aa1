"""Reference rows for benchmarks/quality.py: the verification functions with a plain grouping,
the CNN cosine alone, the imagehash peer, and embedding-hygiene measurements.

The reference grouping measures photofind.core.match.verify with benchmarks/neargroups.py, whatever
the state of the main grouping code: candidates from the pHash index (and the CNN at the
calibrated `near` cosine), then groups whose every member the pixel check confirmed against
the group's centre.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from neargroups import verified_groups

from photofind.core.match import evaluation as ev
from photofind.core.match import phash_index
from photofind.core.scan.hashing import dihedral_phashes
from photofind.core.types import ScanResult, ScanSettings, Thresholds


def load_scan(root: Path, cache: Path, weights: str = "random") -> ScanResult:
    """Records, thumbnails and embeddings as the scan has them (all from the benchmark's
    cache), with the calibrated thresholds the CLI used. The pipeline's own grouping is
    switched off (threshold 1.0): the reference rows group by themselves."""
    from dataclasses import replace

    from photofind.core.match.calibrate import NAMESPACE, Calibration
    from photofind.core.pipeline import scan
    from photofind.core.scan.cache import Cache

    settings = ScanSettings(
        roots=(str(root),),
        weights=weights,
        cache_path=str(cache),
        device="cpu",
        calibrate=False,
        thresholds=Thresholds(near=1.0, similar=1.0),
    )
    result = scan(settings)
    with Cache(cache) as c:
        # The pipeline keys a calibration by model and library (calibrate.calibrate).
        key = f"{result.model.id}@{'|'.join(sorted(settings.roots))}" if result.model else None
        blob = c.get_blob(NAMESPACE, key) if key else None
    cal = Calibration.from_bytes(blob) if blob else None
    if cal is not None:
        result = replace(result, settings=replace(settings, thresholds=cal.thresholds), calibration=cal)
    return result


def cosine_pairs(emb: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    pairs = []
    for start in range(0, len(emb), 2048):
        block = emb[start : start + 2048] @ emb.T
        rows, cols = np.nonzero(block >= threshold)
        pairs.extend((start + r, c) for r, c in zip(rows.tolist(), cols.tolist()) if start + r < c)
    return pairs


def candidates(scan: ScanResult, *, rotations: bool) -> set[tuple[int, int]]:
    phashes = np.array([r.phash or 0 for r in scan.records], dtype=np.uint64)
    variants = np.stack([dihedral_phashes(t) for t in scan.thumbs]) if rotations else None
    zoomed = phash_index.with_zooms(phashes, np.stack(scan.thumbs))
    close = phash_index.phash_candidates(phashes, phash_index.PHASH_NEAR, variants=zoomed)
    corners = phash_index.off_centre_candidates(phashes, np.stack(scan.thumbs), close)
    found = {tuple(p) for p in np.concatenate([close, corners]).tolist()}
    if variants is not None:
        found |= {
            tuple(p)
            for p in phash_index.phash_candidates(phashes, phash_index.PHASH_NEAR, variants=variants).tolist()
        }
    if scan.embeddings is not None:
        found |= set(cosine_pairs(scan.embeddings, scan.settings.thresholds.near))
    return found


def reference_groups(scan: ScanResult, *, rotations: bool = False) -> list[tuple[str, list[str]]]:
    found = verified_groups(
        scan.records, scan.thumbs, candidates(scan, rotations=rotations), rotations=rotations
    )
    return [(g.tier.value, [scan.records[m].path for m in g.members]) for g in found]


def cnn_alone(scan: ScanResult, truth: ev.Truth, subset=ev.unrotated, emb: np.ndarray | None = None) -> dict:
    """The best F1 any single cosine threshold reaches, with the CNN alone."""
    emb = scan.embeddings if emb is None else emb
    keep = [
        i
        for i, r in enumerate(scan.records)
        if ev._norm(r.path) in truth.files and subset(truth.files[ev._norm(r.path)])
    ]
    src = [truth.files[ev._norm(scan.records[i].path)].source for i in keep]
    x = emb[keep]
    sims = x @ x.T
    iu = np.triu_indices(len(keep), 1)
    same = np.array(src, dtype=object)[iu[0]] == np.array(src, dtype=object)[iu[1]]
    s = sims[iu]
    order = np.argsort(-s)
    tp = np.cumsum(same[order])
    k = np.arange(1, len(order) + 1)
    precision, recall = tp / k, tp / max(1, same.sum())
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    best = int(np.argmax(f1))
    threshold = float(s[order][best])
    at_99 = recall[precision >= 0.99].max() if (precision >= 0.99).any() else 0.0
    pairs = [
        (scan.records[keep[a]].path, scan.records[keep[b]].path)
        for a, b in zip(iu[0][order[: best + 1]], iu[1][order[: best + 1]])
    ]
    return {
        "threshold": threshold,
        "score": ev.score_pairs(truth, pairs, subset=subset),
        "recall_at_precision_0.99": float(at_99),
        "best_f1": float(f1[best]),
    }


def imagehash_pairs(paths: list[str], distance: int) -> list[tuple[str, str]] | None:
    """The peer as people use it: imagehash.phash on each file, pairs within `distance`."""
    try:
        import imagehash
        from PIL import Image
    except ImportError:
        print("note: imagehash is not installed (pip install imagehash): no peer row")
        return None
    hashes = []
    for p in paths:
        with Image.open(p) as im:
            hashes.append(int(str(imagehash.phash(im)), 16))
    h = np.array(hashes, dtype=np.uint64)
    pairs = phash_index.phash_candidates(h, distance)
    return [(paths[i], paths[j]) for i, j in pairs.tolist()]


def hygiene(scan: ScanResult, truth: ev.Truth, out: Path) -> dict:
    """CNN-alone quality under embedding post-processing and input geometry."""
    from photofind.core.model.embed import ResNetEmbedder
    from photofind.core.model.weights import resolve_weights
    from photofind.core.scan.imageio import decode_file

    results: dict = {"postprocess": {}, "geometry": {}}
    emb = scan.embeddings
    variants = {"raw": emb, "centred": _unit(emb - emb.mean(0)), "whitened": _whiten(emb)}
    for name, e in variants.items():
        r = cnn_alone(scan, truth, emb=e)
        results["postprocess"][name] = {
            "best_f1": round(r["best_f1"], 4),
            "recall_at_precision_0.99": round(r["recall_at_precision_0.99"], 4),
        }
    sources = sorted({t.source for t in truth.files.values()})[:10]
    keep = [
        i
        for i, r in enumerate(scan.records)
        if truth.files.get(ev._norm(r.path)) and truth.files[ev._norm(r.path)].source in sources
    ]
    embedder = ResNetEmbedder(resolve_weights("random"), device="cpu", precision="fp32")
    images = [decode_file(scan.records[i].path).image for i in keep]
    for geometry in ("squash", "centre-crop", "pad"):
        batch = np.stack([_prepare(embedder, im, geometry) for im in images])
        e = np.concatenate([embedder.embed(batch[k : k + 32]) for k in range(0, len(batch), 32)])
        full = np.zeros_like(scan.embeddings)
        full[keep] = e
        sub = ScanResult(scan.settings, scan.records, (), (), scan.model, embeddings=full)
        small = ev.Truth(
            {ev._norm(scan.records[i].path): truth.files[ev._norm(scan.records[i].path)] for i in keep}
        )
        r_raw = cnn_alone(sub, small, emb=full)
        r_c = cnn_alone(sub, small, emb=np.where(full.any(1, keepdims=True), _unit(full - e.mean(0)), 0))
        results["geometry"][geometry] = {
            "raw_best_f1": round(r_raw["best_f1"], 4),
            "centred_best_f1": round(r_c["best_f1"], 4),
            "photos": len(keep),
        }
    print("\nembedding hygiene (random ResNet-34, CNN alone, best F1 over thresholds):")
    for k, v in results["postprocess"].items():
        print(
            f"  {k:10s} best F1 {v['best_f1']:.3f}  recall at precision 0.99 {v['recall_at_precision_0.99']:.3f}"
        )
    for k, v in results["geometry"].items():
        print(
            f"  input {k:12s} raw F1 {v['raw_best_f1']:.3f}  centred F1 {v['centred_best_f1']:.3f}  ({v['photos']} files)"
        )
    return results


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def _whiten(x: np.ndarray, dims: int = 128) -> np.ndarray:
    c = x - x.mean(0)
    u, s, vt = np.linalg.svd(c, full_matrices=False)
    return _unit(c @ vt[:dims].T / np.maximum(s[:dims], 1e-6))


def _prepare(embedder, image, geometry: str) -> np.ndarray:
    from PIL import Image, ImageOps

    if geometry == "squash":
        return embedder.prepare(image)
    if geometry == "centre-crop":
        return embedder.prepare(ImageOps.fit(image, (224, 224), Image.Resampling.BILINEAR))
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), (124, 116, 104))  # the ImageNet mean: a neutral pad
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return embedder.prepare(canvas)
