"""The fast inference path (bf16 on CPUs that have it) embeds like fp32, and fp32 can be forced."""

from __future__ import annotations

import json

import numpy as np
import pytest

from photofind.core.model import precision as prec
from photofind.core.model.embed import ResNetEmbedder, prepare_imagenet
from photofind.core.model.weights import resolve_weights
from photofind.core.scan.imageio import decode_bytes
from photofind.core.types import ScanSettings
from tests import imagefactory as f


def _sample_inputs() -> np.ndarray:
    """Photo-like inputs the way a scan prepares them, with their known derivatives."""
    scenes = [f.make_scene(seed, (320, 240)) for seed in (1, 2, 3, 4, 5)]
    scenes.append(f.crop_center(scenes[0], 0.8))
    scenes.append(scenes[1].resize((160, 120)))
    arrays = []
    for im in scenes:
        decoded = decode_bytes(f.jpeg_bytes(im, 85), min_side=224)
        arrays.append(prepare_imagenet(decoded.image))
    return np.stack(arrays)


def _native_bf16() -> bool:
    pytest.importorskip("torch")
    return prec.cpu_has_native_bf16()


@pytest.fixture(scope="module")
def bf16_resnet():
    if not _native_bf16():
        pytest.skip("this CPU has no native bf16 (AVX512-BF16/AMX)")
    embedder = ResNetEmbedder(resolve_weights("random"), device="cpu", precision="bf16")
    embedder.load()
    return embedder


@pytest.mark.slow
def test_bf16_embeddings_match_fp32(bf16_resnet, random_resnet):
    x = _sample_inputs()
    fast, exact = bf16_resnet.embed(x), random_resnet.embed(x)
    assert bf16_resnet.precision == "bf16" and random_resnet.precision == "fp32"
    cosines = np.sum(fast * exact, axis=1)
    assert cosines.min() >= 0.999, cosines
    # Not trivially equal: the fast path really computed in another precision.
    assert not np.array_equal(fast, exact)


@pytest.mark.slow
def test_precisions_share_one_model_id(bf16_resnet, random_resnet):
    assert bf16_resnet.model.id == random_resnet.model.id
    assert bf16_resnet.model.precision == "bf16" and random_resnet.model.precision == "fp32"


def test_auto_picks_bf16_on_a_cpu_with_native_bf16(tmp_path, monkeypatch):
    if not _native_bf16():
        pytest.skip("this CPU has no native bf16")
    prec._memo.clear()
    assert prec.resolve_precision("auto", "cpu") == "bf16"


@pytest.mark.slow
def test_fp32_embedding_equals_torchvision_avgpool_features(random_resnet):
    """Our ResNet-34 is torchvision's (layout and seeded init), and folding batch norm and
    dropping the classifier do not change the function."""
    import torch
    from torchvision.models import resnet34

    from photofind.core.model.resnet import build_resnet34

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        reference = resnet34(weights=None).eval()
    ours = build_resnet34().state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in reference.state_dict().items()}, (
        "torchvision checkpoints must load unchanged"
    )
    reference.fc = torch.nn.Identity()
    x = _sample_inputs()
    with torch.inference_mode():
        want = reference(torch.from_numpy(x)).numpy()
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    got = random_resnet.embed(x)
    assert np.sum(got * want, axis=1).min() > 0.99999


def test_precision_setting_reaches_the_embedder_and_a_bad_one_is_explained():
    from photofind.core.pipeline import make_embedder

    embedder, problem = make_embedder(ScanSettings(roots=(), weights="random", precision="fp32"))
    assert problem is None and embedder.model.precision == "fp32"  # forced: never resolved to bf16
    embedder, problem = make_embedder(ScanSettings(roots=(), weights="random", precision="fp8"))
    assert embedder is None and "precision must be one of" in problem


# -- choosing and remembering the precision ----------------------------------------------------


def test_explicit_precisions_are_kept_and_bad_ones_refused():
    for p in ("fp32", "bf16", "fp16"):
        assert prec.resolve_precision(p, "cpu") == p
    assert prec.resolve_precision("auto", "mps") == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        prec.resolve_precision("int3", "cpu")


def test_probe_answer_is_remembered_on_disk(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: calls.append("native") or False)
    monkeypatch.setattr(prec, "measure_bf16_speedup", lambda: calls.append("timed") or 1.9)
    prec._memo.clear()
    assert prec.cpu_bf16_is_fast(tmp_path) is True
    assert calls == ["native", "timed"]
    saved = json.loads((tmp_path / prec.PROBE_FILE).read_text())
    (entry,) = saved.values()
    assert entry["bf16"] is True and entry["speedup"] == 1.9

    prec._memo.clear()  # a new process: the file answers, nothing is measured again
    assert prec.cpu_bf16_is_fast(tmp_path) is True
    assert calls == ["native", "timed"]


def test_slow_emulated_bf16_is_not_chosen_and_a_damaged_file_is_remeasured(tmp_path, monkeypatch):
    monkeypatch.setattr(prec, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setattr(prec, "measure_bf16_speedup", lambda: 0.8)
    (tmp_path / prec.PROBE_FILE).write_text("{not json")
    prec._memo.clear()
    assert prec.cpu_bf16_is_fast(tmp_path) is False
    assert prec.resolve_precision("auto", "cpu") == "fp32"
    prec._memo.clear()
