"""The GUI's side of big libraries: the similar index kept between queries, the grid's
vectorised layout, and the model's cached group sizes staying true as the review changes."""

from __future__ import annotations

import numpy as np
import pytest

from photofind.core.match import similar
from photofind.core.types import ScanResult, ScanSettings, Thresholds, Tier
from photofind.gui.group_model import GroupModel, Roles
from photofind.gui.similar_search import SimilarSearch
from tests.gui.test_models import make_group, make_records


def scan_result(records, embeddings) -> ScanResult:
    return ScanResult(
        settings=ScanSettings(roots=("/photos",), thresholds=Thresholds(near=0.9, similar=0.8)),
        records=records,
        skipped=(),
        groups=(),
        model=None,
        embeddings=embeddings,
    )


def test_similar_search_keeps_one_index_per_scan_result(monkeypatch, tmp_path):
    records = make_records(6)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 8)).astype(np.float32)
    x[1] = x[0] + 0.01
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    built = []
    real = similar.SimilarIndex.for_result
    monkeypatch.setattr(
        similar.SimilarIndex,
        "for_result",
        classmethod(lambda cls, r, cache=None: built.append(r) or real(r, cache)),
    )
    search = SimilarSearch(str(tmp_path / "cache.sqlite3"))
    first = scan_result(records, x)
    for _ in range(3):
        assert search.search(first, records[0].path, 2)[0][0] == records[1].path
    assert built == [first]  # one index, kept between the queries
    second = scan_result(records, x[::-1].copy())
    assert search.search(second, records[5].path, 1)[0][0] == records[4].path
    assert built == [first, second]  # a new scan result gets its own


def test_grid_layout_puts_each_group_below_the_last_row_of_the_one_before(qtbot):
    from photofind.gui.app import create_application
    from photofind.gui.grid_view import GROUP_GAP, MARGIN, SPACING, GroupGridView

    create_application()
    records = make_records(60)
    sizes = [2, 7, 3, 11, 5, 2, 9, 4, 6, 11]
    groups, start = [], 0
    for gid, size in enumerate(sizes, 1):
        groups.append(
            make_group(gid, Tier.NEAR, list(range(start, start + size)), [1.0] + [0.95] * (size - 1))
        )
        start += size
    model = GroupModel()
    model.set_groups(records, groups)
    view = GroupGridView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show()
    view.setModel(model)
    cols, cell = view.columns(), view.cell
    assert model.member_counts() == [len(model.group(r).members) for r in range(model.rowCount())]
    for row in range(1, model.rowCount()):
        previous = model.index(row - 1, 0)
        last = view.visualRect(model.index(model.rowCount(previous) - 1, 0, previous))
        header = view.visualRect(model.index(row, 0))
        assert header.top() == last.top() + cell.height() + SPACING + GROUP_GAP
    rows_last = -(-model.member_counts()[-1] // cols)
    content = view._tops[-1] + view.metrics.header + rows_last * (cell.height() + SPACING) + MARGIN
    assert view.verticalScrollBar().maximum() == content - view.viewport().height()


@pytest.mark.parametrize("action", ["keeper", "mark"])
def test_reclaimable_follows_the_review_after_it_was_cached(action):
    records = make_records(4)  # sizes 1000, 2000, 3000, 4000
    model = GroupModel()
    model.set_groups(records, [make_group(1, Tier.NEAR, [0, 1, 2], [1.0, 0.95, 0.93])])
    group = model.index(0, 0)
    assert group.data(Roles.RECLAIMABLE) == 2000 + 3000
    if action == "keeper":
        model.set_keeper(2)
        assert group.data(Roles.RECLAIMABLE) == 1000 + 2000
    else:
        model.set_marked(0, True)  # the keeper marked: the keeper rules pick another to keep
        keep = model.keeper_of(model.group(0))
        assert keep in (1, 2)
        assert group.data(Roles.RECLAIMABLE) == 1000 + 2000 + 3000 - (keep + 1) * 1000
    model.set_groups(records, [make_group(1, Tier.NEAR, [0, 3], [1.0, 0.95])])  # same id, new members
    # the sizes are summed again for the new members; the review carries over where it can
    assert model.index(0, 0).data(Roles.RECLAIMABLE) == (4000 if action == "keeper" else 1000)


def test_similar_search_in_the_app_reads_the_top_hits_from_the_scan_cache(
    library, fake_embedder, tmp_path, monkeypatch
):
    from photofind.core.match import verify
    from photofind.core.pipeline import scan
    from photofind.core.scan import imageio
    from photofind.core.scan.cache import Cache

    cache_path = str(tmp_path / "scan.sqlite3")
    cache = Cache(cache_path)
    try:
        result = scan(ScanSettings(roots=(str(library["root"]),)), embedder=fake_embedder, cache=cache)
    finally:
        cache.close()
    verify.clear_caches()  # nothing the scan decoded may be reused

    def no_decoding(*args, **kwargs):
        raise AssertionError("a library photo was decoded")

    for name in ("decode_file", "decode_bytes"):
        monkeypatch.setattr(imageio, name, no_decoding)
    monkeypatch.setattr(verify, "decode_digest", no_decoding)
    served: list[str] = []  # content hashes whose detail the cache gave
    real_details = Cache.details_for_hashes

    def details_for_hashes(self, hashes, *args):
        found = real_details(self, hashes, *args)
        served.extend(found)
        return found

    monkeypatch.setattr(Cache, "details_for_hashes", details_for_hashes)
    p = library["paths"]
    hits = SimilarSearch(cache_path).search(result, str(p["B"]), 3, embedder=fake_embedder)
    assert [(path, tier) for path, _, tier, _ in hits[:2]] == [
        (str(p["B_q40"]), "near"),
        (str(p["B_half"]), "near"),
    ]
    assert len(set(served)) >= 2  # the query's and its copies' details, from the scan's cache
