"""The pixel check on many pairs at once, in worker processes: one per usable core.

A check is ~10 ms of small numpy operations that hold the GIL between them, so threads do not
scale; processes do. The workers are spawned (not forked: the app has Qt and torch threads),
get chunks of consecutive pairs with the inputs each check reads (the records, thumbnails and
the cached detail bytes of the chunk's photos: no worker opens the cache or a photo file),
and send back the verdicts as text, which the caller memoises and saves as it goes.

Each worker keeps the photos it prepared (detail image, alignment pyramid, tilted views) in a
bounded LRU, and a chunk holds pairs sorted by their first photo, so a photo with several
candidates is prepared once per worker, not once per pair. The answers are the serial check's,
bit for bit: the same function on the same bytes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from photofind.core.match import verify
from photofind.core.match.detail import Detail, Lru, detail_from_bytes
from photofind.core.progress import Progress, check_cancel
from photofind.core.types import ImageRecord

CHUNK = 32  # pairs per task: ~0.3 s of work, so Stop answers within a second
IN_FLIGHT = 3  # chunks queued per worker, so none waits for the next
DETAILS_IN_WORKER = 1024  # prepared photos a worker keeps (~150 KB each)


@dataclass(frozen=True)
class Pair:
    """One check's inputs: verify.compare(a, b, thumb_a, thumb_b)."""

    a: ImageRecord
    b: ImageRecord
    thumb_a: np.ndarray
    thumb_b: np.ndarray


@dataclass(frozen=True)
class Answer:
    """verify.compare's verdict as text (verify.verdict_to_text); `complete` is False when a
    photo had no cached detail and the check fell back to thumbnails (not worth caching)."""

    text: str | None
    complete: bool


@dataclass(frozen=True)
class _Task:
    pairs: tuple[Pair, ...]
    details: dict[str, bytes]  # content hash -> detail.detail_to_bytes, for the chunk's photos
    rotations: bool


class _ChunkFacts:
    """verify.PixelFacts inside a worker: the details the chunk came with, prepared once per
    worker. The check asks for nothing else (bars come with the detail; pixel digests are
    the tier's business, decided in the calling process)."""

    def __init__(self, details: dict[str, bytes]) -> None:
        self._bytes = details
        self.missing: set[str] = set()

    def detail(self, record: ImageRecord) -> Detail | None:
        chash = record.content_hash
        hit = _prepared.get(chash)
        if hit is None:
            data = self._bytes.get(chash)
            hit = detail_from_bytes(data) if data is not None else None
            if hit is None:
                self.missing.add(chash)
                return None
            _prepared.put(chash, hit)
        return hit

    def bordered(self, record: ImageRecord) -> bool:
        raise NotImplementedError("a verification worker answers compare() only")

    def digest(self, record: ImageRecord) -> str | None:
        raise NotImplementedError("a verification worker answers compare() only")


_prepared = Lru(DETAILS_IN_WORKER)


def _check_chunk(task: _Task) -> list[Answer]:
    """In a worker: the chunk's verdicts, in order."""
    facts = _ChunkFacts(task.details)
    out = []
    with verify.reading_from(facts):
        for p in task.pairs:
            found = verify.compare(p.a, p.b, p.thumb_a, p.thumb_b, rotations=task.rotations)
            used = {p.a.content_hash, p.b.content_hash}
            out.append(Answer(verify.verdict_to_text(found), not used & facts.missing))
    return out


def check(
    pairs: Sequence[Pair],
    details_for: Callable[[list[str]], dict[str, bytes]],
    *,
    rotations: bool,
    workers: int,
    progress: Progress,
    phase: str,
) -> Iterator[tuple[int, Answer]]:
    """Yield (position in `pairs`, answer) as chunks finish, in no fixed order. Progress is
    `phase`, pairs checked of len(pairs); Stop raises Cancelled between chunks (chunks still
    running are waited for, so the pool is gone when this returns or raises).
    `details_for(content hashes)` reads the cached detail bytes of a chunk's photos."""
    starts = iter(range(0, len(pairs), CHUNK))
    done = 0
    pending: dict[Future, int] = {}
    ctx = multiprocessing.get_context("spawn")  # never fork a process with Qt or torch threads
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    try:

        def submit() -> bool:
            start = next(starts, None)
            if start is None:
                return False
            chunk = tuple(pairs[start : start + CHUNK])
            hashes = list(dict.fromkeys(h for p in chunk for h in (p.a.content_hash, p.b.content_hash)))
            pending[pool.submit(_check_chunk, _Task(chunk, details_for(hashes), rotations))] = start
            return True

        while len(pending) < workers * IN_FLIGHT and submit():
            pass
        progress.update(phase, 0, len(pairs))
        while pending:
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            check_cancel(progress)
            for future in finished:
                start = pending.pop(future)
                answers = future.result()
                for k, answer in enumerate(answers):
                    yield start + k, answer
                done += len(answers)
                submit()
            if finished:
                progress.update(phase, done, len(pairs))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
