"""Side-panel controls that change what the grid shows: the similarity slider (regroups from
cached embeddings), tier toggles (filter) and the group sort order. Widgets only: the main
window turns their signals into model and controller calls."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photofind.core.types import Tier
from photofind.gui import text
from photofind.gui.group_model import SortKey

# Per mille of cosine: calibrated bars can sit at 0.996 (some weights put everything near 1),
# so whole percents are too coarse. Below 0.5 nothing is alike; 1.0 would be exact copies only.
SLIDER_MIN, SLIDER_MAX, SLIDER_SCALE = 500, 999, 1000
REGROUP_DELAY_MS = 180  # regroup once the slider rests, not on every pixel of a drag

SORT_LABELS = {
    SortKey.RECLAIMABLE: "Most space to free",
    SortKey.SIZE: "Most photos",
    SortKey.SIMILARITY: "Most alike",
}


class FilterPanel(QWidget):
    thresholdChanged = Signal(float)  # settled slider value, as a cosine (0.5 - 0.999)
    automaticRequested = Signal()  # back to the thresholds calibrated for this library
    tiersChanged = Signal(object)  # set[Tier] to show
    sortChanged = Signal(object)  # SortKey

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterPanel")
        title = QLabel("Matching")
        title.setObjectName("sectionTitle")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("similaritySlider")
        self.slider.setRange(SLIDER_MIN, SLIDER_MAX)
        self.slider.setPageStep(10)
        self.slider.setToolTip(
            "Photos at least this alike are grouped. Moving it regroups "
            "at once from what the scan learned; nothing is read again."
        )
        self.value_label = QLabel()
        self.value_label.setObjectName("sliderValue")
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._automatic = True
        self.auto_button = QToolButton()
        self.auto_button.setObjectName("autoThreshold")
        self.auto_button.setText("Auto")
        self.auto_button.setToolTip("Use the similarity calibrated for this library and model")
        self.auto_button.clicked.connect(self._auto_clicked)
        ends = QHBoxLayout()
        loose, strict = QLabel("looser"), QLabel("stricter")
        for label in (loose, strict):
            label.setObjectName("hint")
        ends.addWidget(loose)
        ends.addStretch(1)
        ends.addWidget(strict)
        self.calibration_label = QLabel()
        self.calibration_label.setObjectName("calibrationNote")
        self.calibration_label.setWordWrap(True)
        self.calibration_label.hide()  # until a scan says how its thresholds were chosen
        self._debounce = QTimer(self, singleShot=True, interval=REGROUP_DELAY_MS)
        self._debounce.timeout.connect(self._emit_threshold)
        self.slider.valueChanged.connect(self._slider_moved)

        show = QLabel("Show")
        show.setObjectName("sectionTitle")
        self.tier_buttons: dict[Tier, QToolButton] = {}
        grid = QGridLayout()
        grid.setSpacing(6)
        for n, tier in enumerate(Tier):
            button = QToolButton()
            button.setObjectName(f"tier_{tier.value}")
            button.setProperty("tier", tier.value)
            button.setCheckable(True)
            button.setChecked(True)
            button.setToolTip(text.TIER_HELP[tier])
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.toggled.connect(self._tiers_toggled)
            self.tier_buttons[tier] = button
            grid.addWidget(button, n // 2, n % 2)
        self.set_tier_counts({t: 0 for t in Tier})

        sort = QLabel("Sort groups by")
        sort.setObjectName("sectionTitle")
        self.sort_combo = QComboBox()
        self.sort_combo.setObjectName("sortCombo")
        for key, label in SORT_LABELS.items():
            self.sort_combo.addItem(label, key.value)
        self.sort_combo.currentIndexChanged.connect(self._sort_changed)

        header = QHBoxLayout()
        header.addWidget(title)
        header.addStretch(1)
        header.addWidget(self.value_label)
        header.addWidget(self.auto_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(header)
        layout.addWidget(self.slider)
        layout.addLayout(ends)
        layout.addWidget(self.calibration_label)
        layout.addSpacing(10)
        layout.addWidget(show)
        layout.addLayout(grid)
        layout.addSpacing(10)
        layout.addWidget(sort)
        layout.addWidget(self.sort_combo)
        self.set_threshold(0.80, emit=False)

    # -- values ----------------------------------------------------------------------------------

    def threshold(self) -> float:
        return self.slider.value() / SLIDER_SCALE

    def is_automatic(self) -> bool:
        """True until the user moves the slider: the scan may then calibrate the thresholds."""
        return self._automatic

    def set_automatic(self, automatic: bool) -> None:
        self._automatic = automatic
        self._update_label()

    def set_threshold(self, value: float, *, emit: bool = True) -> None:
        blocked = self.slider.blockSignals(not emit)
        self.slider.setValue(round(min(max(value * SLIDER_SCALE, SLIDER_MIN), SLIDER_MAX)))
        self.slider.blockSignals(blocked)
        self._update_label()

    def set_calibration_note(self, note: str) -> None:
        self.calibration_label.setText(note)
        self.calibration_label.setToolTip(note)
        self.calibration_label.setVisible(bool(note))

    def tiers(self) -> set[Tier]:
        return {t for t, b in self.tier_buttons.items() if b.isChecked()}

    def set_tiers(self, tiers: Iterable[Tier]) -> None:
        wanted = set(tiers)
        for tier, button in self.tier_buttons.items():
            button.setChecked(tier in wanted)

    def set_tier_counts(self, counts: dict[Tier, int]) -> None:
        for tier, button in self.tier_buttons.items():
            button.setText(f"{text.TIER_SHORT[tier]}  {counts.get(tier, 0)}")

    def sort_key(self) -> SortKey:
        return SortKey(self.sort_combo.currentData())

    def set_sort_key(self, key: SortKey | str) -> None:
        index = self.sort_combo.findData(SortKey(key).value)
        if index >= 0:
            self.sort_combo.setCurrentIndex(index)

    # -- signals ---------------------------------------------------------------------------------

    def _slider_moved(self, _value: int) -> None:
        self._automatic = False
        self._update_label()
        self._debounce.start()

    def _auto_clicked(self) -> None:
        self.set_automatic(True)
        self.automaticRequested.emit()

    def _update_label(self) -> None:
        self.value_label.setText(f"\u2265 {self.slider.value() / 10:.1f}% alike")
        self.auto_button.setEnabled(not self._automatic)

    def _emit_threshold(self) -> None:
        self.thresholdChanged.emit(self.threshold())

    def _tiers_toggled(self, _checked: bool) -> None:
        self.tiersChanged.emit(self.tiers())

    def _sort_changed(self, _index: int) -> None:
        self.sortChanged.emit(self.sort_key())
