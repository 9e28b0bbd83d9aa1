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
    # Built on the meta device and given the file's tensors: the very network of the seed.
    assert np.array_equal(a, b)
    assert loaded.model.id.startswith("resnet34/file-sha256:")


def test_folding_batch_norm_matches_torch_fusion_bit_for_bit():
    """The seeded random model is what it was: fold_batchnorm writes straight into the final
    layout and precision, with the numbers torch's own fuse_conv_bn_eval gives."""
    import copy

    import torch
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    from photofind.core.model.resnet import build_resnet34, fold_batchnorm

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = build_resnet34()
        with torch.no_grad():  # trained-looking statistics, so the fold changes every weight
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.normal_()
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.normal_()
                    m.bias.normal_()
    net.fc = torch.nn.Identity()
    reference = copy.deepcopy(net).eval()
    with torch.no_grad():
        for owner in [
            reference,
            *[b for s in (reference.layer1, reference.layer2, reference.layer3, reference.layer4) for b in s],
        ]:
            owner.conv1 = fuse_conv_bn_eval(owner.conv1, owner.bn1)
            owner.bn1 = torch.nn.Identity()
            if owner is not reference:
                owner.conv2 = fuse_conv_bn_eval(owner.conv2, owner.bn2)
                owner.bn2 = torch.nn.Identity()
                if owner.downsample is not None:
                    owner.downsample[0] = fuse_conv_bn_eval(owner.downsample[0], owner.downsample[1])
                    owner.downsample[1] = torch.nn.Identity()
    for dtype in (torch.float32, torch.bfloat16):
        ours = fold_batchnorm(copy.deepcopy(net), channels_last=True, dtype=dtype).state_dict()
        want = reference.to(dtype).state_dict()
        assert ours.keys() == want.keys()
        assert all(torch.equal(ours[k], want[k]) for k in want)
        assert ours["conv1.weight"].dtype == dtype
        assert ours["conv1.weight"].is_contiguous(memory_format=torch.channels_last)
