"""Turn the files the cache does not know into cached records: read, hash and decode in a
thread pool while the calling thread runs batched inference, committing batch by batch.

Memory stays flat: at most `window` files are in flight (each a 224-px float array plus,
while it is read, the file's bytes), whatever the size of the library, and LOAD_AHEAD more
while the model loads (the decoders keep reading instead of waiting for torch's import).
Results are kept as small records, and embeddings go straight into the scan's VectorTable.

This is the only pass that decodes a photo: besides the embedding and the hashes it stores
the pixel check's detail image and bar facts (detail.detail_of_image, 4-8 KB per photo), so
grouping, calibration and the slider never open the file again. Calibration's derivatives of
its sampled photos (`Derivatives`) are made here too, from the decoded picture, and embedded
in the same batches.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

import numpy as np

from photofind.core.match.detail import DETAIL_FORMAT, detail_of_image, detail_to_bytes, file_quality
from photofind.core.model.embed import INPUT_SIZE, Embedder, counts_as_cpu, usable_cores
from photofind.core.progress import NULL_PROGRESS, Cancelled, Progress, check_cancel
from photofind.core.scan.cache import THUMB_SIDE, Cache, CachedFile, FileEntry
from photofind.core.scan.fileread import read_regular
from photofind.core.scan.hashing import content_box, content_hash, gray_thumb, phash
from photofind.core.scan.imageio import Decoded, decode_bytes
from photofind.core.scan.vectors import VectorTable
from photofind.core.types import FileRef, ImageFacts, ImageRecord, Skipped, SkipReason

MAX_DECODE_THREADS = 16  # past this the GIL-held parts of decoding stop scaling
# Files read ahead while the model loads (seconds: torch's import), 77 MB of 224-px inputs:
# the cores decode meanwhile instead of waiting, and inference starts with a backlog.
LOAD_AHEAD = 128


class Derivatives(Protocol):
    """More model inputs made from some photos' decoded pictures and embedded beside them
    (calibration's known edits of its sampled photos: match/calsample.ReadPassSample)."""

    def inputs(self, path: str, content_hash: str, data: bytes, decoded: Decoded) -> np.ndarray | None:
        """Called from a decoder thread: the inputs to embed for this photo, or None."""

    def embedded(self, content_hash: str, vector: np.ndarray, derived: np.ndarray) -> None:
        """Called on the inference thread: the photo's embedding and its inputs' embeddings."""


@dataclass
class IngestState:
    """What the stage adds to; the caller owns it and keeps it when a scan is cancelled."""

    done: dict[str, ImageRecord] = field(default_factory=dict)  # path -> readable photo
    skipped: list[Skipped] = field(default_factory=list)
    table: VectorTable | None = None  # None: no model, no embeddings
    stats: dict[str, int] = field(default_factory=dict)


@dataclass
class _Read:
    """What a pool thread learned about one file."""

    entry: FileEntry
    prepared: np.ndarray | None = None
    known: CachedFile | None = None  # these bytes were decoded (and embedded) before
    derived: np.ndarray | None = None  # more inputs (see Derivatives), embedded with `prepared`


@dataclass(frozen=True)
class ThreadPlan:
    """Who gets the cores. Decoding a 12-MP JPEG costs about 1.5x the CPU time of its bf16
    inference, so while both run, torch gets about 2 cores in 5 and the decoders the rest.

    A multi-threaded torch beside more decoders than free cores stalls at every layer's
    barrier, waiting for a thread the OS has parked (measured: half the speed on 2 cores).
    So torch threads and decoders never add up to more than the cores, except for a single
    torch thread, which has no barrier: then the decoders use every core and soak up the
    time inference leaves. When inference is the bottleneck (the next batch is decoded
    before the current one is embedded) the decoders pause and torch takes every core:
    time-slicing is then the best two stages sharing the same cores can do. Both that and
    the last batch's use of every core happen only while they pay (see WidthChooser).
    """

    cores: int
    decoders: int
    torch_threads: int  # while the decoders run

    @classmethod
    def for_cores(cls, cores: int, workers: int | None = None, *, accelerator: bool = False) -> ThreadPlan:
        """With an accelerator (CUDA, MPS) inference needs no CPU: every core decodes."""
        torch_threads = 1 if accelerator else max(1, round(cores / 2.5))
        if workers:
            decoders = workers
        elif torch_threads == 1:
            decoders = cores
        else:
            decoders = cores - torch_threads
        return cls(cores, max(1, min(decoders, MAX_DECODE_THREADS)), torch_threads)


def ingest(
    todo: Sequence[FileRef],
    embedder: Embedder | None,
    cache: Cache,
    state: IngestState,
    *,
    phase: str,
    batch_size: int = 16,
    workers: int | None = None,
    progress: Progress = NULL_PROGRESS,
    derivatives: Derivatives | None = None,
) -> None:
    """Read, decode and embed `todo` into `state` and the cache, with `derivatives`' inputs
    embedded beside their photos. Raises Cancelled between files; every batch finished
    before that is already committed."""
    if not todo:
        return
    for key in ("decoded", "embedded", "reused_embeddings"):
        state.stats.setdefault(key, 0)
    accelerator = embedder is not None and not counts_as_cpu(embedder.device_hint)
    plan = ThreadPlan.for_cores(usable_cores(), workers, accelerator=accelerator)
    previous_threads = embedder.threads if embedder is not None else None
    loaded = _start_loading(embedder)
    try:
        _run(todo, embedder, cache, state, phase, max(1, batch_size), plan, progress, derivatives, loaded)
    finally:
        if embedder is not None:
            embedder.set_threads(previous_threads)


def _start_loading(embedder: Embedder | None) -> threading.Event:
    """Load the model (seconds: torch's import, the weights) while the first files decode;
    the event is set once it is loaded or has failed. A failure is left for embed(), which
    loads again and raises it where it is handled."""
    loaded = threading.Event()
    if embedder is None:
        loaded.set()
        return loaded
    load = embedder.load

    def quietly() -> None:
        try:
            load()
        except Exception:  # noqa: BLE001 - re-raised by the first embed() call
            pass
        finally:
            loaded.set()

    threading.Thread(target=quietly, name="photofind-model-load", daemon=True).start()
    return loaded


def _run(
    todo, embedder, cache, state, phase, batch_size, plan: ThreadPlan, progress, derivatives, loaded
) -> None:
    model_id = embedder.model.id if embedder is not None else None
    finished: dict[str, tuple[ImageFacts, int | None]] = {}  # hash -> facts, in this scan
    known = _KnownBytes(cache, model_id, state.table, finished)
    batch = _Batch(embedder, model_id, cache, state, finished, derivatives)
    prepare = embedder.prepare if embedder is not None else None
    derive = derivatives if prepare is not None else None
    gate = threading.Event()  # cleared while inference has every core
    gate.set()
    width = WidthChooser(plan.cores, plan.decoders + 1)
    # Bounded: the pool never runs more than `window` files ahead of inference.
    window = max(2 * batch_size, 4 * plan.decoders)
    processed = 0
    backlog: deque[_Read] = deque()  # read while the model loads, not yet in a batch
    with ThreadPoolExecutor(max_workers=plan.decoders, thread_name_prefix="photofind-read") as pool:
        queue: deque[Future[_Read]] = deque()
        files = iter(todo)

        def submit(f: FileRef) -> None:
            queue.append(pool.submit(_read_one, f, prepare, known, gate, derive))

        def batches() -> None:
            """Move the backlog into batches, embedding each as it fills."""
            while backlog:
                batch.add(backlog.popleft())
                if len(batch) >= batch_size:
                    check_cancel(progress)  # not a second of inference after a cancel
                    _flush(batch, queue, gate, plan, batch_size, embedder, width)

        for f in files:
            submit(f)
            if len(queue) >= window:
                break
        try:
            while queue:
                check_cancel(progress)
                backlog.append(queue.popleft().result())
                nxt = next(files, None)
                if nxt is not None:
                    submit(nxt)
                processed += 1
                if loaded.is_set() or len(backlog) >= LOAD_AHEAD:
                    batches()
                progress.update(phase, processed, len(todo))
            batches()
            _flush(batch, queue, gate, plan, batch_size, embedder, width)
        except Cancelled:
            for fut in queue:
                fut.cancel()
            for read in backlog:
                batch.add(read)
            batch.flush_without_inference()
            raise
        finally:
            gate.set()  # a parked decoder must not outlive the scan


class WidthChooser:
    """Whether inference may take every core (see `_flush`), learned from the batches.

    A multi-threaded torch only pays with the cores to ourselves: on a busy machine (a
    browser, a build) its threads wait at every barrier for one the OS has parked, and it
    then runs slower than one thread (measured here: 4x the CPU per photo). So a wide batch
    must beat the narrow ones per photo, or inference stays narrow for the rest of the scan.
    """

    MIN_GAIN = 1.2

    def __init__(self, cores: int = 1, own_threads: int = 0) -> None:
        self.narrow: float | None = None  # seconds per photo of the last narrow batch
        # Before any batch is timed: a load average beyond our own threads means others
        # want these cores too (where the OS has no load average, assume a quiet machine).
        try:
            self.allowed = os.getloadavg()[0] <= cores + own_threads
        except (AttributeError, OSError):
            self.allowed = True

    def record(self, wide: bool, seconds: float, photos: int) -> None:
        if seconds < 0.02:
            return  # too short to time against the OS's scheduling noise
        per_photo = seconds / max(photos, 1)
        if not wide:
            self.narrow = per_photo
        elif self.narrow is not None and per_photo * self.MIN_GAIN > self.narrow:
            self.allowed = False


def _flush(
    batch: _Batch,
    queue: deque,
    gate: threading.Event,
    plan: ThreadPlan,
    batch_size: int,
    embedder: Embedder | None,
    width: WidthChooser | None = None,
) -> None:
    """Embed the batch with as many torch threads as leave the decoders their cores."""
    if embedder is None or not embedder.shares_cores or not batch.needs_inference():
        batch.flush()
        return
    width = width or WidthChooser()
    ready = sum(1 for fut in queue if fut.done())
    idle = ready == len(queue)  # the decoders are idle: nothing to share the cores with
    behind = ready >= batch_size  # inference is the bottleneck: decoders pause meanwhile
    wide = width.allowed and plan.torch_threads < plan.cores and (idle or behind)
    embedder.set_threads(plan.cores if wide else plan.torch_threads)
    if wide and not idle:
        gate.clear()
    rows = batch.rows()
    start = time.perf_counter()
    try:
        batch.flush()
    finally:
        gate.set()
    width.record(wide, time.perf_counter() - start, rows)


class _KnownBytes:
    """Called from pool threads: what these bytes decoded to before, if anything, so a
    byte-identical copy (or a touched or renamed file) skips decoding and inference."""

    def __init__(self, cache: Cache, model_id: str | None, table: VectorTable | None, finished: dict) -> None:
        self._cache, self._model_id = cache, model_id
        self._table, self._finished = table, finished

    def __call__(self, chash: str) -> CachedFile | None:
        here = self._finished.get(chash)
        vec = self._table.get(chash) if self._table is not None else None
        if here is not None and (self._model_id is None or vec is not None):
            return CachedFile(chash, here[0], here[1], None, vec)
        return self._cache.images_for_hashes([chash], self._model_id, DETAIL_FORMAT).get(chash)


class _Batch:
    """Files waiting for inference; flushed as one inference call and one transaction."""

    def __init__(
        self, embedder, model_id, cache: Cache, state: IngestState, finished: dict, derivatives=None
    ) -> None:
        self._embedder, self._model_id, self._cache = embedder, model_id, cache
        self._state, self._finished = state, finished
        self._derivatives: Derivatives | None = derivatives
        self._pending: list[_Read] = []

    def __len__(self) -> int:
        return len(self._pending)

    def rows(self) -> int:
        """Model inputs in the batch: its photos and their derivatives."""
        return len(self._pending) + sum(len(r.derived) for r in self._pending if r.derived is not None)

    def add(self, result: _Read) -> None:
        stats, entry = self._state.stats, result.entry
        if entry.skipped is not None:
            self._state.skipped.append(entry.skipped)
            if entry.skipped.reason.cacheable:
                self._cache.store([entry], self._model_id)
            return
        assert entry.content_hash is not None  # a file that was not skipped was hashed
        if result.known is not None:
            stats["reused_embeddings"] += 1
            table = self._state.table
            if result.known.embedding is not None and table is not None:
                table.put(entry.file.path, entry.content_hash, result.known.embedding)
        else:
            stats["decoded"] += 1
        self._pending.append(result)

    def needs_inference(self) -> bool:
        return self._embedder is not None and any(
            r.prepared is not None and r.known is None for r in self._pending
        )

    def flush(self) -> None:
        table, stats = self._state.table, self._state.stats
        first: dict[str, _Read] = {}
        for r in self._pending:
            h = r.entry.content_hash
            if r.prepared is None or r.known is not None or table is None or h is None:
                continue
            if h in table or h in first:
                stats["reused_embeddings"] += 1  # a copy decoded at the same time as its twin
                continue
            first[h] = r
        if first and self._embedder is not None and table is not None:
            todo = list(first.items())
            # cast: only prepared files were kept above
            inputs = [np.stack([cast(np.ndarray, r.prepared) for _, r in todo])]
            derived = [(h, k, r.derived) for k, (h, r) in enumerate(todo) if r.derived is not None]
            inputs += [d for _, _, d in derived]
            out = self._embedder.embed(inputs[0] if len(inputs) == 1 else np.concatenate(inputs))
            for (h, r), vec in zip(todo, out):
                table.put(r.entry.file.path, h, vec)
            stats["embedded"] += len(todo)
            at = len(todo)
            for h, k, d in derived:
                assert self._derivatives is not None  # only it makes derived inputs
                self._derivatives.embedded(h, out[k], out[at : at + len(d)])
                at += len(d)
        self._commit()

    def flush_without_inference(self) -> None:
        """On cancel: keep what needs no model (the embedding comes on the next scan)."""
        table = self._state.table
        self._pending = [
            r for r in self._pending if r.known is not None or table is None or r.entry.content_hash in table
        ]
        self._commit()

    def _commit(self) -> None:
        if not self._pending:
            return
        table, done = self._state.table, self._state.done
        rows = []
        for r in self._pending:
            e = r.entry
            assert e.content_hash is not None and e.facts is not None  # skipped files never wait here
            if r.known is not None:
                # The image and embedding rows exist; only the file row is new.
                rows.append(FileEntry(e.file, content_hash=e.content_hash))
            else:
                vec = table.get(e.content_hash) if table is not None else None
                if vec is not None and table is not None:
                    table.put(e.file.path, e.content_hash, vec)  # a twin's: copied to its row
                rows.append(replace(e, embedding=vec))
            done[e.file.path] = ImageRecord(e.file, e.content_hash, e.facts, e.phash)
        self._cache.store(rows, self._model_id)
        for r in self._pending:
            if r.known is None:
                self._finished[r.entry.content_hash] = (r.entry.facts, r.entry.phash)
        self._pending.clear()


def read_photo(
    file: FileRef, prepare: Callable[[Any], np.ndarray] | None
) -> tuple[FileEntry, np.ndarray | None]:
    """One photo read as the scan reads it: one read of the file gives its cache entry (hashes,
    thumbnail, detail) and, with `prepare`, its model input. For a photo outside the library
    (`photofind similar`), so that it is compared exactly as a library photo would be."""
    read = _read_one(file, prepare, lambda _hash: None, _ALWAYS_OPEN, None)
    return read.entry, read.prepared


_ALWAYS_OPEN = threading.Event()
_ALWAYS_OPEN.set()


def _read_one(
    file: FileRef,
    prepare: Callable[[Any], np.ndarray] | None,
    known: Callable[[str], CachedFile | None],
    gate: threading.Event,
    derivatives: Derivatives | None,
) -> _Read:
    gate.wait()
    try:
        data = read_regular(file.path)
    except PermissionError:
        return _skip(file, SkipReason.PERMISSION, "no permission to read the file")
    except OSError as exc:
        return _skip(file, SkipReason.UNREADABLE, exc.strerror or str(exc))
    if len(data) != file.size:
        return _skip(file, SkipReason.CHANGED, "the file changed while it was read")
    chash = content_hash(data)
    hit = known(chash)
    if hit is not None:
        return _Read(FileEntry(file, content_hash=chash, facts=hit.facts, phash=hit.phash), known=hit)
    # Decoded only as far as the model input needs (both sides >= 224): the thumbnails
    # and hashes below are computed from the same pixels whether or not a model runs.
    decoded = decode_bytes(data, file.path, min_side=INPUT_SIZE)
    if isinstance(decoded, Skipped):
        return _Read(FileEntry(file, content_hash=chash, skipped=decoded))
    image = decoded.image
    box = content_box(image)  # once, for the detail and the pHash
    detail = detail_of_image(image, quality=file_quality(io.BytesIO(data)), prepare=False, box=box)
    derived = derivatives.inputs(file.path, chash, data, decoded) if derivatives is not None else None
    del data
    entry = FileEntry(
        file,
        content_hash=chash,
        facts=decoded.facts,
        phash=phash(image, box=box),
        thumb=gray_thumb(image, THUMB_SIDE).astype(np.uint8).tobytes(),
        detail=detail_to_bytes(detail),
        detail_format=DETAIL_FORMAT,
        bordered=detail.bordered,
    )
    return _Read(entry, prepare(image) if prepare is not None else None, derived=derived)


def _skip(file: FileRef, reason: SkipReason, detail: str) -> _Read:
    return _Read(FileEntry(file, skipped=Skipped(file.path, reason, detail)))
