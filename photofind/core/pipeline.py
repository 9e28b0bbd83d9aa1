"""scan(): discover -> cache lookup -> read, hash, decode (thread pool) ∥ batched embedding
-> store -> group. The one entry point the CLI and the GUI share."""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from photofind.core.cache import Cache, CachedFile, FileEntry
from photofind.core.discover import discover
from photofind.core.embed import Embedder, ResNetEmbedder
from photofind.core.hashing import content_hash, gray_thumb, phash
from photofind.core.imageio import decode_bytes
from photofind.core.progress import NULL_PROGRESS, Cancelled, Phase, Progress, check_cancel
from photofind.core.types import (
    FileRef,
    ImageRecord,
    ModelInfo,
    ScanResult,
    ScanSettings,
    ScanStats,
    Skipped,
    SkipReason,
)
from photofind.core.weights import WeightsUnavailable, resolve_weights
from photofind.paths import default_cache_path


def make_embedder(settings: ScanSettings) -> tuple[Embedder | None, str | None]:
    """The embedder the settings ask for, or (None, why) when no weights can be had."""
    if not settings.embed:
        return None, "visual similarity is turned off"
    try:
        choice = resolve_weights(settings.weights)
    except WeightsUnavailable as exc:
        return None, str(exc)
    return ResNetEmbedder(choice, device=settings.device, precision=settings.precision), None


@dataclass
class _Read:
    """What a pool thread learned about one file."""

    entry: FileEntry
    prepared: np.ndarray | None = None


def _read_one(file: FileRef, embedder: Embedder | None) -> _Read:
    try:
        with open(file.path, "rb") as fh:
            data = fh.read()
    except PermissionError:
        return _Read(FileEntry(file, skipped=Skipped(file.path, SkipReason.PERMISSION, "no permission to read the file")))
    except OSError as exc:
        return _Read(FileEntry(file, skipped=Skipped(file.path, SkipReason.UNREADABLE, exc.strerror or str(exc))))
    if len(data) != file.size:
        return _Read(FileEntry(file, skipped=Skipped(file.path, SkipReason.CHANGED, "the file changed while it was read")))
    chash = content_hash(data)
    decoded = decode_bytes(data, file.path)
    del data
    if isinstance(decoded, Skipped):
        return _Read(FileEntry(file, content_hash=chash, skipped=decoded))
    image = decoded.image
    entry = FileEntry(
        file,
        content_hash=chash,
        facts=decoded.facts,
        phash=phash(image),
        thumb=gray_thumb(image, 32).astype(np.uint8).tobytes(),
    )
    prepared = embedder.prepare(image) if embedder is not None else None
    return _Read(entry, prepared)


