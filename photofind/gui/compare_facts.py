"""What the compare dialog says about a group's photos: the metadata rows (with the keys that
decide whether a cell differs from the keeper's) and the rule for refusing a mark. No widgets."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence

from photofind.core.types import Derivation, ImageRecord
from photofind.gui.text import human_bytes, percent

# A row of the metadata table: label, display text per photo, comparison key per photo
# (None: never highlighted, e.g. the path, which always differs and says nothing).
MetaRow = tuple[str, list[str], list[object] | None]


def metadata_rows(
    records: Sequence[ImageRecord],
    indices: Sequence[int],
    similarities: Mapping[int, float] | None = None,
    derivation: Mapping[int, Derivation] | None = None,
) -> list[MetaRow]:
    """The facts the compare table shows, one list entry per row. With the group's
    `derivation` (index -> Derivation), two rows say which photo is the original and how
    each copy was made from which."""
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


try:  # the engine's wording, so the grid, the CLI and this dialog refuse in the same words
    from photofind.core.cleanup.marks import Refusal

    LAST_UNMARKED, PROTECTED = Refusal.LAST_UNMARKED.value, Refusal.PROTECTED.value
except ImportError:  # pragma: no cover - only while the marks module is being written
    LAST_UNMARKED = "every other file of this group is marked: at least one file must be kept"
    PROTECTED = "the file is inside a protected folder"


def mark_refusal(
    indices: Collection[int], marked: Collection[int], index: int, protected: Collection[int] = ()
) -> str | None:
    """Why `index` may not be marked, or None. The rule of photofind.core.cleanup.marks: a protected
    file is never marked, and a group never loses its last unmarked photo."""
    if index in protected:
        return PROTECTED
    if not any(i != index and i not in marked for i in indices):
        return LAST_UNMARKED
    return None
