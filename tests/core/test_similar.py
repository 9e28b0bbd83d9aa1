"""Similar-to-this search (photofind.core.match.similar)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from photofind.core.match import verify
from photofind.core.match.similar import (
    QueryIndex,
    SimilarHit,
    SimilarIndex,
    SimilarSearchError,
    find_similar,
    relation,
    search_result,
)
from photofind.core.types import FileRef, ImageFacts, ImageRecord, Thresholds, Tier
from tests import imagefactory as factory

DIM = 32


def unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def at_cosine(q: np.ndarray, c: float, rng) -> np.ndarray:
    w = rng.standard_normal(len(q)).astype(np.float32)
    w = unit(w - (w @ q) * q)
    return unit(c * q + np.sqrt(1 - c * c) * w)


def rec(name: str, content: str | None = None) -> ImageRecord:
    return ImageRecord(FileRef(f"/lib/{name}.jpg", 100, 0), content or name, ImageFacts(10, 10, "JPEG"))


@pytest.fixture
def known():
    rng = np.random.default_rng(0)
    q = unit(rng.standard_normal(DIM))
    cosines = {"c99": 0.99, "c95": 0.95, "c85": 0.85, "c50": 0.5, "neg": -0.2}
    records = [rec(n) for n in cosines] + [rec("not_embedded")]
    emb = np.stack([at_cosine(q, c, rng) for c in cosines.values()] + [np.zeros(DIM, np.float32)])
    return q, records, emb


def test_results_are_ranked_by_cosine_with_tiers(known):
    q, records, emb = known
    hits = find_similar(q, records, emb, top=4, thresholds=Thresholds(near=0.9, similar=0.8))
    assert [records[h.index].path for h in hits] == [
        "/lib/c99.jpg",
        "/lib/c95.jpg",
        "/lib/c85.jpg",
        "/lib/c50.jpg",
    ]
    assert [round(h.similarity, 4) for h in hits] == [0.99, 0.95, 0.85, 0.5]
    assert [h.tier for h in hits] == [Tier.NEAR, Tier.NEAR, Tier.SIMILAR, None]  # an embedding has no pixels
    assert len(find_similar(q, records, emb, top=50)) == 5  # the row without an embedding never shows


def test_a_library_query_is_left_out_and_its_byte_copies_come_first(known, monkeypatch):
    q, records, emb = known
    records = records + [rec("query"), rec("query_copy", content="query")]
    emb = np.concatenate([emb, [q, q]])
    monkeypatch.setattr(
        verify, "pixel_check", lambda a, b, ta, tb, **kw: "resized" if b.path.endswith("c99.jpg") else None
    )
    thumbs = np.zeros((len(records), 32, 32), np.uint8)
    hits = find_similar("/lib/query.jpg", records, emb, top=3, thumbs=thumbs, thresholds=Thresholds(0.9, 0.8))
    assert [(records[h.index].path, h.tier) for h in hits] == [
        ("/lib/query_copy.jpg", Tier.EXACT),
        ("/lib/c99.jpg", Tier.NEAR),
        ("/lib/c95.jpg", Tier.SIMILAR),
    ]
    assert hits[0].similarity == 1.0


def test_the_lsh_index_finds_the_same_neighbours_as_exact_search():
    rng = np.random.default_rng(1)
    x = unit(rng.standard_normal((3000, DIM)))
    q = x[7]
    for c in (0.99, 0.97, 0.95, 0.93, 0.91):
        x = np.concatenate([x, at_cosine(q, c, rng)[None]])
    records = [rec(f"r{i}") for i in range(len(x))]
    exact = find_similar(q, records, x, top=6)
    index = QueryIndex.build(x)
    via_lsh = SimilarIndex(records, x, exact_below=0, lsh=index).find(q, 6)
    assert [h.index for h in via_lsh] == [h.index for h in exact]
    assert [h.index for h in exact][:6] == [7, 3000, 3001, 3002, 3003, 3004]
    near = index.candidates(q, 0)
    keys = index.planes.keys(x[near])
    assert np.all((keys == index.planes.keys(q)).any(axis=1))  # radius 0: a shared key in some table
    assert len(np.union1d(near, index.candidates(q, 1))) > len(near)


def test_the_lsh_query_always_looks_one_bit_away(monkeypatch):
    """The tables are sized for their recall with radius 1: a query does not stop at its own
    buckets, however many candidates they hold."""
    rng = np.random.default_rng(3)
    x = unit(rng.standard_normal((3000, DIM)))
    q = x[0]
    x = np.concatenate([x, np.stack([at_cosine(q, 0.999, rng) for _ in range(60)])])
    index = QueryIndex.build(x)
    real = index.candidates
    asked = []

    def spy(vector, radius):
        asked.append((radius, len(real(vector, radius))))
        return real(vector, radius)

    monkeypatch.setattr(index, "candidates", spy)
    records = [rec(f"r{i}") for i in range(len(x))]
    hits = SimilarIndex(records, x, exact_below=0, lsh=index).find(q, 1)
    assert hits[0].similarity >= 0.99
    assert asked[0][0] == 0 and asked[0][1] >= 4 * 2 + 32  # enough to rank, at radius 0 already
    assert [radius for radius, _ in asked] == [0, 1]


def test_search_result_for_the_gui_with_an_outside_query(library, fake_embedder, tmp_path):
    from photofind.core.pipeline import scan
    from photofind.core.types import ScanSettings

    result = scan(
        ScanSettings(roots=(str(library["root"]),), cache_path=str(tmp_path / "c.db"), calibrate=False),
        embedder=fake_embedder,
    )
    outside = factory.save(
        factory.make_scene(22).resize((200, 150), Image.Resampling.LANCZOS), tmp_path / "q.jpg"
    )
    found = search_result(result, str(outside), 3, embedder=fake_embedder)
    p = library["paths"]
    assert {path for path, _s, _t, _r in found} == {str(p["B"]), str(p["B_half"]), str(p["B_q40"])}
    assert all(tier == "near" and s > 0.9 for _p, s, tier, _r in found)
    # Each copy says how the pixel check found it made (the query is a half-size B).
    assert all(how.startswith("copy: ") and len(how) > len("copy: ") for *_, how in found)
    inside = search_result(result, str(p["A"]), 2, embedder=fake_embedder)
    assert str(p["A"]) not in {path for path, _s, _t, _r in inside}
    assert inside[0] == (str(p["A_copy"]), 1.0, "exact", "copy: same bytes")
    with pytest.raises(SimilarSearchError, match="needs the similarity model"):
        search_result(result, str(outside), 3)
    with pytest.raises(SimilarSearchError, match="no such image"):
        search_result(result, str(tmp_path / "missing.jpg"), 3, embedder=fake_embedder)
    (tmp_path / "notes.jpg").write_text("not a photo")
    with pytest.raises(SimilarSearchError, match="cannot read"):
        search_result(result, str(tmp_path / "notes.jpg"), 3, embedder=fake_embedder)


def test_without_the_model_the_answer_is_the_photos_pixel_verified_copies(library, fake_embedder, tmp_path):
    """No weights: the search cannot rank by looks, but the scan's duplicate groups hold the
    photo's copies that the pixel check confirmed; those are listed, with how each was made."""
    from photofind.core.pipeline import scan
    from photofind.core.types import ScanSettings

    settings = ScanSettings(roots=(str(library["root"]),), cache_path=str(tmp_path / "c.db"), calibrate=False)
    with_model = scan(settings, embedder=fake_embedder)
    offline = replace(with_model, embeddings=None, model=None, model_problem="no weights")
    p = library["paths"]
    found = search_result(offline, str(p["B"]), 10)
    assert {path for path, *_ in found} == {str(p["B_half"]), str(p["B_q40"])}
    assert all(tier == "near" and how.startswith("copy") for _p, _s, tier, how in found)
    assert {(path, how) for path, _s, _t, how in search_result(offline, str(p["A"]), 10)} >= {
        (str(p["A_copy"]), "copy: same bytes")
    }
    assert search_result(offline, str(p["D"]), 10) == []  # no copies: nothing, and no error


