"""Image embeddings: ResNet-34's 512-d pooled features, L2-normalised.

torch is imported only when a model is loaded, so the CLI's --help and the engine's
non-CNN paths stay fast. The model loads once, on first use, and can be injected.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np
from PIL import Image

from photofind.core.types import ModelInfo
from photofind.core.weights import ARCH, WeightsChoice

INPUT_SIZE = 224
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)


class Embedder(Protocol):
    """Anything that turns images into comparable unit vectors."""

    @property
    def model(self) -> ModelInfo: ...

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Image -> model input array. Pure numpy/PIL so decode threads can run it."""

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """(n, ...) prepared inputs -> (n, dim) float32 rows of unit length."""


def prepare_imagenet(image: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """Squash the whole photo to size x size. A centre crop would throw away the borders
    that distinguish a crop from its original, and padding wastes input pixels."""
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (arr - _MEAN) / _STD


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def pick_device(requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class ResNetEmbedder:
    """torchvision ResNet-34; the embedding is captured by a forward hook on `avgpool`."""

    def __init__(
        self,
        weights: WeightsChoice,
        *,
        device: str = "auto",
        precision: str = "fp32",
        threads: int | None = None,
    ) -> None:
        self.weights = weights
        self._device_request = device
        self._precision = precision
        self._threads = threads
        self._lock = threading.Lock()
        self._net = None
        self._device = "cpu"
        self._captured: list = []

    @property
    def model(self) -> ModelInfo:
        return ModelInfo(
            id=self.weights.model_id,
            arch=ARCH,
            weights=self.weights.label,
            source=self.weights.path or self.weights.source,
            dim=512,
            device=self._device if self._net is not None else self._device_request,
            precision=self._precision,
        )

    def load(self) -> None:
        """Build the network once; later calls return at once."""
        with self._lock:
            if self._net is not None:
                return
            import torch
            from torchvision.models import resnet34

            torch.set_num_threads(self._threads or max(1, os.cpu_count() or 1))
            if self.weights.is_random:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(self.weights.seed)
                    net = resnet34(weights=None)
            else:
                net = resnet34(weights=None)
                state = torch.load(self.weights.path, map_location="cpu", weights_only=True)
                if isinstance(state, dict) and "state_dict" in state:
                    state = state["state_dict"]
                net.load_state_dict(state)
            net.avgpool.register_forward_hook(self._capture)
            self._device = pick_device(self._device_request)
            net.eval().to(self._device)
            if self._device == "cpu":
                net = net.to(memory_format=torch.channels_last)
            self._net = net

    def _capture(self, _module, _inputs, output) -> None:
        self._captured.append(output)

    def prepare(self, image: Image.Image) -> np.ndarray:
        return prepare_imagenet(image)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        self.load()
        import torch

        with self._lock, torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self._device)
            if self._device == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            self._captured.clear()
            self._net(x)
            pooled = self._captured.pop().flatten(1).float().cpu().numpy()
        return l2_normalise(pooled)
