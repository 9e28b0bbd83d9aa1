"""Which file of a group to keep. The default rule; full rule chains build on this."""

from __future__ import annotations

from typing import Sequence

from photofind.core.types import ImageRecord


def default_keeper_key(record: ImageRecord) -> tuple:
    """Highest resolution, then largest file, then oldest date taken, then shortest path."""
    taken = record.facts.taken or "9999"
    return (-record.facts.pixels, -record.file.size, taken, len(record.path), record.path)


def pick_keeper(records: Sequence[ImageRecord], indices: Sequence[int]) -> int:
    return min(indices, key=lambda i: default_keeper_key(records[i]))
