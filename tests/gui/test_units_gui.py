"""The app shows capture units: a badge on the card (LIVE, RAW+JPEG, XMP) and the list in compare."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from photofind.core.scan.companions import Companion, Kind
from photofind.core.types import Tier
from photofind.gui.group_model import GroupModel, Roles
from tests.gui.test_compare import _cells, _dialog, records  # noqa: F401 - the fixture is used by name
from tests.gui.test_models import grid, make_group, make_records  # noqa: F401 - the fixture is used by name


def _unit_model() -> tuple[GroupModel, dict]:
    records = make_records(3)
    live = {
        records[0].path: (
            Companion(records[0].path[:-4] + ".MOV", Kind.LIVE),
            Companion(records[0].path + ".xmp", Kind.XMP),
            Companion(records[0].path[:-4] + ".xmp", Kind.XMP),
        ),
        records[1].path: (Companion(records[1].path[:-4] + ".NEF", Kind.RAW),),
    }
    model = GroupModel()
    model.set_groups(records, (make_group(1, Tier.NEAR, [0, 1, 2], [1.0, 0.97, 0.95]),), live)
    return model, live


def test_the_model_gives_each_photo_its_unit_badges_once(qtbot):
    model, live = _unit_model()
    group = model.index(0, 0)
    badges = [model.index(k, 0, group).data(Roles.UNIT) for k in range(3)]
    assert badges == [("LIVE", "XMP"), ("RAW+JPEG",), ()]
    assert model.companions_of(0) == live[model.records()[0].path]


def test_the_card_paints_the_unit_badge(qtbot, grid, monkeypatch):
    model, _ = _unit_model()
    delegate = grid.itemDelegate()
    labels: list[str] = []
    original = delegate._pill
    monkeypatch.setattr(delegate, "_pill", lambda p, at, label, *rest: (labels.append(label), original(p, at, label, *rest))[1])
    grid.setModel(model)
    grid.viewport().repaint()
    QApplication.processEvents()
    assert "LIVE \u00b7 XMP" in labels and "RAW+JPEG" in labels


def test_compare_lists_what_travels_with_each_photo_and_flags_a_missing_video(qtbot, records):  # noqa: F811
    companions = {1: (Companion(records[1].path[:-4] + ".MOV", Kind.LIVE),)}
    dialog = _dialog(qtbot, records, companions=companions)
    assert _cells(dialog, "Travels with") == [("—", False), ("a_small.MOV (LIVE)", True), ("—", False)]
    plain = _dialog(qtbot, records)
    tables = [plain.table.verticalHeaderItem(r).text() for r in range(plain.table.rowCount())]
    assert "Travels with" not in tables
