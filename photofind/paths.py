"""Per-user folders for the cache, the journal and settings (overridable by env vars), and the
folder of the app's shipped resources. No Qt here: the CLI uses it too."""

from __future__ import annotations

import functools
import importlib.resources
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


RESOURCE_MARKER = "style.qss"  # a file every copy of resources/ has


@functools.cache
def resource_dir() -> Path:
    """The folder of the app's resources (style sheet, icons, .desktop file), wherever
    photofind was installed. The wheel ships `resources/` as the package `photofind.resources`
    (see pyproject.toml); a source checkout not reinstalled since that mapping existed has no
    such package, so the top-level folder next to `photofind/` is tried too."""
    try:
        candidate = Path(str(importlib.resources.files("photofind.resources")))
        if (candidate / RESOURCE_MARKER).is_file():
            return candidate
    except (ModuleNotFoundError, TypeError, ValueError):
        pass
    checkout = Path(__file__).resolve().parents[1] / "resources"
    if (checkout / RESOURCE_MARKER).is_file():
        return checkout
    raise FileNotFoundError(f"photofind's resources are missing: looked in the package and in {checkout}")
