"""Shared fixtures: generated photo libraries, a fast fake embedder, a seeded real ResNet."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import photofind.gui  # noqa: E402, F401 - before PySide6 is imported: it sets how PySide6 makes its types

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["PHOTOFIND_NO_DOWNLOAD"] = "1"  # tests never touch the network

from photofind.core.model.embed import NumpyEmbedder  # noqa: E402
from photofind.core.types import ModelInfo  # noqa: E402
from tests import imagefactory as factory  # noqa: E402


class FakeEmbedder(NumpyEmbedder):
    """Deterministic and fast: the embedding is a centred, normalised low-resolution copy of
    the picture, so resized or re-encoded copies land close and different scenes far apart.
    Its loads and threads are counted and kept as ResNetEmbedder's would be."""

    shares_cores = True  # the scan budgets its threads as it does the CNN's

    def __init__(self) -> None:
        self.calls = 0
        self.images_embedded = 0
        self.loads = 0

    def load(self) -> None:
        """Nothing to load; counted, as ResNetEmbedder.load is asked for by `similar`."""
        self.loads += 1

    def set_threads(self, threads: int | None) -> None:
        self.threads = threads

    @property
    def model(self) -> ModelInfo:
        return ModelInfo(id="fake/lowres-v1", arch="fake", weights="fake", source="tests", dim=512)

    def prepare(self, image: Image.Image) -> np.ndarray:
        gray = np.asarray(image.convert("L").resize((16, 16), Image.Resampling.BOX), np.float32)
        colour = np.asarray(image.convert("RGB").resize((8, 8), Image.Resampling.BOX), np.float32)
        vec = np.zeros(512, np.float32)
        vec[:256] = gray.ravel()
        vec[256:448] = colour.ravel()
        return vec

    def embed(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.images_embedded += len(batch)
        x = batch - batch.mean(axis=1, keepdims=True)
        return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)).astype(np.float32)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def resnet34_file(tmp_path_factory):
    """A ResNet-34 weights file (torchvision's layout, random init), as a user would pass it."""
    import torch

    from photofind.core.model.resnet import build_resnet34

    path = tmp_path_factory.mktemp("weights") / "resnet34.pth"
    torch.save(build_resnet34().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def random_resnet():
    """The real ResNet-34 code path with seeded random weights (no download possible here)."""
    from photofind.core.model.embed import ResNetEmbedder
    from photofind.core.model.weights import resolve_weights

    embedder = ResNetEmbedder(resolve_weights("random"), device="cpu", precision="fp32")
    embedder.load()
    return embedder


@pytest.fixture
def cache_path(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "cache.sqlite3"


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user's cache, journal, settings or trash."""
    monkeypatch.setenv("PHOTOFIND_CACHE_DIR", str(tmp_path / "user-cache"))
    monkeypatch.setenv("PHOTOFIND_DATA_DIR", str(tmp_path / "user-data"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("PHOTOFIND_WEIGHTS", raising=False)


@pytest.fixture
def library(tmp_path: Path) -> dict[str, object]:
    """A small library with known groups:
    - A: original + byte copy + EXIF-rotated copy   -> one group (A's bytes twice: exact within)
    - B: original + 50% resize + JPEG q40 re-encode  -> near group
    - C: original + 90% centre crop                   -> near group
    - D, E, F: unrelated singles
    - bad/: one file of each skip reason
    """
    root = tmp_path / "photos"
    scenes = {k: factory.make_scene(seed) for k, seed in zip("ABCDEF", (11, 22, 33, 44, 55, 66))}
    paths: dict[str, Path] = {}
    paths["A"] = factory.save(scenes["A"], root / "trip" / "a.jpg")
    paths["A_copy"] = factory.copy(paths["A"], root / "backup" / "a copy.jpg")
    paths["A_rot"] = factory.exif_rotated_copy(scenes["A"], root / "phone" / "a_rotated.jpg")
    paths["B"] = factory.save(scenes["B"], root / "trip" / "b.jpg")
    paths["B_half"] = factory.save(
        scenes["B"].resize((240, 180), Image.Resampling.LANCZOS), root / "web" / "b_small.jpg"
    )
    paths["B_q40"] = factory.save(scenes["B"], root / "web" / "b_q40.jpg", quality=40)
    paths["C"] = factory.save(scenes["C"], root / "trip" / "c.png")
    paths["C_crop"] = factory.save(factory.crop_center(scenes["C"], 0.9), root / "edits" / "c_crop.jpg")
    for k in "DEF":
        paths[k] = factory.save(scenes[k], root / "misc" / f"{k.lower()}.jpg")
    bad = factory.write_bad_files(root / "bad")
    expected = [
        {paths["A"], paths["A_copy"], paths["A_rot"]},
        {paths["B"], paths["B_half"], paths["B_q40"]},
        {paths["C"], paths["C_crop"]},
    ]
    return {"root": root, "paths": paths, "bad": bad, "expected_groups": expected}
