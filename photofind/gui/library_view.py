"""The library page: every scanned photo in a virtualised grid, by folder or by month taken.

Clicking a photo asks for the photos like it (the main window shows them in the similar
page). *Choose photo…* does the same for any photo file, inside the library or not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from photofind.core.library import Library, SectionBy
from photofind.core.scan.formats import PHOTO_EXTENSIONS
from photofind.core.types import ImageRecord
from photofind.gui.grid_view import GroupGridView
from photofind.gui.library_model import LibraryModel

PHOTO_FILTER = "Photos ({});;All files (*)".format(" ".join(f"*{ext}" for ext in sorted(PHOTO_EXTENSIONS)))
_SECTION_CHOICES = (("Folder", SectionBy.FOLDER), ("Date taken", SectionBy.DATE))


class LibraryView(QWidget):
    photoChosen = Signal(str)  # show the photos like this path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("libraryView")
        self.model = LibraryModel(self)
        self._build()
        self.model.modelReset.connect(self._update_count)
        self._update_count()

    def set_records(self, records: Sequence[ImageRecord], roots: Sequence[str] = ()) -> None:
        """Show these photos; section titles start from the scanned folders `roots`."""
        self.model.set_records(records, roots)

    def set_library(self, library: Library) -> None:
        """Show the photos of a Library already built (a new scan's, built with its groups)."""
        self.model.set_library(library)

    def ask_photo_path(self) -> str:
        """Asks for a photo file (tests replace this)."""
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose a photo to find photos like it", os.path.expanduser("~"), PHOTO_FILTER
        )
        return path

    def choose_photo(self) -> None:
        path = self.ask_photo_path()
        if path:
            self.photoChosen.emit(path)

    def _build(self) -> None:
        self.section_by = QComboBox()
        self.section_by.setObjectName("librarySectionBy")
        for label, by in _SECTION_CHOICES:
            self.section_by.addItem(label, by)
        self.section_by.currentIndexChanged.connect(
            lambda i: self.model.set_section_by(self.section_by.itemData(i))
        )
        self.name_filter = QLineEdit()
        self.name_filter.setObjectName("libraryFilter")
        self.name_filter.setPlaceholderText("Filter by file name")
        self.name_filter.setClearButtonEnabled(True)
        self.name_filter.textChanged.connect(self.model.set_name_filter)
        self.choose_button = QPushButton("Choose photo\u2026")
        self.choose_button.setObjectName("chooseQueryPhoto")
        self.choose_button.setToolTip("Find photos like any photo file, in the library or not")
        self.choose_button.clicked.connect(self.choose_photo)
        self.count = QLabel()
        self.count.setObjectName("hint")

        bar = QHBoxLayout()
        bar.setContentsMargins(16, 12, 16, 8)
        bar.setSpacing(10)
        bar.addWidget(QLabel("Group by"))
        bar.addWidget(self.section_by)
        bar.addWidget(self.name_filter, 1)
        bar.addWidget(self.count)
        bar.addWidget(self.choose_button)

        self.grid = GroupGridView(parent=self)
        self.grid.setObjectName("libraryGrid")
        self.grid.set_placeholder(
            "No photos yet", "Add a folder, then press Scan. Every photo it finds shows here."
        )
        self.grid.setModel(self.model)
        self.grid.clicked.connect(self._clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.grid, 1)

    def _clicked(self, index: QModelIndex) -> None:
        path = self.model.path_at(index)
        if path:
            self.photoChosen.emit(path)

    def _update_count(self) -> None:
        shown = self.model.photo_count()
        self.count.setText(f"{shown:,} photo{'s' if shown != 1 else ''}")
