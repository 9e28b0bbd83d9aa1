"""scan(): discover -> cache lookup -> read, hash, decode (thread pool) ∥ batched embedding
-> store -> calibrate -> group. The one entry point the CLI and the GUI share.

Every phase saves its work as it goes and reports progress (done of total, never a
placeholder): files are committed batch by batch, calibration photo by photo, and pixel-check
verdicts in batches. A warm rescan of an unchanged library therefore reads only the cache: no
photo file is opened, no pixel check runs, and the groups are those of the last scan.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from photofind.core.match.detail import DETAIL_FORMAT
from photofind.core.model.embed import Embedder, ResNetEmbedder, device_problem
from photofind.core.model.precision import PRECISIONS
from photofind.core.model.weights import WeightsUnavailable, resolve_weights
from photofind.core.progress import NULL_PROGRESS, Cancelled, Phase, Progress
from photofind.core.scan.cache import THUMB_SIDE, Cache
from photofind.core.scan.companions import Companion, find_companions
from photofind.core.scan.discover import discover
from photofind.core.scan.ingest import IngestState, ingest
from photofind.core.scan.vectors import VectorTable
from photofind.core.types import (
    FileRef,
    Group,
    ImageRecord,
    ScanResult,
    ScanSettings,
    ScanStats,
)
from photofind.paths import default_cache_path

_LOOKUP_CHUNK = 4096  # files per cache read: batched SQL, bounded per-file objects


def make_embedder(settings: ScanSettings, *, load: bool = True) -> tuple[Embedder | None, str | None]:
    """The embedder the settings ask for, or (None, why) when no weights can be had.
    Weights from a file are loaded here (`load`), so a bad file is named before any photo is
    read; `photofind similar` loads them only when a photo must be embedded (a bad file is
    named then)."""
    if not settings.embed:
        return None, "visual similarity is turned off"
    if settings.precision not in PRECISIONS:
        return None, f"precision must be one of {', '.join(PRECISIONS)}, not {settings.precision!r}"
    problem = device_problem(settings.device)
    if problem:
        return None, problem
    try:
        choice = resolve_weights(settings.weights)
        embedder = ResNetEmbedder(choice, device=settings.device, precision=settings.precision)
        if load and not choice.is_random:
            embedder.load()  # a bad file is found here, before any photo is read
    except WeightsUnavailable as exc:
        return None, str(exc)
    return embedder, None


def scan(
    settings: ScanSettings,
    *,
    embedder: Embedder | None = None,
    cache: Cache | None = None,
    progress: Progress = NULL_PROGRESS,
    workers: int | None = None,
    group: bool = True,
) -> ScanResult:
    """Scan `settings.roots` and return every readable photo, every skip, and the groups.

    Work is committed to the cache batch by batch, so a cancelled or killed scan keeps what
    it finished and the next scan resumes from there. With `group=False` the library is only
    brought up to date and read (`photofind similar` queries it): no grouping, no groups.
    """
    started = time.monotonic()
    problem = None
    if embedder is None:
        embedder, problem = make_embedder(settings)
    model = embedder.model if embedder is not None else None
    own_cache = cache is None
    if cache is None:
        cache = Cache(settings.cache_path or default_cache_path())
    try:
        return _scan(settings, embedder, model, problem, cache, progress, workers, started, group)
    finally:
        if own_cache:
            cache.close()


def _scan(settings, embedder, model, problem, cache, progress, workers, started, group) -> ScanResult:
    model_id = model.id if model else None
    stats = dict(files_found=0, from_cache=0, decoded=0, embedded=0, reused_embeddings=0)
    try:
        found = discover(
            settings.roots,
            exclude=settings.exclude,
            include_hidden=settings.include_hidden,
            follow_symlinks=settings.follow_symlinks,
            progress=progress,
        )
    except Cancelled:
        return _result(settings, model, problem, {}, [], None, stats, started, cache, cancelled=True)
    stats["files_found"] = len(found.files)
    table = VectorTable([f.path for f in found.files], model.dim) if model else None
    state = IngestState(skipped=list(found.skipped), table=table, stats=stats)
    todo = _from_cache(found.files, cache, model_id, state, progress)

    phase = Phase.EMBED if embedder is not None else Phase.READ
    sample = None
    if settings.calibrate and embedder is not None and todo:
        # Calibration's sampled photos are measured by the read pass (match/calsample.py).
        from photofind.core.match.calibrate import library_key, read_pass_sample

        paths = [f.path for f in found.files]
        sample = read_pass_sample(paths, embedder, cache=cache, library=library_key(settings.roots))
    cancelled = False
    try:
        ingest(
            todo,
            embedder,
            cache,
            state,
            phase=phase,
            batch_size=settings.batch_size,
            workers=workers,
            progress=progress,
            derivatives=sample,
        )
    except Cancelled:
        cancelled = True
    if embedder is not None:
        model = embedder.model  # now says which device and precision really ran
    return _result(
        settings,
        model,
        problem,
        state.done,
        state.skipped,
        table,
        stats,
        started,
        cache,
        cancelled=cancelled,
        progress=progress,
        embedder=embedder,
        group=group,
    )


def _from_cache(
    files: Sequence[FileRef],
    cache: Cache,
    model_id: str | None,
    state: IngestState,
    progress: Progress = NULL_PROGRESS,
) -> list[FileRef]:
    """Take what the cache knows about unchanged files; return the files left to read.
    In chunks, so the cache's per-file objects never exist for the whole library at once."""
    todo: list[FileRef] = []
    table, done, skipped = state.table, state.done, state.skipped
    for start in range(0, len(files), _LOOKUP_CHUNK):
        progress.update(Phase.CACHE, start, len(files))
        chunk = files[start : start + _LOOKUP_CHUNK]
        cached = cache.lookup(chunk, model_id, DETAIL_FORMAT)
        with_vectors: tuple[list, list, list] = ([], [], [])
        for f in chunk:
            hit = cached.get(f.path)
            if hit is None or (
                hit.skipped is None and ((model_id and hit.embedding is None) or not hit.has_detail)
            ):
                todo.append(f)
                continue
            state.stats["from_cache"] += 1
            if hit.skipped is not None:
                skipped.append(hit.skipped)
                continue
            assert hit.content_hash is not None and hit.facts is not None  # it was read
            done[f.path] = ImageRecord(f, hit.content_hash, hit.facts, hit.phash)
            if table is not None and hit.embedding is not None:
                for column, value in zip(with_vectors, (f.path, hit.content_hash, hit.embedding)):
                    column.append(value)
        if table is not None:
            table.put_many(*with_vectors)
    if files:
        progress.update(Phase.CACHE, len(files), len(files))
    return todo


