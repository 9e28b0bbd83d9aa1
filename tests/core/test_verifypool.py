"""Pixel checks in worker processes (verifypool): the same verdicts as the serial checks, saved
as they come, with pairs-checked progress, and Stop honoured between chunks."""

import multiprocessing
from concurrent.futures.process import BrokenProcessPool
from itertools import combinations

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from photofind.core.match import verdicts, verify, verifypool
from photofind.core.match.grouping import Regrouper
from photofind.core.pipeline import scan
from photofind.core.progress import Cancelled, Phase
from photofind.core.scan.cache import Cache
from photofind.core.types import ScanSettings
from tests import imagefactory as factory


@pytest.fixture
def scanned(library, cache_path):
    """The shared library plus a letterboxed, a straightened and a brightened copy (the
    check's other paths), scanned without a model: records, thumbnails and cached details."""
    root = library["root"]
    scene = factory.make_scene(33)
    boxed = Image.new("RGB", (480, 480))
    boxed.paste(scene, (0, 60))
    factory.save(boxed, root / "edits" / "c_boxed.jpg")
    factory.save(
        scene.rotate(4, resample=Image.Resampling.BICUBIC).crop((40, 30, 440, 330)),
        root / "edits" / "c_tilt.jpg",
    )
    factory.save(
        ImageEnhance.Brightness(factory.make_scene(22)).enhance(1.2), root / "edits" / "b_bright.jpg"
    )
    settings = ScanSettings(roots=(str(root),), cache_path=str(cache_path), embed=False)
    result = scan(settings)
    with Cache(cache_path) as cache:
        cache._db.execute("DELETE FROM verdicts")  # each test checks every pair itself
    return result


def _all_pairs(result, cache, *, workers, progress=None):
    """Every pair of content classes through PixelVerdicts.prefetch; {(x, y): verdict text}."""
    reg = Regrouper(result.records, None, result.thumbs)  # only for its content classes
    pv = verdicts.PixelVerdicts(
        result.records,
        reg.reps,
        result.thumbs,
        rotations=False,
        cache=cache,
        progress=progress or _Recorder(),
        workers=workers,
    )
    pairs = list(combinations(range(len(reg.reps)), 2))
    pv.prefetch(pairs)
    return {p: verify.verdict_to_text(pv.relation(*p)) for p in pairs}


class _Recorder:
    def __init__(self, stop_after: int | None = None):
        self.updates, self.stop_after = [], stop_after

    def update(self, phase, done, total):
        self.updates.append((phase, done, total))

    def is_cancelled(self):
        done = [d for p, d, _ in self.updates if p == Phase.VERIFY]
        return self.stop_after is not None and bool(done) and max(done) >= self.stop_after


def test_workers_give_the_serial_verdicts_bit_for_bit(scanned, cache_path, monkeypatch):
    monkeypatch.setattr(verdicts, "PARALLEL_FROM", 1)
    monkeypatch.setattr(verifypool, "CHUNK", 4)  # several chunks, finishing in any order
    with Cache(cache_path) as cache:
        serial = _all_pairs(scanned, cache, workers=1)
        cache._db.execute("DELETE FROM verdicts")
        parallel = _all_pairs(scanned, cache, workers=2)
        with_reasons = [v for v in parallel.values() if v is not None]
        saved = cache.stats()["verdicts"]
    assert parallel == serial
    assert len(with_reasons) >= 6  # resized, re-encoded, cropped, letterboxed, edited, rotated: real work
    reasons = {verify.verdict_from_text(v).reason for v in with_reasons}
    assert {"letterboxed", "cropped"} <= reasons and any(r.startswith("rotated") for r in reasons)
    assert saved == len(parallel)  # every answer was saved as it came


def test_worker_progress_counts_pairs_up_to_the_total(scanned, cache_path, monkeypatch):
    monkeypatch.setattr(verdicts, "PARALLEL_FROM", 1)
    monkeypatch.setattr(verifypool, "CHUNK", 8)
    recorder = _Recorder()
    with Cache(cache_path) as cache:
        answers = _all_pairs(scanned, cache, workers=2, progress=recorder)
    shown = [(d, t) for p, d, t in recorder.updates if p == Phase.VERIFY]
    assert shown[0] == (0, len(answers)) and shown[-1] == (len(answers), len(answers))
    done = [d for d, _ in shown]
    assert done == sorted(done) and len(set(done)) > 2  # it moved in steps, never backwards
    assert {t for _, t in shown} == {len(answers)}


def test_stop_in_the_workers_keeps_the_saved_verdicts_and_leaves_no_process(scanned, cache_path, monkeypatch):
    monkeypatch.setattr(verdicts, "PARALLEL_FROM", 1)
    monkeypatch.setattr(verdicts, "SAVE_EVERY", 1)
    monkeypatch.setattr(verifypool, "CHUNK", 2)
    monkeypatch.setattr(verifypool, "IN_FLIGHT", 1)
    with Cache(cache_path) as cache:
        total = len(list(combinations(range(len(Regrouper(scanned.records).reps)), 2)))
        with pytest.raises(Cancelled):
            _all_pairs(scanned, cache, workers=2, progress=_Recorder(stop_after=1))
        saved = cache.stats()["verdicts"]
    assert 1 <= saved < total
    assert multiprocessing.active_children() == []


def test_a_photo_without_its_cached_detail_is_checked_but_its_answer_not_saved(
    scanned, cache_path, monkeypatch
):
    monkeypatch.setattr(verdicts, "PARALLEL_FROM", 1)
    b = next(r for r in scanned.records if r.path.endswith("b.jpg"))
    with Cache(cache_path) as cache:
        cache._db.execute("DELETE FROM details WHERE content_hash = ?", (b.content_hash,))
        answers = _all_pairs(scanned, cache, workers=2)
        stored = {a for (a,) in cache._db.execute("SELECT a FROM verdicts")}
        stored |= {b_ for (b_,) in cache._db.execute("SELECT b FROM verdicts")}
    assert b.content_hash not in stored
    assert len(answers) > 0 and np.any([v is not None for v in answers.values()])


def test_if_a_worker_dies_the_rest_are_checked_in_process(scanned, cache_path, monkeypatch):
    monkeypatch.setattr(verdicts, "PARALLEL_FROM", 1)
    real = verifypool.check

    def dies_after_two_chunks(pairs, *args, **kw):
        for k, (position, answer) in enumerate(real(pairs, *args, **kw)):
            if k == 2 * verifypool.CHUNK:
                raise BrokenProcessPool("a worker was killed")
            yield position, answer

    with Cache(cache_path) as cache:
        serial = _all_pairs(scanned, cache, workers=1)
        cache._db.execute("DELETE FROM verdicts")
        monkeypatch.setattr(verifypool, "CHUNK", 4)
        monkeypatch.setattr(verifypool, "check", dies_after_two_chunks)
        recovered = _all_pairs(scanned, cache, workers=2)
        saved = cache.stats()["verdicts"]
    assert recovered == serial and saved == len(serial)
