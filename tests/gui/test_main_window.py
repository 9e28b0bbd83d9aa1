"""The real main window, driven as a user would: folders in, scan, browse, tune, act, undo."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from photofind.core.cleanup.executor import Status
from photofind.core.scan.cache import Cache
from photofind.core.types import Tier
from photofind.gui.controller import regroup_result, thresholds_at
from photofind.gui.group_model import Roles
from photofind.gui.similar_model import SimilarResultsModel
from photofind.gui.text import human_bytes
from tests import imagefactory as factory
from tests.conftest import FakeEmbedder
from tests.gui.conftest import edit_and_wait, scan_and_wait


def shown_groups(window) -> list[tuple[str, frozenset[str]]]:
    """(tier, member paths) of every group row the grid shows."""
    model = window.model
    out = []
    for row in range(model.rowCount()):
        parent = model.index(row, 0)
        paths = frozenset(model.index(k, 0, parent).data(Roles.PATH) for k in range(model.rowCount(parent)))
        out.append((parent.data(Roles.TIER), paths))
    return out


def as_path_sets(groups, records) -> set[frozenset[str]]:
    return {frozenset(records[m.index].path for m in g.members) for g in groups}


def drop_urls(widget, paths: list[str]) -> QDropEvent:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    pos = QPointF(widget.rect().center())
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:
        enter = QDragEnterEvent(pos, *args)  # Qt >= 6.12 takes QPointF
    except TypeError:
        enter = QDragEnterEvent(pos.toPoint(), *args)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(
        pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, drop)
    return drop


def test_scan_of_a_dropped_folder_shows_the_groups(qtbot, window, library):
    drop_urls(window, [str(library["root"])])
    assert window.folders.model.paths() == [str(library["root"])]
    result = scan_and_wait(qtbot, window)

    groups = shown_groups(window)
    assert len(groups) == 3
    assert {paths for _tier, paths in groups} == {frozenset(map(str, g)) for g in library["expected_groups"]}
    assert {tier for tier, _ in groups} <= {t.value for t in Tier}
    assert {tier for tier, paths in groups if str(library["paths"]["B_half"]) in paths} == {"near"}
    assert "3 groups" in window.status_label.text()
    assert window.skipped_button.text() == "5 skipped"
    assert sorted(window.skipped_panel.visible_paths()) == sorted(map(str, library["bad"].values()))
    assert window.filters.tier_buttons[Tier.NEAR].text().endswith(str(sum(t == "near" for t, _ in groups)))
    # The grid lays every photo out in its own cell and loads thumbnails for what it painted.
    window.grid.viewport().repaint()
    qtbot.waitUntil(lambda: window.grid.loader.pending_count() == 0, timeout=20_000)
    assert window.grid.loader.cached_count() >= 4
    assert len(result.records) == 11 and not window.banner.isVisible()


def test_slider_regroups_from_cached_embeddings(qtbot, window, library, fake_embedder):
    window.add_folders([str(library["root"])])
    result = scan_and_wait(qtbot, window)
    embedded = fake_embedder.images_embedded
    before = {paths for _t, paths in shown_groups(window)}
    assert window.filters.is_automatic()

    with qtbot.waitSignal(window.controller.groupsChanged, timeout=30_000):
        window.filters.slider.setValue(995)  # as a drag would
    strict = regroup_result(result, thresholds_at(0.995, window.base_thresholds))
    after = {paths for _t, paths in shown_groups(window)}
    assert after == as_path_sets(strict, result.records)
    assert after != before
    assert fake_embedder.images_embedded == embedded  # nothing was read or embedded again
    assert window.prefs.similarity == pytest.approx(0.995) and not window.filters.is_automatic()
    assert window.scan_settings().thresholds.similar == pytest.approx(0.995)

    with qtbot.waitSignal(window.controller.groupsChanged, timeout=30_000):
        window.filters.auto_button.click()
    assert {paths for _t, paths in shown_groups(window)} == before
    assert window.prefs.similarity is None and window.filters.is_automatic()


def test_the_calibrated_thresholds_and_their_precision_are_shown(qtbot, window, library):
    from dataclasses import replace

    from photofind.core.match.calibrate import Calibration

    window.add_folders([str(library["root"])])
    result = scan_and_wait(qtbot, window)
    note = window.filters.calibration_label
    assert note.isVisible() and "too small" in note.text()  # the fixture library is under MIN_PHOTOS

    cal = Calibration(
        model_id=result.model.id,
        near=0.84,
        similar=0.9,
        target_precision=0.99,
        estimated_precision=0.953,
        near_recall=0.99,
        photos=500,
        derivative_pairs=144,
        distinct_pairs=100_000,
    )
    window.controller.scanFinished.emit(
        replace(result, calibration=cal, settings=replace(result.settings, thresholds=cal.thresholds))
    )  # as a scan of a bigger library ends
    assert "estimated precision 95% (target 99%)" in note.text()
    assert "cannot reach the target" in note.text()
    assert window.filters.threshold() == pytest.approx(0.9)  # the slider follows the calibration

    window.controller.scanFinished.emit(replace(result, settings=replace(result.settings, calibrate=False)))
    assert note.text().startswith("Set by you")  # a scan with the user's own slider value


def test_tier_toggles_and_sort_change_the_grid_only(qtbot, window, library):
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    with qtbot.assertNotEmitted(window.controller.groupsChanged):
        window.filters.tier_buttons[Tier.NEAR].setChecked(False)
    assert window.model.rowCount() == sum(1 for g in window.controller.groups if g.tier != Tier.NEAR)
    assert window.grid.placeholder[0] in ("Nothing to show", "No duplicates found")
    window.filters.tier_buttons[Tier.NEAR].setChecked(True)
    window.filters.set_sort_key("size")
    sizes = [window.model.index(r, 0).data(Roles.COUNT) for r in range(window.model.rowCount())]
    assert sizes == sorted(sizes, reverse=True)
    assert window.prefs.sort_key.value == "size" and Tier.NEAR in window.prefs.tiers


class GatedEmbedder(FakeEmbedder):
    """Holds its third batch until the test says go, so a cancel lands mid-scan."""

    def __init__(self, hold_at_call: int = 3) -> None:
        super().__init__()
        self.hold_at = hold_at_call
        self.reached = threading.Event()
        self.gate = threading.Event()

    def embed(self, batch):
        if self.calls + 1 == self.hold_at:
            self.reached.set()
            self.gate.wait(30)
        return super().embed(batch)


@pytest.fixture
def many_photos(tmp_path: Path) -> Path:
    root = tmp_path / "many"
    for i in range(24):
        factory.save(factory.make_scene(100 + i, (96, 72)), root / f"p{i:02d}.jpg")
    return root


def test_cancel_keeps_finished_work_and_the_next_scan_resumes(qtbot, make_window, many_photos, tmp_path):
    embedder = GatedEmbedder()
    window = make_window(embedder=embedder, batch_size=4)
    window.add_folders([str(many_photos)])
    try:
        assert window.start_scan()
        qtbot.waitUntil(embedder.reached.is_set, timeout=30_000)
        qtbot.waitUntil(lambda: "of 24" in window.progress_label.text(), timeout=10_000)
        assert window.progress_label.text().startswith("Embedding")
        assert window.actions.cancel.isEnabled() and not window.actions.scan.isEnabled()
        with qtbot.waitSignal(window.controller.scanFinished, timeout=30_000) as finished:
            window.actions.cancel.trigger()
            embedder.gate.set()
    finally:
        embedder.gate.set()
    partial = finished.args[0]
    assert partial.cancelled and 8 <= len(partial.records) < 24
    assert "kept" in window.status_label.text()
    with Cache(tmp_path / "cache" / "cache.sqlite3") as cache:
        stored = cache.stats()["embeddings"]
    assert stored == len(partial.records)

    before = embedder.images_embedded
    full = scan_and_wait(qtbot, window)
    assert not full.cancelled and len(full.records) == 24
    assert embedder.images_embedded - before == 24 - stored  # only the unfinished photos


def test_offline_weights_banner_explains_and_offers_both_ways(qtbot, make_window, library, monkeypatch):
    monkeypatch.setenv("PHOTOFIND_NO_DOWNLOAD", "1")
    window = make_window(embedder=None)  # the real resolver: no weights anywhere here
    assert window.banner.isVisible() and "weights" in window.banner.problem  # said at start
    window.add_folders([str(library["root"])])
    result = scan_and_wait(qtbot, window)
    assert result.model is None
    assert window.banner.isVisible()
    reason = window.banner.problem
    assert "weights" in reason and "PHOTOFIND_WEIGHTS" in reason
    # Without the CNN the engine still finds byte and pixel copies, and the grid shows them.
    shown = shown_groups(window)
    assert {paths for _t, paths in shown} == as_path_sets(result.groups, result.records)
    assert any({str(library["paths"]["A"]), str(library["paths"]["A_copy"])} <= paths for _t, paths in shown)

    window.banner.continue_button.click()
    assert window.banner.isVisible() and window.banner.problem == reason  # the reason stays
    assert window.prefs.embed is False
    assert window.scan_settings().embed is False

    missing = str(Path(library["root"]).parent / "nowhere" / "resnet34.pth")
    monkeypatch.setattr(window, "ask_weights_path", lambda: missing)
    with qtbot.waitSignal(window.controller.scanFinished, timeout=60_000):
        window.banner.choose_button.click()
    assert window.prefs.weights == missing and window.prefs.embed is True
    assert "not found" in window.banner.problem and missing in window.banner.problem


def test_offline_the_similar_page_lists_the_photos_pixel_verified_copies(qtbot, make_window, library):
    window = make_window(embedder=None)  # the real resolver: no weights anywhere here
    window.add_folders([str(library["root"])])
    result = scan_and_wait(qtbot, window)
    assert result.model is None
    query = str(library["paths"]["B"])
    group = next(g for g in result.groups if any(result.records[i].path == query for i in g.indices))
    copies = {result.records[i].path for i in group.indices} - {query}
    with qtbot.waitSignal(window.similar.searchFinished, timeout=30_000) as done:
        assert window.review.browse_similar(query)
    assert done.args == [query, len(copies)] and len(copies) == 2
    assert {p for p, *_ in window.similar.results()} == copies
    assert all(relation.startswith("copy") for *_, relation in window.similar.results())
    assert window.similar.status.text() == "2 copies of this photo."  # never "no similar photos"
    with qtbot.waitSignal(window.similar.searchFinished, timeout=30_000):
        window.similar.show_for(str(library["paths"]["D"]))  # a photo without copies
    assert window.similar.results() == []
    assert window.similar.status.text() == "No copies of this photo."


def test_folders_and_view_settings_survive_a_restart(qtbot, make_window, library, qsettings):
    first = make_window(embedder=FakeEmbedder())
    first.add_folders([str(library["root"]), str(library["root"] / "trip")])
    first.folders.model.set_protected(1, True)
    first.filters.set_sort_key("similarity")
    first.close()
    second = make_window(embedder=FakeEmbedder(), settings=qsettings)
    assert second.folders.model.paths() == [str(library["root"]), str(library["root"] / "trip")]
    assert second.folders.model.protected_paths() == [str(library["root"] / "trip")]
    assert second.filters.sort_key().value == "similarity"


def test_protected_folder_photos_are_never_marked(qtbot, window, library):
    window.add_folders([str(library["root"]), str(library["root"] / "web")])
    window.folders.model.set_protected(1, True)
    scan_and_wait(qtbot, window)
    edit_and_wait(qtbot, window, lambda: window.review.mark_by_rule(set(Tier)))
    marked = {window.model.records()[i].path for i in window.model.marked()}
    assert marked and not any(p.startswith(str(library["root"] / "web")) for p in marked)
    b_half = str(library["paths"]["B_half"])
    record = next(i for i, r in enumerate(window.model.records()) if r.path == b_half)
    with qtbot.waitSignal(window.model.markRefused):
        assert not window.model.set_marked(record, True)
    assert "protected" in window.status_label.text()


def test_mark_by_rule_trash_and_undo(qtbot, window, library, monkeypatch):
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    added = edit_and_wait(
        qtbot, window, lambda: window.review.mark_by_rule({Tier.EXACT, Tier.PIXELS, Tier.NEAR})
    )
    marked_paths = sorted(window.model.records()[i].path for i in window.model.marked())
    assert added == len(marked_paths) == 5  # every group keeps one: 8 grouped photos - 3 keepers
    assert window.actions.trash.isEnabled()
    expected_bytes = sum(os.path.getsize(p) for p in marked_paths)
    asked = []
    monkeypatch.setattr(window.review, "confirm", lambda *args, **kw: asked.append(args) or True)
    with qtbot.waitSignal(window.controller.groupsChanged, timeout=30_000):  # the groups without them
        with qtbot.waitSignal(window.controller.trashFinished, timeout=30_000) as done:
            window.actions.trash.trigger()
    (report,) = done.args
    assert asked == [(5, expected_bytes, 3, "trash")]
    assert report.count(Status.DONE) == 5
    assert not any(os.path.exists(p) for p in marked_paths)
    assert window.model.rowCount() == 0 and window.actions.undo.isEnabled()
    # The empty grid says what happened, not "no duplicates found".
    title, body = window.grid.placeholder
    assert title == "All duplicate groups are cleaned up"
    assert body.startswith(f"5 files ({human_bytes(expected_bytes)}) moved to the trash") and "Undo" in body
    with qtbot.waitSignal(window.controller.groupsChanged, timeout=30_000):
        window.filters.slider.setValue(window.filters.slider.value() - 50)  # regroup: trashed stay out
    assert window.model.rowCount() == 0

    with qtbot.waitSignal(window.controller.scanFinished, timeout=60_000):  # undo rescans
        window.actions.undo.trigger()
    assert all(os.path.exists(p) for p in marked_paths)
    assert len(shown_groups(window)) == 3


def test_compare_opens_for_the_current_group_and_writes_back(qtbot, window, library):
    from photofind.gui import compare

    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    model = window.model
    opened = []
    window.grid.compareRequested.connect(opened.append)
    cell = window.grid.visualRect(model.index(1, 0, model.index(0, 0)))
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())  # a real
    qtbot.mouseDClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())  # double-click
    assert opened == [0]  # one double-click, one compare view
    dialog = window.review.compare_dialog
    assert isinstance(dialog, compare.CompareDialog) and dialog.isVisible()
    window.actions.compare.trigger()  # the toolbar opens the current group too
    assert window.review.compare_dialog is not dialog and window.review.compare_dialog.isVisible()
    dialog = window.review.compare_dialog
    group = model.group(0)
    assert dialog.indices == list(group.indices) and dialog.keeper == model.keeper_of(group)
    assert dialog.review is model.review  # one review state for the grid and the dialog
    other = group.indices[1]
    dialog.set_current(other)
    with qtbot.waitSignal(model.dataChanged) as changed:  # the grid repaints the photo
        dialog.toggle_mark()
    assert changed.args[0].parent() == model.index(0, 0)
    assert other in model.marked() and model.index_of_record(other).data(Roles.IS_MARKED)
    dialog.make_keeper()
    assert model.keeper_of(group) == other and other not in model.marked()
    assert model.index_of_record(other).data(Roles.IS_KEEPER)
    # ...and a mark made in the grid shows in the open dialog.
    third = next(i for i in group.indices if i != other)
    assert model.set_marked(third, True)
    assert dialog.marked == {third} and "MARKED" in dialog._captions[dialog.indices.index(third)].text()
    # The rule holds across both views: the last unmarked photo cannot be marked from either.
    for i in group.indices:
        model.set_marked(i, True)
    assert model.keeper_of(group) not in model.marked()
    dialog.set_current(model.keeper_of(group))
    dialog.toggle_mark()
    assert "at least one file must be kept" in dialog.notice.text()
    dialog.close()


def test_browse_similar_lists_the_closest_photos_first(qtbot, window, library):
    window.add_folders([str(library["root"])])
    result = scan_and_wait(qtbot, window)
    query = str(library["paths"]["B"])
    with qtbot.waitSignal(window.similar.searchFinished, timeout=30_000):
        assert window.review.browse_similar(query)
    assert window.tabs.currentWidget() is window.similar
    found = window.similar.results()
    sims = [s for _p, s, *_ in found]
    assert sims == sorted(sims, reverse=True) and query not in [p for p, *_ in found]
    top_two = {p for p, *_ in found[:2]}
    assert top_two == {str(library["paths"]["B_half"]), str(library["paths"]["B_q40"])}
    # Each result says what it is to the query: the two copies say so, and how they were made.
    relations = [window.similar.model.index(k, 0).data(SimilarResultsModel.RelationRole) for k in range(2)]
    assert all(r.startswith("copy: ") and len(r) > len("copy: ") for r in relations)
    assert [r for *_, r in found[:2]] == relations
    index = {r.path: i for i, r in enumerate(result.records)}
    # Compare from the panel opens the side-by-side view of the group the two share.
    with qtbot.waitSignal(window.similar.compareRequested):
        action(window.similar.result_menu(found[0][0]), "Compare with the searched photo").trigger()
    dialog = window.review.compare_dialog
    assert dialog is not None and dialog.isVisible()
    group = window.model.group_of_record(index[query])
    assert dialog.group_id == group.id
    dialog.close()
    # A photo outside the query's group: the two side by side, the searched photo kept.
    other = next(p for p, *_ in found if window.model.group_of_record(index[p]) is not group)
    action(window.similar.result_menu(other), "Compare with the searched photo").trigger()
    dialog = window.review.compare_dialog
    assert dialog is not None and dialog.indices == [index[query], index[other]]
    assert dialog.keeper == index[query] and dialog.group_id < 0  # a pair, not an engine group
    dialog.close()
    e = result.embeddings
    assert sims[0] == pytest.approx(float(e[index[query]] @ e[index[found[0][0]]]), abs=1e-5)


def action(menu, label: str):
    return next(a for a in menu.actions() if a.text() == label)


def test_the_library_lists_every_photo_and_a_click_shows_photos_like_it(qtbot, window, library):
    window.add_folders([str(library["root"])])
    result = scan_and_wait(qtbot, window)
    lib = window.library
    window.tabs.setCurrentWidget(lib)
    qtbot.waitExposed(lib.grid)
    listed = [
        lib.model.index(k, 0, lib.model.index(s, 0)).data(Roles.PATH)
        for s in range(lib.model.rowCount())
        for k in range(lib.model.rowCount(lib.model.index(s, 0)))
    ]
    assert sorted(listed) == sorted(r.path for r in result.records)
    query = str(library["paths"]["B"])
    # Sections are titled from the scanned folder; the full path is the tooltip.
    section = next(s for s in range(lib.model.rowCount()) if lib.model.index(s, 0).data() == "photos/trip")
    assert lib.model.index(section, 0).data(Qt.ItemDataRole.ToolTipRole) == os.path.dirname(query)
    row = next(
        k
        for k in range(lib.model.rowCount(lib.model.index(section, 0)))
        if lib.model.index(k, 0, lib.model.index(section, 0)).data(Roles.PATH) == query
    )
    photo = lib.model.index(row, 0, lib.model.index(section, 0))
    lib.grid.scrollTo(photo)
    with qtbot.waitSignal(window.similar.searchFinished, timeout=30_000) as done:
        qtbot.mouseClick(
            lib.grid.viewport(), Qt.MouseButton.LeftButton, pos=lib.grid.visualRect(photo).center()
        )
    assert done.args[0] == query and window.tabs.currentWidget() is window.similar
    assert {p for p, *_ in window.similar.results()[:2]} == {
        str(library["paths"]["B_half"]),
        str(library["paths"]["B_q40"]),
    }


def test_main_opens_the_window_with_the_given_folders(qtbot, monkeypatch, library, tmp_path):
    from PySide6.QtWidgets import QApplication

    from photofind.commands.gui import run
    from photofind.gui.main_window import MainWindow

    seen = {}

    def fake_exec(app):
        window = next(
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        )
        seen["folders"] = window.folders.model.paths()
        seen["icon"] = not window.windowIcon().isNull()
        seen["style"] = "QToolBar" in app.styleSheet()
        window.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    warm_ups = []
    monkeypatch.setattr("photofind.gui.workers.warm_up_engine", lambda: warm_ups.append(1))
    assert run(argparse.Namespace(paths=[str(library["root"]), str(tmp_path / "not-there")])) == 0
    assert seen == {"folders": [str(library["root"])], "icon": True, "style": True}
    qtbot.waitUntil(lambda: warm_ups == [1])  # torch is loaded while the app is idle


def test_unexpected_errors_are_shown_not_swallowed(qtbot, monkeypatch, capsys):
    from PySide6.QtWidgets import QMessageBox

    from photofind.gui.app import ErrorReporter

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.text(), box.detailedText())) or 0)
    reporter = ErrorReporter()
    try:
        raise ValueError("bad thing")
    except ValueError as exc:
        reporter(type(exc), exc, exc.__traceback__)
    assert shown and "bad thing" in shown[0][0] and "Traceback" in shown[0][1]
    assert "ValueError: bad thing" in capsys.readouterr().err


def test_keeper_rule_picks_original_names_and_is_remembered(qtbot, window, library):
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    model = window.model
    a_group = model.group_of_record(
        next(i for i, r in enumerate(model.records()) if r.path == str(library["paths"]["A_copy"]))
    )
    edit_and_wait(
        qtbot,
        window,
        lambda: window.review.keep_by_rule("unedited,resolution,format,size,oldest,mtime,shortest"),
    )
    kept = model.records()[model.keeper_of(a_group)].path
    assert "copy" not in os.path.basename(kept)
    edit_and_wait(
        qtbot, window, lambda: window.review.keep_by_rule("shortest")
    )  # one link: the shortest path wins
    assert model.records()[model.keeper_of(a_group)].path == min(
        (model.records()[i].path for i in a_group.indices), key=lambda p: (len(p), p)
    )
    assert window.prefs.keep_rules == "shortest" and window.scan_settings().keep_rules == "shortest"


def test_a_keep_all_decision_hides_the_group_now_and_after_a_rescan(qtbot, window, library):
    window.add_folders([str(library["root"])])
    scan_and_wait(qtbot, window)
    b_path = str(library["paths"]["B"])
    row = next(
        r
        for r in range(window.model.rowCount())
        if b_path in {window.model.records()[i].path for i in window.model.group(r).indices}
    )
    with qtbot.waitSignal(window.controller.groupsChanged):
        window.review.remember(row, "keep-all")
    remaining = [paths for _t, paths in shown_groups(window)]
    assert len(remaining) == 2 and not any(b_path in paths for paths in remaining)
    scan_and_wait(qtbot, window)
    assert {paths for _t, paths in shown_groups(window)} == set(remaining)


def test_a_live_photo_is_trashed_with_its_video_and_its_date_carried_to_the_keeper(
    qtbot, window, tmp_path, monkeypatch
):
    from PIL import Image

    root = tmp_path / "phone"
    scene = factory.make_scene(11, (480, 360))
    factory.save(scene, root / "A" / "IMG_1.jpg")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2021:06:05 14:03:09"  # only the smaller copy knows the date
    (root / "B").mkdir(parents=True)
    scene.resize((240, 180)).save(root / "B" / "IMG_1.jpg", quality=90, exif=exif.tobytes())
    for folder in ("A", "B"):
        (root / folder / "IMG_1.MOV").write_bytes(b"\x00\x00\x00\x14ftypqt  the same video")
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    window.add_folders([str(root)])
    scan_and_wait(qtbot, window)
    [group] = window.model.groups()
    keeper = window.model.index(0, 0, window.model.index(0, 0))
    assert keeper.data(Roles.UNIT) == ("LIVE",) and keeper.data(Roles.PATH) == str(root / "A" / "IMG_1.jpg")
    edit_and_wait(qtbot, window, lambda: window.review.mark_by_rule({Tier.EXACT, Tier.PIXELS, Tier.NEAR}))

    asked = []

    def confirm_with_carry(*args, companions=0):
        asked.append(companions)
        window.review.carry_metadata = True  # the user ticks the box in the confirmation
        return True

    monkeypatch.setattr(window.review, "confirm", confirm_with_carry)
    with qtbot.waitSignal(window.controller.trashFinished, timeout=30_000) as done:
        window.actions.trash.trigger()
    (report,) = done.args
    assert asked == [1]  # the confirmation was told of the video that goes along
    assert report.count(Status.DONE) == 2  # the photo and its video
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "A/IMG_1.MOV",
        "A/IMG_1.jpg",
        "A/IMG_1.jpg.xmp",
    ]
    assert "2021-06-05T14:03:09" in (root / "A" / "IMG_1.jpg.xmp").read_text(encoding="utf-8")
    with qtbot.waitSignal(window.controller.scanFinished, timeout=60_000):  # undo rescans
        window.actions.undo.trigger()
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


def test_a_regroup_keeps_the_raw_of_a_shot_out_of_the_groups(tmp_path, cache_path, fake_embedder):
    pytest.importorskip("rawpy")
    from photofind.core.pipeline import scan
    from photofind.core.types import ScanSettings
    from tests.rawfactory import save_dng

    scene = factory.make_scene(7, (160, 120))
    save_dng(scene, tmp_path / "lib" / "DSC_0007.DNG")
    factory.save(scene, tmp_path / "lib" / "DSC_0007.JPG", quality=95)
    factory.save(scene, tmp_path / "lib" / "copy" / "DSC_0007.JPG", quality=95)
    settings = ScanSettings(roots=(str(tmp_path / "lib"),), cache_path=str(cache_path), calibrate=False)
    result = scan(settings, embedder=fake_embedder, workers=1)
    regrouped = regroup_result(result, result.settings.thresholds)
    for groups in (result.groups, regrouped):  # the shot's RAW travels with its JPEG, in no group
        [group] = groups
        assert {os.path.basename(os.path.dirname(result.records[i].path)) for i in group.indices} == {
            "lib",
            "copy",
        }
        assert all(not result.records[i].path.endswith(".DNG") for i in group.indices)
