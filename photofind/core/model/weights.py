"""Find the ResNet-34 weights: explicit path, then the torch hub cache, then a download.

Never falls back to random weights: "random" must be asked for by name, and it is labelled
as such in the model id so no one mistakes its groups for real ones.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RANDOM = "random"
ENV_VAR = "PHOTOFIND_WEIGHTS"
NO_DOWNLOAD_ENV = "PHOTOFIND_NO_DOWNLOAD"
IMAGENET_URL = "https://download.pytorch.org/models/resnet34-b627a593.pth"
IMAGENET_FILE = "resnet34-b627a593.pth"
IMAGENET_SHA256_PREFIX = "b627a593"  # torchvision names files after their sha256 prefix
IMAGENET_LABEL = "imagenet1k-v1"
ARCH = "resnet34"


class WeightsUnavailable(RuntimeError):
    """No usable weights. The message says where we looked and what the user can do."""


@dataclass(frozen=True)
class WeightsChoice:
    path: str | None  # None for random init
    label: str  # "imagenet1k-v1", "random(seed=0)", "file-sha256:<12 hex>"
    source: str  # "explicit path", "env PHOTOFIND_WEIGHTS", "torch hub cache", "download", "random"
    seed: int = 0

    @property
    def is_random(self) -> bool:
        return self.path is None

    @property
    def model_id(self) -> str:
        return f"{ARCH}/{self.label}"


def hub_checkpoint_dir() -> Path:
    """torch.hub's checkpoint folder, computed without importing torch (same rules)."""
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        torch_home = os.path.join(xdg, "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def downloads_allowed() -> bool:
    """False when $PHOTOFIND_NO_DOWNLOAD turns the weights download off."""
    return os.environ.get(NO_DOWNLOAD_ENV, "") in ("", "0")


def resolve_weights(
    explicit: str | None = None,
    *,
    allow_download: bool | None = None,
    report: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> WeightsChoice:
    """Return the weights to use, in the documented order, or raise WeightsUnavailable."""
    if explicit == RANDOM:
        return WeightsChoice(path=None, label=f"random(seed={seed})", source=RANDOM, seed=seed)
    if explicit:
        return _from_file(explicit, "explicit path")
    env = os.environ.get(ENV_VAR)
    if env == RANDOM:
        return resolve_weights(RANDOM, seed=seed)
    if env:
        return _from_file(env, f"env {ENV_VAR}")
    cached = hub_checkpoint_dir() / IMAGENET_FILE
    if cached.is_file():
        return WeightsChoice(path=str(cached), label=IMAGENET_LABEL, source="torch hub cache")
    if allow_download is None:
        allow_download = downloads_allowed()
    if not allow_download:
        raise WeightsUnavailable(_missing_message(cached, "downloads are turned off"))
    try:
        return _download(cached, report)
    except Exception as exc:  # noqa: BLE001 - any network or hash failure means "no weights"
        raise WeightsUnavailable(_missing_message(cached, f"download failed: {exc}")) from exc


def _from_file(path: str, source: str) -> WeightsChoice:
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsUnavailable(f"ResNet-34 weights file not found: {p} (from {source})")
    digest = sha256_file(p)
    label = IMAGENET_LABEL if digest.startswith(IMAGENET_SHA256_PREFIX) else f"file-sha256:{digest[:12]}"
    return WeightsChoice(path=str(p.resolve()), label=label, source=source)


def _download(target: Path, report: Callable[[int, int], None] | None) -> WeightsChoice:
    import torch.hub  # lazy: only a real download needs torch at this point

    target.parent.mkdir(parents=True, exist_ok=True)
    # hash_prefix makes torch verify the sha256 before the file is moved into place.
    torch.hub.download_url_to_file(
        IMAGENET_URL, str(target), hash_prefix=IMAGENET_SHA256_PREFIX, progress=report is None
    )
    return WeightsChoice(path=str(target), label=IMAGENET_LABEL, source="download")


def _missing_message(cached: Path, why: str) -> str:
    return (
        "ResNet-34 ImageNet weights are not available, so visual similarity is off "
        f"({why}). Looked for: --weights/settings, ${ENV_VAR}, {cached}. "
        f"Fix: download {IMAGENET_URL} and pass --weights PATH (or put it at {cached}). "
        "Exact and pixel-level duplicates are still found."
    )


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
