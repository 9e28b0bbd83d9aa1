"""The scan's fast paths do what they promise (behaviour, not timings): known bytes skip
decoding and inference, a warm rescan reads no file, work in flight is bounded, threads are
shared deliberately, and decoding is only as deep as the model input needs."""

from __future__ import annotations

import io
import os
import threading
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photofind.core.model.embed import NumpyEmbedder
from photofind.core.pipeline import scan
from photofind.core.scan import ingest
from photofind.core.scan.imageio import decode_bytes
from photofind.core.types import ScanSettings
from tests import imagefactory as f


def _settings(root, cache_path, **kw):
    return ScanSettings(roots=(str(root),), cache_path=str(cache_path), **kw)


@pytest.fixture
def counted_decodes(monkeypatch):
    calls = []

    def counting(data, path="", **kw):
        calls.append(path)
        return decode_bytes(data, path, **kw)

    monkeypatch.setattr(ingest, "decode_bytes", counting)
    return calls


def test_copy_of_embedded_bytes_is_neither_decoded_nor_embedded(
    tmp_path, cache_path, fake_embedder, counted_decodes
):
    root = tmp_path / "lib"
    original = f.save(f.make_scene(5), root / "a.jpg")
    f.save(f.make_scene(6), root / "b.jpg")
    first = scan(_settings(root, cache_path), embedder=fake_embedder)
    assert len(counted_decodes) == 2

    copy = f.copy(original, root / "later" / "a (copy).jpg")
    embedded_before = fake_embedder.images_embedded
    second = scan(_settings(root, cache_path), embedder=fake_embedder)
    assert counted_decodes[2:] == [], "known bytes must not be decoded again"
    assert fake_embedder.images_embedded == embedded_before
    assert second.stats.decoded == 0 and second.stats.reused_embeddings == 1
    rec = {r.path: r for r in second.records}
    assert rec[str(copy)].facts == rec[str(original)].facts
    assert rec[str(copy)].phash == rec[str(original)].phash
    i, j = [k for k, r in enumerate(second.records) if r.path in (str(copy), str(original))]
    assert np.array_equal(second.embeddings[i], second.embeddings[j])
    assert np.array_equal(second.thumbs[i], second.thumbs[j]), "the copy's thumbnail comes from the cache"
    assert any(
        {second.records[m].path for m in g.indices} == {str(copy), str(original)} for g in second.groups
    )
    assert first.embeddings.shape[0] == 2


def test_touched_file_with_same_bytes_is_not_decoded(tmp_path, cache_path, fake_embedder, counted_decodes):
    root = tmp_path / "lib"
    path = f.save(f.make_scene(7), root / "a.jpg")
    scan(_settings(root, cache_path), embedder=fake_embedder)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    again = scan(_settings(root, cache_path), embedder=fake_embedder)
    assert len(counted_decodes) == 1 and again.stats.embedded == 0
    assert again.records[0].file.mtime_ns == st.st_mtime_ns + 5_000_000_000
    third = scan(_settings(root, cache_path), embedder=fake_embedder)
    assert third.stats.from_cache == 1, "the new stat facts were stored"


def test_warm_rescan_reads_no_file(library, cache_path, fake_embedder, monkeypatch):
    first = scan(_settings(library["root"], cache_path), embedder=fake_embedder)

    def must_not_read(*_a, **_k):
        raise AssertionError("a warm rescan must only stat files")

    monkeypatch.setattr(ingest, "_read_one", must_not_read)
    second = scan(_settings(library["root"], cache_path), embedder=fake_embedder)
    assert [r.path for r in second.records] == [r.path for r in first.records]
    assert second.stats.from_cache == second.stats.files_found
    assert np.array_equal(first.embeddings, second.embeddings)


def _forty_photos_counting_reads(tmp_path, monkeypatch) -> tuple[Path, list[int]]:
    """A library of 40 small photos, and a list that grows by one as each file's read starts."""
    root = tmp_path / "lib"
    for i in range(40):
        f.save(f.make_scene(100 + i, (48, 36)), root / f"{i:02d}.jpg")
    started: list[int] = []
    real = ingest._read_one
    monkeypatch.setattr(ingest, "_read_one", lambda *a: started.append(1) or real(*a))
    return root, started


