"""Choose the inference precision: the fastest one this machine runs faithfully.

On a CPU, bf16 is only worth it where the hardware has bf16 dot products (AVX512-BF16,
AMX); elsewhere oneDNN may emulate it, which can be slower than fp32. torch reports the
x86 features; where it cannot tell (Arm, emulation) we measure one small convolution in
both precisions. The answer is remembered in-process and on disk (keyed by CPU, core
count and torch version), so only the first scan on a machine pays for the probe.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# bf16 must beat fp32 by this much to be chosen: the gain has to survive a noisy probe,
# and below it the small fidelity cost is not worth paying.
MIN_SPEEDUP = 1.3
PROBE_FILE = "precision-probe.json"

_memo: dict[str, bool] = {}
_memo_lock = threading.Lock()


def resolve_precision(requested: str, device: str) -> str:
    """ "auto" -> "bf16", "fp16" or "fp32" for `device`; an explicit choice is kept."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {requested!r}")
    if requested != "auto":
        return requested
    if device.startswith("cuda"):
        import torch

        # Tensor cores run both at the same speed; bf16 has fp32's range, so it cannot
        # overflow. Before Ampere bf16 is emulated (slow) and fp16 is the fast one.
        major, _minor = torch.cuda.get_device_capability(torch.device(device))
        return "bf16" if major >= 8 else "fp16"
    if device == "cpu":
        return "bf16" if cpu_bf16_is_fast() else "fp32"
    return "fp32"  # mps and others: fp32 until someone measures their fast path


def torch_dtype(precision: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def cpu_bf16_is_fast(probe_dir: Path | None = None) -> bool:
    """True if bf16 convolutions run at least MIN_SPEEDUP times faster than fp32 here."""
    key = _machine_key()
    with _memo_lock:
        if key in _memo:
            return _memo[key]
        path = (probe_dir or _default_probe_dir()) / PROBE_FILE
        known = _read(path)
        if key in known and isinstance(known[key].get("bf16"), bool):
            answer = known[key]["bf16"]
        else:
            # Native support is trusted without timing: a probe on a busy machine is noisy,
            # and a wrong "no" would be remembered.
            native = cpu_has_native_bf16()
            speedup = None if native else measure_bf16_speedup()
            answer = native or (speedup is not None and speedup >= MIN_SPEEDUP)
            known[key] = {"bf16": answer, "native": native, "speedup": speedup, "measured": time.time()}
            _write(path, known)
        _memo[key] = answer
        return answer


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX, as torch's own CPU feature detection reports them."""
    import torch

    # Private functions of torch, added and renamed across its versions (torch 2.1, the oldest we
    # support, has neither): one that this torch lacks counts as "no".
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(torch.cpu, name, None)
        try:
            if check is not None and check():
                return True
        except RuntimeError:
            continue
    return False


def measure_bf16_speedup() -> float:
    """fp32 time / bf16 time for a ResNet-like 3x3 convolution (0.0: bf16 unsupported)."""
    import copy

    import torch

    try:
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            return 0.0
    except (AttributeError, RuntimeError):
        return 0.0
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1).eval().to(memory_format=torch.channels_last)
    conv_bf16 = copy.deepcopy(conv).to(torch.bfloat16)
    x = torch.randn(8, 128, 28, 28).contiguous(memory_format=torch.channels_last)
    variants = {"fp32": (conv, x), "bf16": (conv_bf16, x.to(torch.bfloat16))}
    best = {name: float("inf") for name in variants}
    try:
        with torch.inference_mode():
            for _round in range(4):  # interleaved, best of 4: a burst of load hits both
                for name, (module, inp) in variants.items():
                    module(inp)
                    start = time.perf_counter()
                    module(inp)
                    module(inp)
                    best[name] = min(best[name], time.perf_counter() - start)
    except RuntimeError:  # no bf16 kernel for this CPU after all
        return 0.0
    return round(best["fp32"] / max(best["bf16"], 1e-9), 2)


def _machine_key() -> str:
    import torch

    return f"{_cpu_name()}|{os.cpu_count()}|torch {torch.__version__}"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown cpu"


def _default_probe_dir() -> Path:
    from photofind.paths import cache_dir

    return cache_dir()


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}  # missing or damaged: measure again


def _write(path: Path, data: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache dir only means measuring again next time
