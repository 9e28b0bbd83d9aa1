"""The thin Qt models (groups, folders), the virtualised grid over them, and the thumbnail loader."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt
from PySide6.QtWidgets import QApplication

from photofind.core.cleanup import edits
from photofind.core.cleanup.keep import parse_rules
from photofind.core.scan.companions import Companion, Kind
from photofind.core.types import FileRef, Group, ImageFacts, ImageRecord, Member, Tier
from photofind.gui.folders import PATH_ROLE, PROTECTED_ROLE, FolderModel
from photofind.gui.group_model import GroupModel, Roles, SortKey
from photofind.gui.thumbnails import ThumbnailLoader, read_thumbnail
from tests import imagefactory as factory


def make_records(n: int, root: str = "/photos") -> tuple[ImageRecord, ...]:
    return tuple(
        ImageRecord(
            file=FileRef(f"{root}/{'sub/' if i % 2 else ''}p{i:05d}.jpg", size=1000 * (i + 1), mtime_ns=i),
            content_hash=f"h{i}",
            facts=ImageFacts(640 + i, 480, "JPEG", taken=f"2021-07-0{1 + i % 9}T10:00:00", camera="Cam X"),
        )
        for i in range(n)
    )


def make_group(gid: int, tier: Tier, indices: list[int], sims: list[float]) -> Group:
    members = tuple(Member(i, s) for i, s in zip(indices, sims))
    rest = [s for s in sims[1:]]
    return Group(gid, tier, members, min(rest), sum(rest) / len(rest), ("resized",))


def row_of(model: GroupModel, group_id: int) -> int:
    return next(r for r in range(model.rowCount()) if model.group(r).id == group_id)


@pytest.fixture
def populated() -> GroupModel:
    records = make_records(9)
    groups = (
        make_group(1, Tier.EXACT, [0, 1], [1.0, 1.0]),
        make_group(2, Tier.NEAR, [2, 3, 4, 5], [1.0, 0.97, 0.95, 0.93]),
        make_group(3, Tier.SIMILAR, [6, 7, 8], [1.0, 0.85, 0.82]),
    )
    model = GroupModel()
    model.set_groups(records, groups)
    return model


def test_group_model_passes_qt_modeltester(qtmodeltester, populated):
    qtmodeltester.check(populated, force_py=True)
    populated.set_tier_filter({Tier.NEAR})
    populated.set_sort(SortKey.SIZE)
    qtmodeltester.check(populated, force_py=True)


def test_an_edit_of_every_group_is_one_layout_change(qtmodeltester, qtbot, populated):
    qtmodeltester.check(populated, force_py=True)  # it stays connected: it checks the change too
    with qtbot.assertNotEmitted(populated.dataChanged), qtbot.waitSignal(populated.layoutChanged):
        assert populated.apply(edits.mark_by_rule(set(Tier), populated.shown_group_ids())) == 6
    assert populated.marked() == {1, 3, 4, 5, 7, 8}
    near = populated.index(row_of(populated, 2), 0)
    assert near.data(Roles.MARKED_COUNT) == 3 and near.data(Roles.RECLAIMABLE) == 4000 + 5000 + 6000
    assert [populated.index(k, 0, near).data(Roles.IS_MARKED) for k in range(4)] == [False, True, True, True]


def test_folder_model_passes_qt_modeltester(qtmodeltester, tmp_path):
    model = FolderModel()
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        model.add(str(tmp_path / name))
    model.set_protected(1, True)
    qtmodeltester.check(model, force_py=True)


def test_roles_are_named_and_carry_engine_values(populated):
    names = populated.roleNames()
    assert names[Roles.RECLAIMABLE] == b"reclaimable" and names[Roles.IS_MARKED] == b"is_marked"
    near = populated.index(row_of(populated, 2), 0)
    assert near.data(Roles.KIND) == "group" and near.data(Roles.TIER) == "near"
    assert near.data(Roles.COUNT) == 4
    assert near.data(Roles.RECLAIMABLE) == 4000 + 5000 + 6000
    photo = populated.index(1, 0, near)
    assert photo.data(Roles.PATH) == "/photos/sub/p00003.jpg"
    assert photo.data(Roles.SIMILARITY) == pytest.approx(0.97)
    assert (photo.data(Roles.WIDTH), photo.data(Roles.HEIGHT), photo.data(Roles.FORMAT)) == (643, 480, "JPEG")
    assert photo.data(Roles.IS_KEEPER) is False and populated.index(0, 0, near).data(Roles.IS_KEEPER) is True


def test_filter_and_sort_change_the_rows(populated):
    assert [populated.group(r).id for r in range(populated.rowCount())] == [3, 2, 1]  # bytes to free
    populated.set_sort(SortKey.SIMILARITY)
    assert [populated.group(r).id for r in range(populated.rowCount())] == [1, 2, 3]
    populated.set_sort(SortKey.SIZE)
    assert [populated.group(r).id for r in range(populated.rowCount())] == [2, 3, 1]
    populated.set_tier_filter({Tier.EXACT, Tier.SIMILAR})
    assert [populated.group(r).id for r in range(populated.rowCount())] == [3, 1]
    assert populated.tier_counts() == {Tier.EXACT: 1, Tier.PIXELS: 0, Tier.NEAR: 1, Tier.SIMILAR: 1}


def test_a_group_never_loses_its_last_unmarked_photo(qtbot, populated):
    assert populated.set_marked(0, True)  # marking the keeper hands the role to the copy
    assert populated.keeper_of(populated.group_of_record(0)) == 1
    with qtbot.waitSignal(populated.markRefused) as refused:
        assert not populated.set_marked(1, True)
    assert "at least one" in refused.args[0]
    assert populated.marked() == {0}


def test_protected_photos_are_never_marked(populated):
    populated.apply(edits.protect(["/photos/sub"]))
    assert not populated.set_marked(3, True)  # /photos/sub/p00003.jpg
    assert populated.set_marked(4, True)
    # A protected copy wins the keeper (as in the CLI): 5 is kept, 2 may go, 3 stays unmarked.
    assert populated.keeper_of(populated.group_of_record(2)) == 5
    assert populated.apply(edits.mark_by_rule({Tier.NEAR}, populated.shown_group_ids())) == 1
    assert populated.marked() == {2, 4}
    assert populated.index(row_of(populated, 2), 0).data(Roles.RECLAIMABLE) == 3000 + 4000 + 5000


def test_mark_rule_keeps_the_keeper_and_keeper_change_unmarks(populated):
    assert populated.apply(edits.mark_by_rule({Tier.EXACT, Tier.NEAR}, populated.shown_group_ids())) == 4
    assert populated.marked() == {1, 3, 4, 5}
    assert populated.review.bytes == 2000 + 4000 + 5000 + 6000
    assert populated.set_keeper(4)
    assert 4 not in populated.marked() and populated.keeper_of(populated.group_of_record(4)) == 4
    assert populated.index(row_of(populated, 2), 0).data(Roles.RECLAIMABLE) == 3000 + 4000 + 6000


def test_the_keeper_after_a_marked_keeper_follows_the_chosen_rule_chain(populated):
    near = populated.group_of_record(2)
    assert populated.set_marked(2, True)
    assert populated.keeper_of(near) == 5  # default chain: the highest resolution
    populated.apply(edits.use_rules(parse_rules("oldest,shortest")))
    assert populated.keeper_of(near) == 3  # the oldest photo still unmarked
    assert populated.index_of_record(3).data(Roles.IS_KEEPER) is True


def test_marking_signals_only_the_touched_group(qtbot, populated):
    changed: list[tuple[QModelIndex, QModelIndex]] = []
    populated.dataChanged.connect(lambda a, b, roles: changed.append((a, b)))
    with qtbot.assertNotEmitted(populated.modelReset):
        populated.set_marked(7, True)
    rows = {(a.parent().row(), a.row(), b.row()) for a, b in changed}
    similar_row = row_of(populated, 3)
    assert rows == {(similar_row, 0, 2), (-1, similar_row, similar_row)}
    assert populated.index(similar_row, 0).data(Roles.MARKED_COUNT) == 1


def test_regroup_of_the_same_library_keeps_marks(populated):
    populated.set_marked(3, True)
    records = populated.records()
    populated.set_groups(records, (make_group(9, Tier.NEAR, [2, 3], [1.0, 0.97]),))
    assert populated.marked() == {3}
    populated.set_groups(make_records(9, "/elsewhere"), populated.groups())
    assert populated.marked() == frozenset()


def test_folder_model_adds_real_folders_once_and_round_trips(tmp_path):
    (tmp_path / "a").mkdir()
    model = FolderModel()
    assert model.add(str(tmp_path / "a"))
    assert not model.add(str(tmp_path / "a" / ".." / "a"))  # same folder, other spelling
    assert not model.add(str(tmp_path / "missing"))
    assert not model.add(str(factory.save(factory.make_scene(1, (32, 32)), tmp_path / "x.jpg")))
    model.setData(model.index(0), True, PROTECTED_ROLE)
    restored = FolderModel()
    restored.load_json(model.to_json())
    assert restored.index(0).data(PATH_ROLE) == str(tmp_path / "a")
    assert restored.protected_paths() == [str(tmp_path / "a")]
    restored.load_json("{not json")
    assert restored.rowCount() == 0


# -- the grid view -------------------------------------------------------------------------------


@pytest.fixture
def grid(qtbot):
    from photofind.gui.app import create_application
    from photofind.gui.grid_view import GroupGridView

    create_application()
    view = GroupGridView()
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show()
    yield view
    view.loader.wait_idle(5000)


def test_grid_hit_testing_round_trips_every_visible_cell(grid, populated):
    grid.setModel(populated)
    assert grid.columns() >= 3
    seen = []
    for row in range(populated.rowCount()):
        parent = populated.index(row, 0)
        for k in range(populated.rowCount(parent)):
            index = populated.index(k, 0, parent)
            rect = grid.visualRect(index)
            if grid.viewport().rect().contains(rect.center()):
                assert grid.indexAt(rect.center()) == index
                assert all(not rect.intersects(other) for other in seen)
                seen.append(rect)
    assert len(seen) >= 4


def test_grid_paints_and_loads_only_visible_cells(qtbot, grid, tmp_path):
    """2,000 groups of 3: a frame paints a screenful, and only those cells ask for thumbnails."""
    records = make_records(6000, str(tmp_path))
    groups = tuple(
        make_group(g + 1, Tier.NEAR, [3 * g, 3 * g + 1, 3 * g + 2], [1.0, 0.95, 0.94]) for g in range(2000)
    )
    model = GroupModel()
    model.set_groups(records, groups)
    grid.setModel(model)
    painted: list[str] = []
    delegate = grid.itemDelegate()
    original = delegate.paint
    delegate.paint = lambda p, o, i: (painted.append(i.data(Roles.KIND)), original(p, o, i))
    grid.viewport().repaint()
    photos = painted.count("photo")
    assert 0 < photos <= 3 * 6  # a few rows of at most 3-4 columns, never thousands
    assert photos == grid.loader.pending_count() + grid.loader.cached_count()
    painted.clear()
    grid.verticalScrollBar().setValue(grid.verticalScrollBar().maximum())
    grid.viewport().repaint()
    last = model.index(model.rowCount() - 1, 0)
    assert grid.viewport().rect().intersects(grid.visualRect(model.index(2, 0, last)))
    assert 0 < painted.count("photo") <= 3 * 6


def test_the_placeholder_repaints_only_an_empty_grid_and_only_when_it_changes(grid, monkeypatch, tmp_path):
    # The window sets it on every change of folders or marks: a full repaint each time would
    # cost ~10 ms of the GUI thread at any library size.
    repaints: list[tuple] = []
    monkeypatch.setattr(grid.viewport(), "update", lambda *area: repaints.append(area))
    model = GroupModel()
    grid.setModel(model)
    repaints.clear()
    grid.set_placeholder("Nothing here", "Scan first.")
    grid.set_placeholder("Nothing here", "Scan first.")  # the same words: nothing to repaint
    assert len(repaints) == 1
    model.set_groups(make_records(3, str(tmp_path)), (make_group(1, Tier.NEAR, [0, 1, 2], [1.0, 0.9, 0.9]),))
    repaints.clear()
    grid.set_placeholder("Nothing to show", "All groups are hidden.")  # not shown while groups are
    assert repaints == [] and grid.placeholder == ("Nothing to show", "All groups are hidden.")


def test_a_hidden_grid_stops_the_thumbnail_loads_it_no_longer_needs(qtbot, tmp_path, monkeypatch):
    """Another page is shown: its queued loads are dropped, so they take no core from it."""
    import threading

    from PySide6.QtGui import QImage

    from photofind.gui import thumbnails
    from photofind.gui.app import create_application
    from photofind.gui.grid_view import GroupGridView

    release = threading.Event()
    monkeypatch.setattr(thumbnails, "read_thumbnail", lambda _path, _box: (release.wait(10), QImage())[1])
    create_application()
    grid = GroupGridView(ThumbnailLoader(threads=1))
    qtbot.addWidget(grid)
    grid.resize(900, 700)
    grid.show()
    qtbot.waitExposed(grid)
    model = GroupModel()
    model.set_groups(
        make_records(600, str(tmp_path)),
        tuple(
            make_group(g + 1, Tier.NEAR, [3 * g, 3 * g + 1, 3 * g + 2], [1.0, 0.9, 0.9]) for g in range(200)
        ),
    )
    grid.setModel(model)
    QApplication.processEvents()  # the layout the model change asked for
    grid.viewport().repaint()
    assert grid.loader.pending_count() > 2  # one decoding (held), the rest queued
    grid.hide()
    assert grid.loader.pending_count() <= 1  # only the one already started
    release.set()
    qtbot.waitUntil(lambda: grid.loader.pending_count() == 0, timeout=10_000)


def test_an_arriving_thumbnail_repaints_only_its_cell(qtbot, grid, tmp_path):
    paths = [factory.save(factory.make_scene(i, (120, 90)), tmp_path / f"{i}.jpg") for i in range(12)]
    records = tuple(
        ImageRecord(FileRef(str(p), p.stat().st_size, 0), f"h{i}", ImageFacts(120, 90, "JPEG"))
        for i, p in enumerate(paths)
    )
    model = GroupModel()
    model.set_groups(
        records,
        tuple(make_group(g + 1, Tier.NEAR, [3 * g, 3 * g + 1, 3 * g + 2], [1.0, 0.9, 0.9]) for g in range(4)),
    )
    announced: list[str] = []
    grid.loader.thumbnailsReady.connect(announced.extend)
    grid.setModel(model)
    grid.viewport().repaint()
    qtbot.waitUntil(
        lambda: grid.loader.pending_count() == 0 and len(announced) == grid.loader.cached_count(),
        timeout=10_000,
    )
    QApplication.processEvents()  # let the repaints those announcements asked for happen
    painted: list[str | None] = []
    delegate = grid.itemDelegate()
    original = delegate.paint
    delegate.paint = lambda p, o, i: (painted.append(i.data(Roles.PATH)), original(p, o, i))
    arrived = model.index(1, 0, model.index(0, 0)).data(Roles.PATH)
    grid.loader.thumbnailsReady.emit([arrived])
    qtbot.waitUntil(lambda: bool(painted), timeout=5_000)
    assert painted == [arrived]  # not the headers, not the other cells


def test_grid_keyboard_moves_across_groups_and_marks(qtbot, grid, populated):
    grid.setModel(populated)
    grid.setFocus()
    populated.set_sort(SortKey.SIZE)  # the 4-photo group first
    first_group = populated.index(0, 0)
    grid.setCurrentIndex(populated.index(3, 0, first_group))
    qtbot.keyClick(grid.viewport(), Qt.Key.Key_Right)
    assert grid.currentIndex().parent().row() == 1 and grid.currentIndex().row() == 0
    qtbot.keyClick(grid.viewport(), Qt.Key.Key_Left)
    assert grid.currentIndex() == populated.index(3, 0, first_group)
    record = populated.record_index(grid.currentIndex())
    grid.selectionModel().clearSelection()
    qtbot.keyClick(grid.viewport(), Qt.Key.Key_Space)
    assert record in populated.marked()
    qtbot.keyClick(grid.viewport(), Qt.Key.Key_K)
    assert record not in populated.marked() and populated.keeper_of(populated.group(0)) == record


def test_clicking_the_round_toggle_marks_a_photo(qtbot, grid, populated):
    grid.setModel(populated)
    index = populated.index(1, 0, populated.index(0, 0))
    toggle = grid.itemDelegate().toggle_rect(grid.visualRect(index))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=toggle.center())
    assert populated.record_index(index) in populated.marked()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=toggle.center())
    assert populated.marked() == frozenset()


# -- thumbnails ------------------------------------------------------------------------------------


def test_thumbnails_are_upright_and_scaled(tmp_path):
    scene = factory.make_scene(3, (480, 360))
    rotated = factory.exif_rotated_copy(scene, tmp_path / "rot.jpg")  # stored 360x480, shown 480x360
    image = read_thumbnail(str(rotated), 120)
    assert (image.width(), image.height()) == (120, 90)
    reference = scene.resize((120, 90))
    ref_pixel = reference.getpixel((30, 20))
    got = image.pixelColor(30, 20)
    assert sum(abs(a - b) for a, b in zip(ref_pixel, (got.red(), got.green(), got.blue()))) < 90


def test_thumbnail_falls_back_to_pillow_for_heic(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    path = tmp_path / "phone.heic"
    Image.new("RGB", (400, 200), (200, 30, 30)).save(path)
    image = read_thumbnail(str(path), 100)
    assert (image.width(), image.height()) == (100, 50)
    assert image.pixelColor(50, 25).red() > 150
    assert read_thumbnail(str(tmp_path / "missing.jpg"), 100).isNull()


def test_loader_caches_within_budget_and_drops_stale_generations(qtbot, tmp_path):
    paths = [str(factory.save(factory.make_scene(i, (200, 150)), tmp_path / f"{i}.jpg")) for i in range(6)]
    loader = ThumbnailLoader(box=100, budget_bytes=3 * 100 * 75 * 4)
    assert loader.get(paths[0]) is None
    with qtbot.waitSignal(loader.thumbnailsReady, timeout=10_000):
        pass
    pixmap = loader.get(paths[0])
    assert pixmap is not None and pixmap.size() == QSize(100, 75)
    for p in paths[1:]:
        loader.get(p)
    qtbot.waitUntil(lambda: loader.pending_count() == 0, timeout=10_000)
    assert loader.cached_count() == 3  # the budget holds three thumbnails; the oldest went
    loader.get(paths[0])  # evicted: asks again
    loader.reset()
    assert loader.wait_idle(10_000)
    QApplication.processEvents()  # deliver the stale load's queued result, which must be dropped
    assert loader.cached_count() == 0
    assert loader.get(paths[1]) is None


def test_point_outside_cells_hits_nothing(grid, populated):
    grid.setModel(populated)
    assert not grid.indexAt(QPoint(2, 2)).isValid()


# -- capture units: the badge on the card ---------------------------------------------------------


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
    monkeypatch.setattr(
        delegate,
        "_pill",
        lambda p, at, label, *rest: (labels.append(label), original(p, at, label, *rest))[1],
    )
    grid.setModel(model)
    grid.viewport().repaint()
    QApplication.processEvents()
    assert "LIVE \u00b7 XMP" in labels and "RAW+JPEG" in labels


def test_thumbnails_of_ten_bit_and_sideways_heic_and_of_raw_are_upright(tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")
    pytest.importorskip("rawpy")
    from tests.rawfactory import save_dng

    scene = factory.make_scene(5, (400, 200))
    exif = Image.Exif()
    exif[274] = 6  # stored sideways, shown upright
    sideways = tmp_path / "sideways.heic"
    scene.transpose(Image.Transpose.ROTATE_90).save(sideways, quality=90, exif=exif.tobytes())
    deep = tmp_path / "deep.heic"
    data = (np.asarray(scene, np.uint16) * 257).tobytes()
    pillow_heif.from_bytes(mode="RGB;16", size=scene.size, data=data).save(deep, quality=90)
    raw = save_dng(scene, tmp_path / "shot.dng")
    reference = scene.resize((100, 50))
    for path in (sideways, deep, raw):
        image = read_thumbnail(str(path), 100)
        assert (image.width(), image.height()) == (100, 50), path
        got = image.pixelColor(20, 10)
        want = reference.getpixel((20, 10))
        assert sum(abs(a - b) for a, b in zip(want, (got.red(), got.green(), got.blue()))) < 90, path