def test_reads_in_flight_are_bounded(tmp_path, cache_path, fake_embedder, monkeypatch):
    root, started = _forty_photos_counting_reads(tmp_path, monkeypatch)

    class Watch:
        ahead = 0

        def update(self, phase, done, total):
            if phase == "embedding":
                self.ahead = max(self.ahead, len(started) - done)

        def is_cancelled(self):
            return False

    watch = Watch()
    result = scan(
        _settings(root, cache_path, batch_size=4), embedder=fake_embedder, workers=2, progress=watch
    )
    assert len(result.records) == 40
    window = max(2 * 4, 4 * 2)
    assert 0 < watch.ahead <= window, "memory is flat: the readers never run ahead of the window"


class SlowLoadingEmbedder(NumpyEmbedder):
    """The fake embedder behind a load() that waits (as torch's import does) until `loaded`
    is set; embed() loads first, as ResNetEmbedder does. Notes how many files had been read
    when the first batch was embedded."""

    def __init__(self, inner, read):
        self.inner, self.model, self.read = inner, inner.model, read
        self.loaded = threading.Event()
        self.read_before_first_embed: int | None = None

    def load(self):
        assert self.loaded.wait(timeout=60), "the model never finished loading"

    def prepare(self, image):
        return self.inner.prepare(image)

    def embed(self, batch):
        if self.read_before_first_embed is None:
            self.read_before_first_embed = len(self.read)
        self.loaded.set()  # from here on the scan waits for the model, as it would for torch
        self.load()
        return self.inner.embed(batch)


@pytest.mark.parametrize("load_ahead", [12, 1000])
def test_reading_goes_on_while_the_model_loads_up_to_a_bound(
    tmp_path, cache_path, fake_embedder, monkeypatch, load_ahead
):
    root, read = _forty_photos_counting_reads(tmp_path, monkeypatch)
    monkeypatch.setattr(ingest, "LOAD_AHEAD", load_ahead)
    embedder = SlowLoadingEmbedder(fake_embedder, read)

    class LoadedAfter24:
        def update(self, phase, done, total):
            if phase == "embedding" and done >= 24:
                embedder.loaded.set()

        def is_cancelled(self):
            return False

    result = scan(
        _settings(root, cache_path, batch_size=4), embedder=embedder, workers=2, progress=LoadedAfter24()
    )
    assert len(result.records) == 40 and result.stats.embedded == 40
    window = max(2 * 4, 4 * 2)
    first = embedder.read_before_first_embed
    if load_ahead > 40:
        assert first >= 24 > window, "the decoders kept reading while the model loaded"
    else:
        assert load_ahead <= first <= load_ahead + window, "no further ahead than LOAD_AHEAD"


class ThreadRecordingEmbedder(NumpyEmbedder):
    """Delegates to the fake embedder and notes the torch thread budget of every batch."""

    shares_cores = True

    def __init__(self, inner, gate_probe=None):
        self.inner, self.threads, self.seen = inner, 7, []
        self.model = inner.model

    def set_threads(self, n):
        self.threads = n

    def prepare(self, image):
        return self.inner.prepare(image)

    def embed(self, batch):
        self.seen.append(self.threads)
        return self.inner.embed(batch)


@pytest.fixture
def quiet_machine(monkeypatch):
    monkeypatch.setattr(ingest.os, "getloadavg", lambda: (0.0, 0.0, 0.0), raising=False)


def test_torch_threads_are_budgeted_and_restored(
    library, cache_path, fake_embedder, monkeypatch, quiet_machine
):
    monkeypatch.setattr(ingest, "usable_cores", lambda: 2)
    embedder = ThreadRecordingEmbedder(fake_embedder)
    scan(_settings(library["root"], cache_path, batch_size=2), embedder=embedder)
    assert embedder.seen and set(embedder.seen) <= {1, 2}, "never more torch threads than cores"
    assert embedder.seen[-1] == 2, "the last batch, with the decoders done, gets every core"
    assert embedder.threads == 7, "the embedder's own setting is restored after the scan"


