"""The pixel check's inputs, served from the cache the read pass filled: grouping, the slider
and calibration open no photo file.

- detail images: one SQLite read and a small PNG decode per photo, kept in a bounded LRU
  (each prepared Detail is ~150 KB, so memory stays flat whatever the library's size);
- bar flags: one column, without decoding the detail (the anchor rule asks for many);
- pixel digests (verify.same_pixels): read from the cache; the first time a content needs
  one, its file is decoded in full once and the digest saved.

A photo whose detail is not cached (a file the read pass could not decode in full) has none:
the check then falls back to thumbnails, and `missing` lets the caller keep such an answer
out of the verdict cache.
"""

from __future__ import annotations

from collections.abc import Iterable

from photofind.core.match import verify
from photofind.core.match.detail import DETAIL_FORMAT, Detail, Lru, detail_from_bytes
from photofind.core.scan.cache import Cache
from photofind.core.types import ImageRecord

DETAILS_IN_MEMORY = 1024  # ~150 MB at most


class CachedPixelFacts:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache
        self._details = Lru(DETAILS_IN_MEMORY)
        self._bordered: dict[str, bool] = {}
        self._digests: dict[str, str] = {}
        self.missing: set[str] = set()  # content hashes without a cached detail

    def detail(self, record: ImageRecord) -> Detail | None:
        chash = record.content_hash
        hit = self._details.get(chash)
        if hit is not None or chash in self.missing:
            return hit
        return self._keep(chash, self._cache.details_for_hashes([chash], DETAIL_FORMAT).get(chash))

    def preload(self, records: Iterable[ImageRecord]) -> None:
        """Read the details of these photos in batched queries (a group's keeper and tree ask
        for thousands, one by one otherwise); as many as the LRU holds stay."""
        wanted = [
            r.content_hash
            for r in records
            if r.content_hash not in self.missing and self._details.get(r.content_hash) is None
        ]
        found = self._cache.details_for_hashes(wanted, DETAIL_FORMAT)
        for chash in dict.fromkeys(wanted):
            self._keep(chash, found.get(chash))

    def _keep(self, chash: str, data: bytes | None) -> Detail | None:
        """The detail from its cached bytes, remembered; or None, remembered as missing."""
        detail = detail_from_bytes(data) if data is not None else None
        if detail is None:
            self.missing.add(chash)
        else:
            self._details.put(chash, detail)
        return detail

    def bordered(self, record: ImageRecord) -> bool:
        chash = record.content_hash
        if chash not in self._bordered:
            found = self._cache.bordered_for_hashes([chash], DETAIL_FORMAT)
            self._bordered[chash] = found.get(chash, False)
        return self._bordered[chash]

    def digest(self, record: ImageRecord) -> str | None:
        chash = record.content_hash
        if chash not in self._digests:
            stored = self._cache.pixel_digests([chash]).get(chash)
            if stored is None:
                stored = verify.decode_digest(record.path)
                if stored:  # an unreadable file may be readable next time
                    self._cache.put_pixel_digest(chash, stored)
            self._digests[chash] = stored
        return self._digests[chash] or None