def test_relations_say_burst_for_one_camera_seconds_apart_else_similar_scene():
    def rec(name, camera, taken):
        return ImageRecord(FileRef(f"/{name}.jpg", 1, 0), name, ImageFacts(10, 10, "JPEG", taken, camera))

    q = rec("q", "Acme", "2024-05-01T10:00:00")
    similar = SimilarHit(1, 0.85, Tier.SIMILAR)
    assert relation(q, rec("b", "Acme", "2024-05-01T10:00:03"), similar) == "burst"
    assert relation(q, rec("c", "Acme", "2024-05-01T11:00:00"), similar) == "similar scene"
    assert relation(q, rec("d", "Other", "2024-05-01T10:00:01"), similar) == "similar scene"
    assert relation(q, rec("e", "Acme", None), SimilarHit(1, 0.95, Tier.NEAR, "resized")) == "copy: resized"
    assert relation(None, rec("f", None, None), SimilarHit(1, 0.5, None)) == ""


def test_one_index_answers_many_queries_and_builds_its_tables_once(monkeypatch):
    rng = np.random.default_rng(2)
    x = unit(rng.standard_normal((500, DIM)))
    x[9] = 0.0  # a photo without an embedding is never a hit
    for k in range(3):
        x[100 + k] = at_cosine(x[k], 0.97, rng)
    records = [rec(f"r{i}") for i in range(len(x))]
    built = []
    real = QueryIndex.build
    monkeypatch.setattr(
        QueryIndex, "build", classmethod(lambda cls, v, t=None: built.append(1) or real(v, t))
    )
    index = SimilarIndex(records, x, exact_below=100)
    for k in range(3):
        hits = index.find(f"/lib/r{k}.jpg", 5)
        assert hits[0].index == 100 + k and round(hits[0].similarity, 4) == 0.97
        assert k not in [h.index for h in hits]
        assert 9 not in [h.index for h in index.find(x[k], 499)]
    assert built == [1]


def test_the_exact_product_ranks_like_a_full_sort():
    rng = np.random.default_rng(3)
    x = unit(rng.standard_normal((2000, DIM)))
    x[[5, 6]] = x[4]  # ties keep the library's order
    index = SimilarIndex([rec(f"r{i}") for i in range(len(x))], x)
    sims = x @ x[4]
    assert index.nearest(x[4], 7) == [(int(i), float(sims[i])) for i in np.argsort(-sims, kind="stable")[:7]]