def _result(
    settings,
    model,
    problem,
    done,
    skipped,
    table,
    stats,
    started,
    cache,
    *,
    cancelled: bool,
    progress: Progress = NULL_PROGRESS,
    embedder=None,
    group: bool = True,
) -> ScanResult:
    from photofind.core.match.grouping import group_records  # here: grouping may pull in heavier code

    records = [done[path] for path in sorted(done)]
    done.clear()  # the records hold it all now; memory goes to grouping instead
    embeddings = None
    if table is not None and records:
        embeddings = table.take([r.path for r in records])
    thumbs = np.zeros((len(records), THUMB_SIDE, THUMB_SIDE), dtype=np.uint8)
    for start in range(0, len(records), _LOOKUP_CHUNK):
        part = records[start : start + _LOOKUP_CHUNK]
        thumbs[start : start + len(part)] = cache.thumbs_for_hashes([r.content_hash for r in part])
    groups: Sequence[Group] = ()
    companions: dict[str, tuple[Companion, ...]] = {}
    choice_notes: tuple[str, ...] = ()
    calibration = None
    if not cancelled and settings.calibrate and embedder is not None and embeddings is not None:
        # Thresholds learned from this library's own photos (cached per model id).
        from photofind.core.match.calibrate import calibrate, library_key

        try:
            calibration = calibrate(
                records,
                embeddings,
                embedder,
                cache=cache,
                library=library_key(settings.roots),
                progress=progress,
            )
        except Cancelled:
            cancelled = True
        if calibration is not None:
            settings = replace(settings, thresholds=calibration.thresholds)
    if not cancelled and group:
        try:
            groups = group_records(
                records,
                embeddings,
                settings.thresholds,
                thumbs=thumbs,
                rotations=settings.rotations,
                cache=cache,
                model_id=model.id if model else None,
                progress=progress,
            )
        except Cancelled:  # stopped while grouping: the files stay cached, the groups are dropped
            cancelled, groups = True, ()
    if not cancelled:
        try:
            companions = find_companions((r.path for r in records), progress=progress)
        except Cancelled:
            cancelled, groups = True, ()
    if not cancelled:
        # The user's keeper rules and remembered "not a duplicate" / "keep all" decisions.
        from photofind.core.cleanup.decisions import apply_for_scan

        groups, choice_notes = apply_for_scan(groups, records, embeddings, settings, companions=companions)
    return ScanResult(
        settings=settings,
        records=tuple(records),
        skipped=tuple(sorted(skipped, key=lambda s: s.path)),
        groups=tuple(groups),
        model=model,
        model_problem=problem,
        embeddings=embeddings,
        thumbs=thumbs,
        stats=ScanStats(**stats, seconds=time.monotonic() - started),
        cancelled=cancelled,
        warnings=tuple(cache.warnings) + choice_notes,
        calibration=calibration,
        companions=companions,
    )
