"""What the compare dialog says about a group's photos: the metadata rows, with the keys that
decide whether a cell differs from the keeper's. No widgets. (Whether a photo may be marked is
decided by the review state, photofind.core.cleanup.marks.)"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from photofind.core.scan.companions import Companion
from photofind.core.types import ImageRecord
from photofind.gui.text import human_bytes, percent

# A row of the metadata table: label, display text per photo, comparison key per photo
# (None: never highlighted, e.g. the path, which always differs and says nothing).
MetaRow = tuple[str, list[str], list[object] | None]


def metadata_rows(
    records: Sequence[ImageRecord],
    indices: Sequence[int],
    similarities: Mapping[int, float] | None = None,
    companions: Mapping[int, Sequence[Companion]] | None = None,
) -> list[MetaRow]:
    """The facts the compare table shows, one list entry per row. `companions`: each photo's
    capture unit (the files that travel with it), shown when any photo has one."""
    recs = [records[i] for i in indices]

    def megapixels(r: ImageRecord) -> str:
        mp = r.facts.pixels / 1e6
        return f"{r.facts.width} × {r.facts.height} ({mp:.{0 if mp >= 10 else 1 if mp >= 1 else 2}f} MP)"

    rows: list[MetaRow] = [
        ("Resolution", [megapixels(r) for r in recs], [(r.facts.width, r.facts.height) for r in recs]),
        ("File size", [human_bytes(r.file.size) for r in recs], [r.file.size for r in recs]),
        ("Format", [r.facts.format or "—" for r in recs], [r.facts.format for r in recs]),
        ("Date taken", [_date_text(r.facts.taken) for r in recs], [r.facts.taken for r in recs]),
        ("Camera", [r.facts.camera or "—" for r in recs], [r.facts.camera for r in recs]),
        ("File name", [os.path.basename(r.path) for r in recs], [os.path.basename(r.path) for r in recs]),
        ("Folder", [os.path.dirname(r.path) for r in recs], [os.path.dirname(r.path) for r in recs]),
    ]
    if similarities:
        rows.append(("Similarity", [_similarity_text(similarities.get(i)) for i in indices], None))
    if companions and any(companions.get(i) for i in indices):
        units = [companions.get(i, ()) for i in indices]
        rows.append(
            (
                "Travels with",
                [", ".join(f"{c.name} ({c.kind.label})" for c in unit) or "—" for unit in units],
                [sorted({c.kind.value for c in unit}) for unit in units],
            )
        )
    return rows


def _date_text(taken: str | None) -> str:
    return taken.replace("T", "  ") if taken else "—"


def _similarity_text(value: float | None) -> str:
    return "—" if value is None else percent(value)
