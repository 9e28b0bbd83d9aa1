"""`photofind similar IMAGE --in PATH...` end to end, with the real ResNet-34 (random weights)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from photofind import cli
from tests import imagefactory as factory


@pytest.fixture
def small_library(tmp_path):
    root = tmp_path / "lib"
    a = factory.save(factory.make_scene(1), root / "a.jpg")
    factory.copy(a, root / "copies" / "a copy.jpg")
    factory.save(factory.make_scene(1).resize((240, 180), Image.Resampling.LANCZOS), root / "a_small.jpg")
    for seed in (2, 3, 4):
        factory.save(factory.make_scene(seed), root / f"other{seed}.jpg")
    return root


# Random weights put every pair near cosine 0.999; a near threshold above that keeps the slow
# pixel checks (which the real weights' cosines would mostly spare) out of this test.
@pytest.mark.slow
def test_similar_json_for_a_library_photo_and_an_outside_one(small_library, tmp_path, capsys):
    out = tmp_path / "similar.json"
    cache = str(tmp_path / "c.sqlite3")
    query = small_library / "a.jpg"
    code = cli.main(
        [
            "similar",
            str(query),
            "--in",
            str(small_library),
            "--top",
            "3",
            "--json",
            str(out),
            "--weights",
            "random",
            "--cache",
            cache,
            "-q",
            "--threshold",
            "0.99999",
        ]
    )
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["query"] == str(query.resolve())
    paths = [r["path"] for r in doc["results"]]
    assert len(paths) == 3 and str(query.resolve()) not in paths
    assert doc["results"][0] == {
        "path": str((small_library / "copies" / "a copy.jpg").resolve()),
        "similarity": 1.0,
        "tier": "exact",
    }
    sims = [r["similarity"] for r in doc["results"]]
    assert sims == sorted(sims, reverse=True)
    assert all(r["tier"] in ("exact", "near", "similar", None) for r in doc["results"])
    assert "RANDOM weights" in capsys.readouterr().out

    outside = factory.save(
        factory.make_scene(3).resize((300, 225), Image.Resampling.LANCZOS), tmp_path / "q.jpg"
    )
    code = cli.main(
        [
            "similar",
            str(outside),
            "--in",
            str(small_library),
            "--top",
            "10",
            "--json",
            "-",
            "--weights",
            "random",
            "--cache",
            cache,
            "-q",
            "--threshold",
            "0.99999",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert len(doc["results"]) == 6  # every library photo; the query is not one of them
    assert doc["results"][0]["path"].endswith("other3.jpg")  # same scene, resized
    assert "photos most like" in captured.err  # the human list goes to stderr when JSON is on stdout


def test_similar_usage_errors_exit_2(small_library, tmp_path, capsys):
    assert cli.main(["similar", str(tmp_path / "missing.jpg"), "--in", str(small_library)]) == 2
    assert "no such image" in capsys.readouterr().err
    query = str(small_library / "a.jpg")
    assert cli.main(["similar", query, "--in", str(tmp_path / "nowhere")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert cli.main(["similar", query, "--in", str(small_library), "--top", "0"]) == 2
    assert cli.main(["similar", query, "--in", str(small_library), "--threshold", "2"]) == 2
    assert cli.main(["similar", query, "--in", str(small_library), "--no-embed", "-q"]) == 2
    assert "needs the similarity model" in capsys.readouterr().err


def test_similar_is_a_query_it_never_groups_and_reads_no_unchanged_photo(
    library, fake_embedder, tmp_path, monkeypatch, capsys
):
    from photofind.core import pipeline
    from photofind.core.match import grouping, pairsearch
    from photofind.core.scan import ingest

    def refuse(*args, **kwargs):
        raise AssertionError("photofind similar grouped the library")

    for module, name in [
        (grouping, "group_records"),
        (grouping, "Regrouper"),
        (pairsearch, "find_pairs"),
        (pairsearch, "exact_pairs"),
        (pairsearch, "lsh_pairs"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, **kw: (fake_embedder, None))
    checked = _pixel_checked(monkeypatch)
    p = library["paths"]
    args = ["similar", str(p["B"]), "--in", str(library["root"]), "--top", "3", "--json", "-", "-q"]
    args += ["--cache", str(tmp_path / "c.sqlite3")]

    assert cli.main(args) == 0  # the first query reads the library into the cache
    cold = json.loads(capsys.readouterr().out)
    embedded = fake_embedder.images_embedded

    def no_decoding(*args, **kwargs):
        raise AssertionError("an unchanged photo was read again")

    monkeypatch.setattr(ingest, "decode_bytes", no_decoding)
    checked.clear()
    assert cli.main(args) == 0
    warm = json.loads(capsys.readouterr().out)
    assert warm == cold
    assert fake_embedder.images_embedded == embedded
    assert [(r["path"], r["tier"]) for r in warm["results"][:2]] == [
        (str(p["B_q40"]), "near"),
        (str(p["B_half"]), "near"),
    ]
    assert sorted(checked) == sorted([str(p["B_q40"]), str(p["B_half"])])  # only the top hits


def _pixel_checked(monkeypatch) -> list[str]:
    """The path of every library photo the pixel check is asked about from now on."""
    from photofind.core.match import verify

    checked: list[str] = []
    real_check = verify.pixel_check
    monkeypatch.setattr(
        verify,
        "pixel_check",
        lambda a, b, *rest, **kw: checked.append(b.path) or real_check(a, b, *rest, **kw),
    )
    return checked


def _opened(monkeypatch) -> list[str]:
    """Every file path Python code opens from now on (builtins.open: PIL; os.open: the
    scan's reader), resolved."""
    import builtins
    import os

    seen: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def spy_open(file, *args, **kw):
        if isinstance(file, (str, os.PathLike)):
            seen.append(os.path.realpath(file))
        return real_open(file, *args, **kw)

    def spy_os_open(path, *args, **kw):
        seen.append(os.path.realpath(path))
        return real_os_open(path, *args, **kw)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(os, "open", spy_os_open)
    return seen


def _query_args(query, library, tmp_path):
    return ["similar", str(query), "--in", str(library["root"]), "--top", "3", "--json", "-", "-q"] + [
        "--cache",
        str(tmp_path / "c.sqlite3"),
    ]


def test_similar_pixel_checks_from_the_cache_and_opens_no_library_photo(
    library, fake_embedder, tmp_path, monkeypatch, capsys
):
    from photofind.core import pipeline
    from photofind.core.match import verify
    from photofind.core.scan import imageio

    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, **kw: (fake_embedder, None))
    p = library["paths"]
    assert cli.main(_query_args(p["B"], library, tmp_path)) == 0  # fills the cache
    cold = json.loads(capsys.readouterr().out)
    verify.clear_caches()  # no detail decoded by the first run may be reused

    def no_decoding(*args, **kwargs):
        raise AssertionError("a photo was decoded")

    for name in ("decode_file", "decode_bytes"):
        monkeypatch.setattr(imageio, name, no_decoding)
    monkeypatch.setattr(verify, "decode_digest", no_decoding)
    opened = _opened(monkeypatch)
    assert cli.main(_query_args(p["B"], library, tmp_path)) == 0
    warm = json.loads(capsys.readouterr().out)
    assert warm == cold
    assert [(r["path"], r["tier"]) for r in warm["results"][:2]] == [
        (str(p["B_q40"]), "near"),
        (str(p["B_half"]), "near"),
    ]
    root = str(library["root"].resolve())
    assert [f for f in opened if f.startswith(root)] == []


