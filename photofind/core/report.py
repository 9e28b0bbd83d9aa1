"""ScanResult -> JSON and CSV: the stable contract that tests, scripts and scorers read."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, TextIO

from photofind.core.output import write_text_atomic
from photofind.core.types import Group, ScanResult

JSON_VERSION = 1


def group_bytes_reclaimable(result: ScanResult, group: Group) -> int:
    """Bytes freed by removing all but the keeper. A file with other hard links (outside the
    scan: a scan lists each file once) frees nothing."""
    files = (result.records[m.index].file for m in group.members[1:])
    return sum(f.size for f in files if f.nlink <= 1)


def group_as_json(result: ScanResult, group: Group) -> dict[str, Any]:
    """One group. Duplicate groups also say how each file was made (`derived_from`, `how`,
    `original`: photofind.core.match.phylogeny) and why the keeper won (`keep_reason`)."""
    keep = result.records[group.keep_index]
    members = set(group.indices)
    tree = {d.index: d for d in group.derivation if d.index in members}
    files = []
    for m in group.members:
        r = result.records[m.index]
        made = tree.get(m.index)
        origin = {}
        if made is not None:
            origin = {
                "original": made.original,
                "derived_from": result.records[made.parent].path if made.parent in members else None,
                "how": list(made.how),
            }
        files.append(
            {
                "path": r.path,
                "similarity": round(m.similarity, 6),
                "bytes": r.file.size,
                "width": r.facts.width,
                "height": r.facts.height,
                "format": r.facts.format,
                "taken": r.facts.taken,
                "camera": r.facts.camera,
                "frames": r.facts.frames,
                "content_hash": r.content_hash,
                "keep": m.index == group.keep_index,
                "companions": [
                    {"path": c.path, "kind": c.kind.value} for c in result.companions.get(r.path, ())
                ],
                **origin,
            }
        )
    root = next((d.index for d in tree.values() if d.parent is None), None)
    best = group.best_shot if group.best_shot in members else None
    return {
        "id": group.id,
        "tier": group.tier.value,
        "keep": keep.path,
        "min_similarity": round(group.min_similarity, 6),
        "mean_similarity": round(group.mean_similarity, 6),
        "why": list(group.why),
        "keep_reason": group.keep_reason or None,
        # Bursts (photofind.core.match.bursts): the frame suggested to keep, and why.
        "best_shot": None if best is None else result.records[best].path,
        "best_shot_reason": None if best is None else group.best_shot_reason,
        "original": None if root is None else result.records[root].path,
        "bytes_reclaimable": group_bytes_reclaimable(result, group),
        "files": files,
    }


def result_as_json(result: ScanResult) -> dict[str, Any]:
    t = result.settings.thresholds
    return {
        "version": JSON_VERSION,
        "model": result.model.as_json() if result.model else None,
        "model_problem": result.model_problem,
        "roots": list(result.settings.roots),
        "thresholds": {"near": t.near, "similar": t.similar},
        # How the thresholds were chosen: None when the user set one or the library was too
        # small to learn from (photofind.core.match.calibrate).
        "calibration": result.calibration.as_json() if result.calibration else None,
        "rotations": result.settings.rotations,
        "files_scanned": result.stats.files_found,
        "files_read": len(result.records),
        "cancelled": result.cancelled,
        "stats": {
            "files_found": result.stats.files_found,
            "from_cache": result.stats.from_cache,
            "decoded": result.stats.decoded,
            "embedded": result.stats.embedded,
            "reused_embeddings": result.stats.reused_embeddings,
            "seconds": round(result.stats.seconds, 3),
        },
        "skipped": [{"path": s.path, "reason": s.reason.value, "detail": s.detail} for s in result.skipped],
        "groups": [group_as_json(result, g) for g in result.groups],
        "warnings": list(result.warnings),
    }


def write_json(result: ScanResult, target: str | Path | TextIO) -> None:
    payload = json.dumps(result_as_json(result), indent=2, ensure_ascii=False)
    _write_text(payload + "\n", target)


CSV_COLUMNS = [
    "group",
    "tier",
    "keep",
    "path",
    "similarity",
    "bytes",
    "width",
    "height",
    "format",
    "taken",
    "camera",
    "companions",  # "kind:path" pairs joined by "|" (photofind.core.scan.companions)
]


def write_csv(result: ScanResult, target: str | Path | TextIO) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for g in result.groups:
        doc = group_as_json(result, g)
        for f in doc["files"]:
            row = {"group": g.id, "tier": doc["tier"], **{k: f[k] for k in CSV_COLUMNS[2:-1]}}
            row["companions"] = "|".join(f"{c['kind']}:{c['path']}" for c in f["companions"])
            writer.writerow(row)
    _write_text(buf.getvalue(), target)


def _write_text(text: str, target: str | Path | TextIO) -> None:
    if isinstance(target, (str, Path)):
        write_text_atomic(text, target)
    else:
        target.write(text)
