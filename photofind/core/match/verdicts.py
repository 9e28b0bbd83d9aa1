"""The pixel check's answers for pairs of content classes, as grouping asks for them.

Each answer is memoised, read from the scan cache in batches before anything is checked, and
saved to it in batches as it is found (photofind.core.scan.cache `verdicts`, per verifier
version and rotation setting): a warm rescan and every slider move run no pixel check twice, and
a stopped scan resumes from what it saved. While checking, the details and pixel digests come
from the cache the read pass filled (pixelfacts.CachedPixelFacts), so no photo file is opened.
From PARALLEL_FROM unanswered pairs on, `prefetch` hands them to worker processes (verifypool),
one per usable core: the same verdicts, saved and reported the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

import numpy as np

from photofind.core.match import verify, verifypool
from photofind.core.match.detail import DETAIL_FORMAT
from photofind.core.match.pixelfacts import CachedPixelFacts
from photofind.core.model.embed import usable_cores
from photofind.core.progress import Phase, Progress, check_cancel
from photofind.core.types import ImageRecord

SAVE_EVERY = 256  # verdicts per cache transaction: a killed scan loses at most this many
PARALLEL_FROM = 512  # pairs to check before worker processes pay for their start (~1 s each)


class PixelVerdicts:
    """Verdicts between content classes `x`, `y` (positions in `reps`, each the record that
    stands for one set of byte-identical files)."""

    def __init__(
        self,
        records: Sequence[ImageRecord],
        reps: np.ndarray,
        thumbs: np.ndarray,
        *,
        rotations: bool,
        cache: Any,
        progress: Progress,
        workers: int | None = None,
    ) -> None:
        self.records, self.reps, self.thumbs, self.rotations = records, reps, thumbs, rotations
        self.workers = usable_cores() if workers is None else workers
        self._progress = progress
        # Keyed lo * n + hi by content classes: verify.compare(class lo's photo, class hi's).
        self._verdicts: dict[int, verify.Verdict | None] = {}
        self._same: dict[int, bool] = {}
        self._unsaved: list[tuple[str, str, str | None]] = []
        self._cache = cache
        self._facts: CachedPixelFacts | None = None
        if cache is not None:
            cache.use_verifier(verify.VERIFIER_VERSION)
            self._facts = CachedPixelFacts(cache)

    def relation(self, x: int, y: int) -> verify.Verdict | None:
        """verify.compare for representatives x, y, as seen from x."""
        found = self._checked(x, y) if x < y else self._checked(y, x)
        return found.swapped() if found is not None and x > y else found

    def _checked(self, x: int, y: int, *, ask_cache: bool = True) -> verify.Verdict | None:
        """verify.compare(class x's photo, class y's) for x < y: memoised, else cached, else run."""
        key = x * len(self.reps) + y
        if key not in self._verdicts and ask_cache:
            self._load([(x, y)])
        if key not in self._verdicts:
            a, b = self.records[self.reps[x]], self.records[self.reps[y]]
            with self.reading():
                found = verify.compare(
                    a, b, self.thumbs[self.reps[x]], self.thumbs[self.reps[y]], rotations=self.rotations
                )
            facts = self._facts
            complete = facts is not None and not {a.content_hash, b.content_hash} & facts.missing
            self._found(x, y, found, verify.verdict_to_text(found), complete)
        return self._verdicts[key]

    def _found(self, x: int, y: int, found: verify.Verdict | None, text: str | None, complete: bool) -> None:
        """Memoise a new answer, and save it in batches unless a photo lacked its cached
        detail (a thumbnail fallback is not worth keeping: the detail may be there next time)."""
        self._verdicts[x * len(self.reps) + y] = found
        if complete and self._cache is not None:
            a, b = self.records[self.reps[x]], self.records[self.reps[y]]
            self._unsaved.append((a.content_hash, b.content_hash, text))
            if len(self._unsaved) >= SAVE_EVERY:
                self.save()

    def _load(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Memoise the cached answers for ordered class pairs (one batched query)."""
        if self._cache is None or not pairs:
            return
        n = len(self.reps)
        hashes = [
            (self.records[self.reps[x]].content_hash, self.records[self.reps[y]].content_hash)
            for x, y in pairs
        ]
        found = self._cache.verdicts(hashes, verify.VERIFIER_VERSION, self.rotations)
        for (x, y), key in zip(pairs, hashes):
            if key in found:
                self._verdicts[x * n + y] = verify.verdict_from_text(found[key])

    def save(self) -> None:
        if self._cache is not None and self._unsaved:
            self._cache.put_verdicts(self._unsaved, verify.VERIFIER_VERSION, self.rotations)
        self._unsaved = []

    @contextmanager
    def reading(self) -> Iterator[None]:
        """The checks read the scan's cached details and digests, not the photo files."""
        if self._facts is None:
            yield
            return
        with verify.reading_from(self._facts):
            yield

    def prefetch(self, pairs: list[tuple[int, int]]) -> None:
        """Verdicts for these (lower, higher) pairs: cached ones read in one pass, the rest
        checked with progress (pairs checked of total) and saved in batches as they come."""
        n = len(self.reps)
        todo = [(x, y) for x, y in pairs if x * n + y not in self._verdicts]
        self._load(todo)
        todo = [(x, y) for x, y in todo if x * n + y not in self._verdicts]
        try:
            if len(todo) >= PARALLEL_FROM and self._facts is not None and self.workers > 1:
                try:
                    self._check_in_workers(todo)
                except BrokenProcessPool:  # a worker died (out of memory, killed): go on here
                    todo = [(x, y) for x, y in todo if x * n + y not in self._verdicts]
                else:
                    return
            for k, (x, y) in enumerate(todo):
                if k % 32 == 0:
                    check_cancel(self._progress)
                    self._progress.update(Phase.VERIFY, k, len(todo))
                self._checked(x, y, ask_cache=False)  # todo holds what the cache lacks
            if todo:
                self._progress.update(Phase.VERIFY, len(todo), len(todo))
        finally:
            self.save()  # also when stopped: the next scan resumes from here

    def _check_in_workers(self, todo: list[tuple[int, int]]) -> None:
        """prefetch's checks in worker processes (verifypool), answers saved as they come."""
        records, reps, thumbs = self.records, self.reps, self.thumbs
        pairs = [
            verifypool.Pair(records[reps[x]], records[reps[y]], thumbs[reps[x]], thumbs[reps[y]])
            for x, y in todo
        ]
        cache = self._cache

        def details_for(hashes: list[str]) -> dict[str, bytes]:
            return cache.details_for_hashes(hashes, DETAIL_FORMAT)

        answers = verifypool.check(
            pairs,
            details_for,
            rotations=self.rotations,
            workers=self.workers,
            progress=self._progress,
            phase=Phase.VERIFY,
        )
        for k, answer in answers:
            x, y = todo[k]
            self._found(x, y, verify.verdict_from_text(answer.text), answer.text, answer.complete)

    def preload(self, classes: Iterable[int]) -> None:
        """Read the cached details of these classes' photos in batches, before one by one."""
        if self._facts is not None:
            self._facts.preload(self.records[self.reps[c]] for c in classes)

    def same_pixels(self, x: int, y: int) -> bool:
        lo, hi = (x, y) if x < y else (y, x)
        key = lo * len(self.reps) + hi
        if key not in self._same:
            ra, rb = self.reps[lo], self.reps[hi]
            with self.reading():
                self._same[key] = verify.same_pixels(
                    self.records[ra], self.records[rb], self.thumbs[ra], self.thumbs[rb]
                )
        return self._same[key]
