"""Per-user folders for the cache, the journal and settings. Overridable by env vars."""

from __future__ import annotations

import os
from pathlib import Path

APP = "photofind"


def _dir(env: str, kind: str) -> Path:
    override = os.environ.get(env)
    if override:
        return Path(override)
    import platformdirs  # imported here: only needed when a default path is asked for

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP))


def cache_dir() -> Path:
    return _dir("PHOTOFIND_CACHE_DIR", "cache")


def data_dir() -> Path:
    """Holds what must not be lost with the cache: the undo journal and decisions."""
    return _dir("PHOTOFIND_DATA_DIR", "data")


def default_cache_path() -> Path:
    return cache_dir() / "cache.sqlite3"


def default_journal_path() -> Path:
    return data_dir() / "journal.sqlite3"