def test_similar_reads_an_outside_photo_once_and_no_library_photo(
    library, fake_embedder, tmp_path, monkeypatch, capsys
):
    from photofind.core import pipeline
    from photofind.core.match import verify

    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, **kw: (fake_embedder, None))
    p = library["paths"]
    assert cli.main(_query_args(p["B"], library, tmp_path)) == 0  # fills the cache
    capsys.readouterr()
    outside = factory.save(
        Image.open(p["B"]).resize((200, 150), Image.Resampling.LANCZOS), tmp_path / "elsewhere" / "b.jpg"
    )
    verify.clear_caches()
    checked = _pixel_checked(monkeypatch)
    opened = _opened(monkeypatch)
    assert cli.main(_query_args(outside, library, tmp_path)) == 0, capsys.readouterr().err
    doc = json.loads(capsys.readouterr().out)
    assert {(r["path"], r["tier"]) for r in doc["results"]} == {
        (str(p["B"]), "near"),
        (str(p["B_q40"]), "near"),
        (str(p["B_half"]), "near"),
    }
    assert sorted(checked) == sorted(r["path"] for r in doc["results"])  # checked from cached details
    root = str(library["root"].resolve())
    assert [f for f in opened if f.startswith(root)] == []
    assert opened.count(str(outside.resolve())) == 1


@pytest.mark.slow
def test_a_library_photo_is_searched_without_loading_the_model(small_library, tmp_path, resnet34_file):
    """Its embedding is cached: torch is not even imported (a weights file is hashed, not read)."""
    cache = str(tmp_path / "c.sqlite3")
    weights = ["--weights", str(resnet34_file), "--cache", cache, "-q"]
    assert cli.main(["scan", str(small_library), *weights]) == 0
    probe = (
        "import sys; from photofind import cli; code = cli.main(sys.argv[1:]); "
        "print('torch imported:', 'torch' in sys.modules, file=sys.stderr); sys.exit(code)"
    )
    query = ["similar", str(small_library / "a.jpg"), "--in", str(small_library), "--top", "2", *weights]
    done = subprocess.run(
        [sys.executable, "-c", probe, *query], capture_output=True, text=True, env=os.environ
    )
    assert done.returncode == 0, done.stderr
    assert "torch imported: False" in done.stderr
    assert str((small_library / "copies" / "a copy.jpg").resolve()) in done.stdout


def test_only_a_photo_from_outside_asks_for_the_model_and_it_runs_on_one_thread(
    library, fake_embedder, tmp_path, monkeypatch, capsys
):
    from photofind.core import pipeline

    monkeypatch.setattr(pipeline, "make_embedder", lambda settings, **kw: (fake_embedder, None))
    p = library["paths"]
    assert cli.main(_query_args(p["A"], library, tmp_path)) == 0  # reads the library into the cache
    loads = fake_embedder.loads
    assert cli.main(_query_args(p["B"], library, tmp_path)) == 0
    assert (fake_embedder.loads, fake_embedder.threads) == (loads, None)  # all cached: no model asked for
    capsys.readouterr()
    outside = factory.save(Image.open(p["B"]), tmp_path / "elsewhere" / "b.jpg")
    assert cli.main(_query_args(outside, library, tmp_path)) == 0
    # One photo to embed while the library is read: one torch thread (no barrier to stall).
    assert fake_embedder.threads == 1
    doc = json.loads(capsys.readouterr().out)
    assert (str(p["B"]), "near") in {(r["path"], r["tier"]) for r in doc["results"]}
