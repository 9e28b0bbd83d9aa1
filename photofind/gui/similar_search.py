""" "Photos like this one" over a finished scan, for the similar view. No Qt here: it runs on a
pool thread and reads only the immutable ScanResult.

The index over the scan's photos (photofind.core.match.similar.SimilarIndex: path and copy
lookups, and LSH tables for big libraries) is built on the first query and kept until the
scan result changes, so a user clicking through photos pays for it once. It reads the
pixel facts of its top hits from the scan cache, so a click opens no library photo.
"""

from __future__ import annotations

import threading
from typing import Any

from photofind.core.match.similar import SimilarIndex, search_result
from photofind.core.scan.cache import Cache
from photofind.core.store import StoreError
from photofind.core.types import ScanResult
from photofind.paths import default_cache_path

# path, similarity, tier ("" when below every threshold), relation to the query ("copy: resized",
# "burst", "similar scene": photofind.core.match.similar.relation)
Match = tuple[str, float, str, str]


class SimilarSearch:
    """Queries over the latest scan result, with its index kept between them."""

    def __init__(self, cache_path: str | None = None) -> None:
        self._cache_path = cache_path  # as the scan worker chooses it: this, the settings', the default
        self._lock = threading.Lock()
        self._built: tuple[ScanResult, SimilarIndex] | None = None  # one attribute: read atomically
        self._cache: Cache | None = None

    def index(self, result: ScanResult) -> SimilarIndex:
        """The index of `result`: the kept one, or a new one when the result changed."""
        with self._lock:
            if self._built is None or self._built[0] is not result:
                self._reopen_cache(result)
                self._built = (result, SimilarIndex.for_result(result, self._cache))
            return self._built[1]

    def _reopen_cache(self, result: ScanResult) -> None:
        """The cache the scan filled. One that cannot be opened only costs speed: the pixel
        check of the top hits then reads their files."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        try:
            self._cache = Cache(self._cache_path or result.settings.cache_path or default_cache_path())
        except StoreError:
            pass

    def built_index(self, result: ScanResult) -> SimilarIndex | None:
        """The index of `result` if it is built; never waits (for the GUI thread)."""
        built = self._built
        return built[1] if built is not None and built[0] is result else None

    def search(self, result: ScanResult, path: str, top: int, *, embedder: Any = None) -> list[Match]:
        """The `top` photos of `result` most like `path` (inside the library or not), best
        first, the query itself left out; exact copies first, at similarity 1.0. Raises
        SimilarSearchError with a message for the user."""
        return search_result(result, path, top, embedder=embedder, index=self.index(result))