@pytest.mark.parametrize("cores", range(1, 65))
def test_thread_plan_never_oversubscribes_a_multithreaded_torch(cores):
    plan = ingest.ThreadPlan.for_cores(cores)
    assert plan.torch_threads >= 1 and plan.decoders >= 1
    if plan.torch_threads > 1:
        assert plan.torch_threads + plan.decoders <= cores
    else:
        assert plan.decoders == min(cores, ingest.MAX_DECODE_THREADS)
    assert ingest.ThreadPlan.for_cores(cores, workers=3).decoders == 3
    on_gpu = ingest.ThreadPlan.for_cores(cores, accelerator=True)
    assert on_gpu.decoders == min(cores, ingest.MAX_DECODE_THREADS), "a GPU leaves every core to decoding"


def _done_future():
    fut = Future()
    fut.set_result(None)
    return fut


class _BatchOfTwo:
    """Two photos that need inference; embedding them calls `flushed`."""

    def __init__(self, flushed) -> None:
        self._flushed = flushed

    def needs_inference(self):
        return True

    def __len__(self):
        return 2

    def rows(self):
        return 2

    def flush(self):
        self._flushed()


def test_decoders_pause_while_inference_is_the_bottleneck(quiet_machine):
    """The next batch is already decoded: inference takes every core and the decoders wait."""
    plan = ingest.ThreadPlan(cores=4, decoders=2, torch_threads=2)
    gate = threading.Event()
    gate.set()
    seen = {}

    def flushed() -> None:
        seen["gate_open"], seen["threads"] = gate.is_set(), embedder.threads

    class Embedder(NumpyEmbedder):
        shares_cores = True

        def set_threads(self, n):
            self.threads = n

    embedder = Embedder()
    running = Future()  # still being decoded
    ingest._flush(_BatchOfTwo(flushed), [_done_future(), _done_future(), running], gate, plan, 2, embedder)
    assert seen == {"gate_open": False, "threads": 4}
    assert gate.is_set(), "the decoders are released after the batch"

    ingest._flush(_BatchOfTwo(flushed), [_done_future(), running], gate, plan, 2, embedder)
    assert seen == {"gate_open": True, "threads": 2}, "decode-bound: both run, torch on its share"

    busy_machine = ingest.WidthChooser()
    busy_machine.record(wide=False, seconds=1.0, photos=16)
    busy_machine.record(wide=True, seconds=1.2, photos=16)  # slower with more threads: contended
    assert not busy_machine.allowed
    ingest._flush(_BatchOfTwo(flushed), [_done_future()], gate, plan, 2, embedder, busy_machine)
    assert seen == {"gate_open": True, "threads": 2}, "no wide batches once they did not pay"
    quiet = ingest.WidthChooser()
    quiet.record(wide=False, seconds=1.0, photos=16)
    quiet.record(wide=True, seconds=0.4, photos=16)
    assert quiet.allowed


def test_an_embedder_without_cpu_threads_to_share_is_left_alone(quiet_machine):
    """NumpyEmbedder's default (shares_cores False): the batch is embedded as it comes, with no
    thread budget set and no pause of the decoders, where a CNN's would take every core."""
    plan = ingest.ThreadPlan(cores=4, decoders=2, torch_threads=2)
    gate = threading.Event()
    gate.set()
    seen = []

    class Embedder(NumpyEmbedder):
        def set_threads(self, n):
            seen.append(("threads", n))

    behind = [_done_future(), _done_future(), Future()]  # the case that pauses a CNN's decoders
    ingest._flush(
        _BatchOfTwo(lambda: seen.append(("flush", gate.is_set()))), behind, gate, plan, 2, Embedder()
    )
    assert seen == [("flush", True)]


def test_the_cnn_on_a_gpu_leaves_the_decoders_running(quiet_machine):
    """On the CPU the CNN's batch takes the cores and the decoders wait; on a GPU they would
    only idle, so they go on decoding."""
    from photofind.core.model.embed import ResNetEmbedder
    from photofind.core.model.weights import resolve_weights

    weights = resolve_weights("random")
    assert ResNetEmbedder(weights, device="cpu").shares_cores
    assert ResNetEmbedder(weights, device="auto").shares_cores  # until loaded: as ingest's plan
    on_gpu = ResNetEmbedder(weights, device="cuda")
    assert not on_gpu.shares_cores
    plan = ingest.ThreadPlan(cores=4, decoders=3, torch_threads=1)
    gate = threading.Event()
    gate.set()
    seen = []
    behind = [_done_future(), _done_future(), Future()]  # on the CPU, this pauses the decoders
    ingest._flush(_BatchOfTwo(lambda: seen.append(gate.is_set())), behind, gate, plan, 2, on_gpu)
    assert seen == [True] and on_gpu.threads is None


