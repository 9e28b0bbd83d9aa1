"""The library as a browsable list: every scanned photo in sections, by folder or by month taken.

The library view shows these sections in a virtualised grid. Building them is one pass and one
sort over the records (about 0.1 s at 100k photos), so the GUI can rebuild them on every scan,
filter or change of grouping without keeping an index of its own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from photofind.core.types import ImageRecord

NO_DATE = "No date taken"


class SectionBy(str, Enum):
    FOLDER = "folder"
    DATE = "date"


@dataclass(frozen=True)
class Section:
    """One header of the library grid and the records (indices into the scan's records) under it."""

    key: str  # the folder path, or "YYYY-MM" ("" for photos without a date)
    title: str
    members: tuple[int, ...]


def sections(records: Sequence[ImageRecord], by: SectionBy, name_filter: str = "") -> list[Section]:
    """Sections of the records whose file name contains `name_filter` (case-insensitive).

    By folder: folders in path order, photos by name. By date: newest month first, photos in
    the order they were taken, undated photos last."""
    needle = name_filter.strip().casefold()
    chosen = [i for i, r in enumerate(records) if not needle or needle in os.path.basename(r.path).casefold()]
    buckets: dict[str, list[int]] = {}
    if by is SectionBy.FOLDER:
        for i in sorted(chosen, key=lambda i: _folder_order(records[i].path)):
            buckets.setdefault(os.path.dirname(records[i].path), []).append(i)
        return [Section(key, key, tuple(members)) for key, members in buckets.items()]
    dated = sorted(chosen, key=lambda i: (records[i].facts.taken or "", records[i].path))
    for i in dated:
        buckets.setdefault((records[i].facts.taken or "")[:7], []).append(i)
    months = sorted((k for k in buckets if k), reverse=True)
    out = [Section(k, _month_title(k), tuple(buckets[k])) for k in months]
    if "" in buckets:
        out.append(Section("", NO_DATE, tuple(buckets[""])))
    return out


def _folder_order(path: str) -> tuple[str, str]:
    folder, name = os.path.split(path)
    return folder.casefold(), name.casefold()


def _month_title(key: str) -> str:
    try:
        return datetime.strptime(key, "%Y-%m").strftime("%B %Y")
    except ValueError:
        return key  # a malformed EXIF date still gets a section of its own
