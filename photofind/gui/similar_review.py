"""Compare and mark from the similar page. The searched photo and a result are compared, and
the result marked, in the group they share, or else in the pair the review state makes of them
(photofind.core.cleanup.marks.Marks.pair: the searched photo is its kept file). So the grid,
the compare view, the similar page and the trash act on one set of marks, under one rule."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from photofind.core.types import Group, Tier
from photofind.gui.compare import CompareDialog
from photofind.gui.review import Review
from photofind.gui.similar_view import SimilarView

RowOf = Callable[[str], "int | None"]  # a path -> its position in the scan's records, if any

OUTSIDE = "Compare and mark work on photos of the library; this photo is not one of them."


class SimilarReview(QObject):
    statusMessage = Signal(str)

    def __init__(
        self, view: SimilarView, review: Review, row_of: RowOf, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.view, self.review, self.model = view, review, review.model
        self._row_of = row_of
        view.compareRequested.connect(self.compare)
        view.markToggleRequested.connect(self.toggle)
        view.trashRequested.connect(review.trash_marked)
        self.model.reviewChanged.connect(view.marks_changed)
        view.set_mark_lookup(self.is_marked)

    def group_of(self, query: str, path: str) -> Group | None:
        """The group the searched photo and a result share, else their pair; None (and a
        status message) when either is not a photo of the library."""
        q, r = self._row_of(query), self._row_of(path)
        if q is None or r is None or q == r:
            self.statusMessage.emit(OUTSIDE)
            return None
        shared = self.model.group_of_record(q)
        if shared is not None and r in shared.indices:
            return shared
        row = self.view.result_of(path)
        similarity, tier = (row[1], row[2]) if row is not None else (0.0, "")
        return self.model.review.pair(q, r, similarity, Tier(tier) if tier else Tier.SIMILAR)

    def compare(self, query: str, path: str) -> CompareDialog | None:
        """The side-by-side view of the searched photo and a result; its marks are the grid's."""
        group = self.group_of(query, path)
        return None if group is None else self.review.compare(group)

    def is_marked(self, path: str) -> bool:
        """Marked for clean-up in any group: what the trash would take."""
        row = self._row_of(path)
        return row is not None and self.model.review.marked_anywhere(row)

    def toggle(self, query: str, paths: list[str]) -> None:
        """Unmark the results if all are marked, else mark the unmarked ones (each in its group
        with the searched photo); a refused mark says why in the status bar."""
        rows = [self._row_of(p) for p in paths]
        if not rows or any(r is None for r in rows):
            self.statusMessage.emit(OUTSIDE)
            return
        marks, model = self.model.review, self.model
        if all(marks.marked_anywhere(r) for r in rows):
            touched = [group.id for group, record in marks if record in rows]
            for gid in touched:
                for record in rows:
                    marks.unmark(gid, record)
        else:
            touched = []
            for path, record in zip(paths, rows):
                group = None if marks.marked_anywhere(record) else self.group_of(query, path)
                if group is None:
                    continue
                why = marks.mark(group.id, record)
                if why is None:
                    touched.append(group.id)
                else:
                    model.markRefused.emit(why.value)
        for gid in dict.fromkeys(touched):
            model.review_edited(gid)