def test_a_busy_machine_keeps_inference_narrow_from_the_start(monkeypatch):
    monkeypatch.setattr(ingest.os, "getloadavg", lambda: (9.0, 9.0, 9.0), raising=False)
    assert not ingest.WidthChooser(cores=2, own_threads=3).allowed
    monkeypatch.setattr(ingest.os, "getloadavg", lambda: (3.0, 3.0, 3.0), raising=False)
    assert ingest.WidthChooser(cores=2, own_threads=3).allowed, "our own threads are not someone else's load"


# -- decoding only as deep as needed -----------------------------------------------------------


def test_large_jpeg_is_decoded_in_the_dct_domain_to_the_model_input(tmp_path):
    big = f.make_scene(3, (1800, 1200))
    data = f.jpeg_bytes(big, 90)
    d = decode_bytes(data, min_side=224)
    assert (d.facts.width, d.facts.height) == (1800, 1200)
    assert min(d.image.size) >= 224, "the model input must not be upscaled"
    assert d.image.size == (450, 300), "a 1/4 DCT-domain decode, not a full one"
    full = big.resize(d.image.size, Image.Resampling.BOX)
    diff = np.abs(np.asarray(full, np.float32) - np.asarray(d.image, np.float32)).mean()
    assert diff < 6, "the draft decode shows the same picture"


def test_big_png_is_box_reduced_but_keeps_both_sides_over_the_input_size():
    buf = io.BytesIO()
    f.make_scene(4, (1400, 700)).save(buf, "PNG")
    d = decode_bytes(buf.getvalue(), min_side=224)
    assert d.image.size == (467, 234)  # reduce(3), rounding up: 700 // 224 == 3


def test_heic_uses_its_embedded_preview_when_it_is_big_enough():
    pillow_heif = pytest.importorskip("pillow_heif")
    scene = f.make_scene(5, (640, 480))
    buf = io.BytesIO()
    try:
        scene.save(buf, format="HEIF", quality=90, thumbnails=[320])
    except (KeyError, OSError, ValueError, RuntimeError) as exc:
        pytest.skip(f"no HEIF encoder here: {exc}")
    assert pillow_heif is not None
    fast = decode_bytes(buf.getvalue(), min_side=224)
    assert (fast.facts.width, fast.facts.height) == (640, 480)
    assert fast.image.size == (320, 240), "the 320-px preview is enough for a 224-px input"
    reference = scene.resize((320, 240), Image.Resampling.BOX)
    diff = np.abs(np.asarray(reference, np.float32) - np.asarray(fast.image, np.float32)).mean()
    assert diff < 8, "the preview shows the same picture"
    display = decode_bytes(buf.getvalue())  # 448-px work size: the preview is too small
    assert display.image.size == (448, 336)


def test_vector_table_compacts_in_place_and_shares_rows_by_content():
    from photofind.core.scan.vectors import VectorTable

    paths = [f"/p/{i}" for i in range(10)]
    table = VectorTable(paths, 4)
    for i in (1, 3, 4, 8):
        table.put(paths[i], f"h{i}", np.full(4, i, np.float32))
    assert "h3" in table and "h5" not in table
    assert np.array_equal(table.get("h8"), np.full(4, 8.0))
    table.put(paths[9], "h8", table.get("h8"))  # a byte copy takes its twin's vector
    matrix = table.matrix
    out = table.take([paths[i] for i in (1, 3, 4, 8, 9)])
    assert np.shares_memory(out, matrix), "no second matrix for a 100k-photo library"
    assert out[:, 0].tolist() == [1, 3, 4, 8, 8]
    other = VectorTable(paths[:3], 2)
    other.put(paths[2], "x", np.ones(2, np.float32))
    assert other.take([paths[2], paths[0]]).tolist() == [[1, 1], [0, 0]]  # any order still works
