"""What the compare dialog says about a group's photos: the metadata rows, with the keys that
decide whether a cell differs from the keeper's. No widgets. (Whether a photo may be marked is
decided by the review state, photofind.core.cleanup.marks.)"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from photofind.core.scan.companions import Companion
from photofind.core.types import Derivation, ImageRecord
from photofind.gui.text import human_bytes, percent

# A row of the metadata table: label, display text per photo, comparison key per photo
# (None: never highlighted, e.g. the path, which always differs and says nothing).
MetaRow = tuple[str, list[str], list[object] | None]


def metadata_rows(
    records: Sequence[ImageRecord],
    indices: Sequence[int],
    similarities: Mapping[int, float] | None = None,
    companions: Mapping[int, Sequence[Companion]] | None = None,
    derivation: Mapping[int, Derivation] | None = None,
) -> list[MetaRow]:
    """The facts the compare table shows, one list entry per row. `companions`: each photo's
    capture unit (the files that travel with it), shown when any photo has one. With the
    group's `derivation` (index -> Derivation), two rows say which photo is the original and
    how each copy was made from which."""
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
    if derivation:
        made = [derivation.get(i) for i in indices]
        rows.append(("Made from", [_made_from_text(records, d) for d in made], None))
        rows.append(("How", [_how_text(d) for d in made], None))
    return rows


def _made_from_text(records: Sequence[ImageRecord], d: Derivation | None) -> str:
    if d is None:
        return "—"
    if d.parent is None:
        return "the original"
    return os.path.basename(records[d.parent].path)


def _how_text(d: Derivation | None) -> str:
    if d is None:
        return "—"
    if d.parent is None:
        return "—"
    return ", ".join(d.how) or "no visible change"


def is_original(derivation: Mapping[int, Derivation] | None, index: int) -> bool:
    """The photo the group's other photos were made from (the root of the tree)."""
    d = (derivation or {}).get(index)
    return d is not None and d.parent is None


def _date_text(taken: str | None) -> str:
    return taken.replace("T", "  ") if taken else "—"


def _similarity_text(value: float | None) -> str:
    return "—" if value is None else percent(value)
