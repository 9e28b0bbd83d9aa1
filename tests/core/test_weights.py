import pytest

from photofind.core.model import weights as w


def test_random_is_explicit_and_labelled():
    choice = w.resolve_weights("random")
    assert choice.is_random and "random" in choice.model_id


def test_offline_without_weights_says_what_to_do():
    with pytest.raises(w.WeightsUnavailable) as err:
        w.resolve_weights(None, allow_download=False)
    text = str(err.value)
    assert "--weights" in text and w.ENV_VAR in text and "Exact" in text


def test_download_failure_is_a_clear_error(monkeypatch):
    def boom(*a, **k):
        raise OSError("network is unreachable")

    import torch.hub

    monkeypatch.setattr(torch.hub, "download_url_to_file", boom)
    with pytest.raises(w.WeightsUnavailable, match="network is unreachable"):
        w.resolve_weights(None, allow_download=True)


def test_order_explicit_then_env_then_hub_cache(tmp_path, monkeypatch):
    hub = w.hub_checkpoint_dir()
    hub.mkdir(parents=True)
    (hub / w.IMAGENET_FILE).write_bytes(b"hub")
    assert w.resolve_weights(None).source == "torch hub cache"
    envfile = tmp_path / "env.pth"
    envfile.write_bytes(b"env")
    monkeypatch.setenv(w.ENV_VAR, str(envfile))
    assert w.resolve_weights(None).source == f"env {w.ENV_VAR}"
    flag = tmp_path / "flag.pth"
    flag.write_bytes(b"flag")
    choice = w.resolve_weights(str(flag))
    assert choice.source == "explicit path"
    assert choice.label == "file-sha256:" + w.sha256_file(flag)[:12]


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(w.WeightsUnavailable, match="not found"):
        w.resolve_weights(str(tmp_path / "nope.pth"))


def test_weights_file_loads_into_resnet(tmp_path, random_resnet):
    """A state dict on disk (as a user would pass) loads and embeds like the original."""
    import numpy as np
    import torch

    from photofind.core.model.embed import ResNetEmbedder
    from photofind.core.model.resnet import build_resnet34

    path = tmp_path / "weights.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the same draw as the random_resnet fixture's weights
        torch.save(build_resnet34().state_dict(), path)  # torchvision's layout, as users have it
    loaded = ResNetEmbedder(w.resolve_weights(str(path)), device="cpu", precision="fp32")
    batch = np.random.default_rng(0).normal(size=(2, 3, 224, 224)).astype(np.float32)
    a, b = random_resnet.embed(batch), loaded.embed(batch)
    assert a.shape == (2, 512)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert float((a * b).sum(axis=1).min()) > 0.999
    assert loaded.model.id.startswith("resnet34/file-sha256:")
