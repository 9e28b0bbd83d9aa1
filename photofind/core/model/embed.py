"""Image embeddings: ResNet-34's 512-d pooled features, L2-normalised, at the fastest
precision this machine runs faithfully.

torch is imported only when a model is loaded, so the CLI's --help and the engine's
non-CNN paths stay fast. The model loads once, on first use, and can be injected.
"""

from __future__ import annotations

import os
import threading
import zipfile
from typing import Any, Protocol

import numpy as np
from PIL import Image

from photofind.core.model.precision import resolve_precision, torch_dtype
from photofind.core.model.weights import ARCH, WeightsChoice, WeightsUnavailable
from photofind.core.types import ModelInfo

INPUT_SIZE = 224
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(3, 1, 1)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(3, 1, 1)
# Folded into one multiply-add per pixel: (x/255 - mean)/std == x*scale + offset.
_SCALE = (1.0 / (255.0 * _STD)).astype(np.float32)
_OFFSET = (-_MEAN / _STD).astype(np.float32)


class Embedder(Protocol):
    """Anything that turns images into comparable unit vectors, and what a scan asks of it
    besides: a model to load while the first photos decode, the device it runs on, and the
    CPU threads inference may take. NumpyEmbedder gives the last three to a simple one."""

    @property
    def model(self) -> ModelInfo: ...

    @property
    def device_hint(self) -> str:
        """The device asked for ("auto", "cpu", "cuda", ...) or, once loaded, the one in use;
        never loads."""

    @property
    def shares_cores(self) -> bool:
        """True when inference runs on CPU threads that `set_threads` bounds: the scan then
        shares the cores out between it and the decoders (ingest.ThreadPlan)."""

    @property
    def threads(self) -> int | None:
        """The CPU threads inference may take (None: every core)."""

    def set_threads(self, threads: int | None) -> None: ...

    def load(self) -> None:
        """Make the model ready (seconds); embed() loads too, so this only starts it early."""

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Image -> model input array. Pure numpy/PIL so decode threads can run it."""

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """(n, ...) prepared inputs -> (n, dim) float32 rows of unit length."""


def counts_as_cpu(device_hint: str) -> bool:
    """Whether a scan plans its threads for inference on the CPU: "cpu", or "auto" before the
    model has loaded (the scan plans before it knows where "auto" lands)."""
    return device_hint in ("cpu", "auto")


class NumpyEmbedder:
    """The rest of Embedder for one that computes in numpy on the calling thread (the tests'
    and the benchmarks' stand-ins for the CNN): nothing to load, on the CPU, and no threads
    for the scan to share out. A subclass gives `model`, `prepare` and `embed`."""

    device_hint = "cpu"
    shares_cores = False
    threads: int | None = None

    def load(self) -> None:
        """Nothing to load."""

    def set_threads(self, threads: int | None) -> None:
        """No threads to bound."""


def prepare_imagenet(image: Image.Image, size: int = INPUT_SIZE) -> np.ndarray:
    """Squash the whole photo to size x size. A centre crop would throw away the borders
    that distinguish a crop from its original, and padding wastes input pixels."""
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    arr = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1)
    return arr * _SCALE + _OFFSET


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


DEVICES_HELP = "auto, cpu, cuda, cuda:N or mps"


def device_problem(requested: str) -> str | None:
    """Why inference cannot run on `requested`, or None. Asked before a scan starts, since a
    fully cached library would otherwise never try the device (imports torch for a GPU)."""
    if requested in ("auto", "cpu"):
        return None
    import torch

    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        return f"unknown device {requested!r}: use {DEVICES_HELP}"
    if device.type == "cuda":
        if not torch.cuda.is_available():
            built = "" if torch.version.cuda else ", and this torch is built without CUDA"
            return f"device {requested!r}: no CUDA GPU is available on this machine{built}"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"device {requested!r}: this machine has {count} CUDA GPU(s), numbered from 0"
        return None
    if device.type == "mps":
        return None if torch.backends.mps.is_available() else f"device {requested!r}: no Apple GPU here"
    return f"device {requested!r} is not supported: use {DEVICES_HELP}"


def _read_state(torch, path: str, expected: dict) -> dict:
    """The state dict in `path`, checked against ResNet-34's layout, or WeightsUnavailable
    saying what is wrong with the file."""
    try:
        # Mapped, not read into memory first: the fold reads each tensor once, straight from
        # the page cache, into its final layout. A file in the legacy (non-zip) format cannot
        # be mapped; it is read as before.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except (RuntimeError, EOFError) as exc:
        first = str(exc).split(". ")[0]
        raise WeightsUnavailable(f"the weights file {path} is truncated or damaged ({first})") from exc
    except Exception as exc:  # noqa: BLE001 - pickle, zip and torch each raise their own kinds
        raise WeightsUnavailable(f"{path} is not a PyTorch weights file ({type(exc).__name__})") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailable(f"{path} holds a {type(state).__name__}, not a dict of ResNet-34 weights")
    missing = [k for k in expected if k not in state]
    wrong = [k for k, v in expected.items() if k in state and getattr(state[k], "shape", None) != v.shape]
    if missing or wrong:
        example = (missing or wrong)[0]
        raise WeightsUnavailable(
            f"{path} does not hold ResNet-34 weights: {len(missing)} of its {len(expected)} tensors "
            f"are missing and {len(wrong)} have another shape (e.g. {example})"
        )
    return state


def pick_device(requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


class ResNetEmbedder:
    """ResNet-34 (torchvision's layout and weights) up to its global average pool.

    Batch norm is folded into the convolutions, and on a fast path the folded weights are
    stored in bf16/fp16 once, instead of being cast on every call as autocast would do.
    The model id does not depend on the precision: fast-path embeddings stay within cosine
    0.999 of fp32 (tests/core/test_embed_precision.py), so they are compared as one model.
    """

    def __init__(
        self,
        weights: WeightsChoice,
        *,
        device: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.weights = weights
        self._device_request = device
        self._precision_request = precision
        self._threads = threads
        self._lock = threading.Lock()
        self._net: Any = None  # a torch module, built on load (torch is imported lazily)
        self._fp32_net: Any = None  # fp16 only: the fallback for a batch that overflows
        self._device = "cpu"
        self._precision = precision

    @property
    def model(self) -> ModelInfo:
        loaded = self._net is not None
        return ModelInfo(
            id=self.weights.model_id,
            arch=ARCH,
            weights=self.weights.label,
            source=self.weights.path or self.weights.source,
            dim=512,
            device=self._device if loaded else self._device_request,
            precision=self._precision if loaded else self._precision_request,
        )

    @property
    def device(self) -> str:
        """The device inference runs on ("cpu", "cuda", ...), resolved on load."""
        self.load()
        return self._device

    @property
    def device_hint(self) -> str:
        """The device if loaded, else the one asked for ("auto" included); never loads."""
        return self._device if self._net is not None else self._device_request

    @property
    def shares_cores(self) -> bool:
        """On the CPU, torch's threads (bounded per batch by set_threads) share the cores with
        the decoders. On a GPU they do not: pausing the decoders while a batch runs there
        would only idle them."""
        return counts_as_cpu(self.device_hint)

    @property
    def precision(self) -> str:
        """ "fp32", "bf16" or "fp16": what `embed` really computes in, resolved on load."""
        self.load()
        return self._precision

    @property
    def threads(self) -> int | None:
        return self._threads

    def set_threads(self, threads: int | None) -> None:
        """How many CPU threads torch may use for one batch (None: all cores). The scan
        pipeline lowers this so inference and the decoders share the cores without
        oversubscribing them."""
        self._threads = threads

    def load(self) -> None:
        """Build the network once; later calls return at once."""
        with self._lock:
            if self._net is not None:
                return
            import torch

            if self._threads is not None:  # the fold of the weights runs in this thread
                _apply_threads(torch, self._threads)
            self._device = pick_device(self._device_request)
            self._precision = resolve_precision(self._precision_request, self._device)
            if self._precision == "fp16":
                self._fp32_net = self._build(torch, "fp32")
                import copy

                self._net = copy.deepcopy(self._fp32_net).to(torch.float16)
            else:
                self._net = self._build(torch, self._precision)

    def _build(self, torch, precision: str):
        """The folded network in `precision` on the device; on a CPU its weights channels-last."""
        from photofind.core.model.resnet import build_resnet34, fold_batchnorm, resnet34_skeleton

        path = self.weights.path
        if path is None:  # random weights
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.weights.seed)
                net = build_resnet34()
        else:
            net = resnet34_skeleton()  # no random init: the file's tensors are used as they are
            net.load_state_dict(_read_state(torch, path, net.state_dict()), assign=True)
        net.fc = torch.nn.Identity()  # the embedding is the pooled 512-d feature
        folded = fold_batchnorm(net, channels_last=self._device == "cpu", dtype=torch_dtype(precision))
        return folded.to(self._device)

    def prepare(self, image: Image.Image) -> np.ndarray:
        return prepare_imagenet(image)

    def embed(self, batch: np.ndarray) -> np.ndarray:
        self.load()
        import torch

        with self._lock, torch.inference_mode():
            if self._device == "cpu":
                _apply_threads(torch, self._threads)
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self._device)
            if self._device == "cpu":
                x = x.contiguous(memory_format=torch.channels_last)
            out = self._net(x.to(torch_dtype(self._precision))).float()
            if self._fp32_net is not None and not bool(torch.isfinite(out).all()):
                out = self._fp32_net(x)  # fp16 overflowed: redo this batch in fp32
            pooled = out.flatten(1).cpu().numpy()
        return l2_normalise(pooled)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _apply_threads(torch, threads: int | None) -> None:
    """torch keeps its OpenMP thread count per calling thread, so it is set here, in the
    thread that runs the model, and only when it differs (resizing the pool costs)."""
    wanted = max(1, threads or usable_cores())
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