def scan(
    settings: ScanSettings,
    *,
    embedder: Embedder | None = None,
    cache: Cache | None = None,
    progress: Progress = NULL_PROGRESS,
    workers: int | None = None,
) -> ScanResult:
    """Scan `settings.roots` and return every readable photo, every skip, and the groups.

    Work is committed to the cache batch by batch, so a cancelled or killed scan keeps what
    it finished and the next scan resumes from there.
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
        return _scan(settings, embedder, model, problem, cache, progress, workers, started)
    finally:
        if own_cache:
            cache.close()


def _scan(settings, embedder, model, problem, cache, progress, workers, started) -> ScanResult:
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
    skipped: list[Skipped] = list(found.skipped)
    cached = cache.lookup(found.files, model_id)
    done: dict[str, tuple[FileRef, CachedFile | FileEntry]] = {}
    todo: list[FileRef] = []
    for f in found.files:
        hit = cached.get(f.path)
        if hit is None or (hit.skipped is None and model_id and hit.embedding is None):
            todo.append(f)
        elif hit.skipped is not None:
            skipped.append(hit.skipped)
        else:
            done[f.path] = (f, hit)
    stats["from_cache"] = len(done) + sum(1 for f in found.files if cached.get(f.path) and cached[f.path].skipped)

    vectors: dict[str, np.ndarray] = {}
    for _f, hit in done.values():
        if hit.embedding is not None:
            vectors[hit.content_hash] = hit.embedding

    phase = Phase.EMBED if embedder is not None else Phase.READ
    cancelled = False
    try:
        _process(todo, embedder, model_id, cache, progress, workers, settings.batch_size,
                 phase, done, skipped, vectors, stats)
    except Cancelled:
        cancelled = True
    return _result(settings, model, problem, done, skipped, vectors if model else None,
                   stats, started, cache, cancelled=cancelled, progress=progress)


def _process(todo, embedder, model_id, cache, progress, workers, batch_size, phase,
             done, skipped, vectors, stats) -> None:
    if not todo:
        return
    workers = workers or max(1, min(8, os.cpu_count() or 1))
    window = max(2 * batch_size, 4 * workers)  # bounded: memory stays flat however big the library
    pending: list[_Read] = []  # read, waiting for a batch to fill before inference

    def flush() -> None:
        unknown = [r.entry.content_hash for r in pending if r.entry.content_hash not in vectors]
        if model_id and unknown:
            # A renamed or copied file whose bytes were embedded before: no inference needed.
            reused = cache.embeddings_for_hashes(unknown, model_id)
            vectors.update(reused)
            stats["reused_embeddings"] += sum(1 for h in unknown if h in reused)
        # One inference per distinct content: byte copies in the same batch share it.
        needed = [r for r in pending if r.prepared is not None and r.entry.content_hash not in vectors]
        to_embed = list({r.entry.content_hash: r for r in needed}.values())
        stats["reused_embeddings"] += len(needed) - len(to_embed)
        if to_embed and embedder is not None:
            out = embedder.embed(np.stack([r.prepared for r in to_embed]))
            for r, vec in zip(to_embed, out):
                vectors.setdefault(r.entry.content_hash, vec)
            stats["embedded"] += len(to_embed)
        entries = []
        for r in pending:
            e = r.entry
            if e.content_hash in vectors and model_id:
                e = replace(e, embedding=vectors[e.content_hash])
            entries.append(e)
            done[e.file.path] = (e.file, e)
        cache.store(entries, model_id)
        pending.clear()

    processed = 0
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="photofind-read") as pool:
        queue: deque[Future[_Read]] = deque()
        it = iter(todo)
        try:
            for f in it:
                queue.append(pool.submit(_read_one, f, embedder))
                if len(queue) >= window:
                    break
            while queue:
                check_cancel(progress)
                result = queue.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    queue.append(pool.submit(_read_one, nxt, embedder))
                processed += 1
                entry = result.entry
                if entry.skipped is not None:
                    skipped.append(entry.skipped)
                    if entry.skipped.reason.cacheable:
                        cache.store([entry], model_id)
                else:
                    stats["decoded"] += 1
                    if entry.content_hash in vectors:
                        stats["reused_embeddings"] += 1
                        result.prepared = None
                    pending.append(result)
                    if len(pending) >= batch_size:
                        flush()
                progress.update(phase, processed, len(todo))
            flush()
        except Cancelled:
            for fut in queue:
                fut.cancel()
            raise


def _result(settings, model, problem, done, skipped, vectors, stats, started, cache,
            *, cancelled: bool, progress: Progress = NULL_PROGRESS) -> ScanResult:
    from photofind.core.grouping import group_records  # here: grouping may pull in heavier code

    records: list[ImageRecord] = []
    for path in sorted(done):
        f, item = done[path]
        records.append(ImageRecord(file=f, content_hash=item.content_hash, facts=item.facts, phash=item.phash))
    embeddings = None
    if vectors is not None and records:
        dim = model.dim
        embeddings = np.zeros((len(records), dim), dtype=np.float32)
        for i, r in enumerate(records):
            vec = vectors.get(r.content_hash)
            if vec is not None:
                embeddings[i] = vec
    thumbs = np.zeros((len(records), 32, 32), dtype=np.uint8)
    stored = cache.thumbs_for_hashes(r.content_hash for r in records)
    for i, r in enumerate(records):
        raw = stored.get(r.content_hash)
        if raw is not None and len(raw) == 32 * 32:
            thumbs[i] = np.frombuffer(raw, dtype=np.uint8).reshape(32, 32)
    groups = ()
    if not cancelled:
        progress.update(Phase.GROUP, 0, 1)
        groups = group_records(records, embeddings, settings.thresholds)
        progress.update(Phase.GROUP, 1, 1)
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
        warnings=tuple(cache.warnings),
    )
