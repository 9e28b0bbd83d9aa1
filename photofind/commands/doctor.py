"""`photofind doctor`: what a bug report needs, and whether what was asked for can work.

Prints the versions, the torch build and devices, which weights a scan would use and from
where, which photo formats decode, and where the cache, journal and decisions live with their
sizes. Exits 1 when something asked for cannot work: a weights file (--weights or
$PHOTOFIND_WEIGHTS) that is missing or is not a ResNet-34, or a device this machine lacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_PROBLEMS = 0, 1

# The distributions a bug report needs, by their names on PyPI. PySide6-Essentials is what
# photofind depends on; a user may have the full PySide6 instead.
VERSIONS = (
    ("torch", ("torch",)),
    ("torchvision", ("torchvision",)),
    ("PySide6", ("PySide6-Essentials", "PySide6")),
    ("numpy", ("numpy",)),
    ("pillow", ("pillow",)),
    ("pillow-heif", ("pillow-heif",)),
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="print what a bug report needs; exit 1 if something asked for cannot work",
        description="Print versions, the torch build and device, the weights a scan would use, "
        "the photo formats that decode, and the cache and journal locations with their sizes. "
        "Exit 1 when something asked for (the options below, $PHOTOFIND_WEIGHTS) cannot work.",
    )
    p.add_argument(
        "--weights", metavar="PATH|random", help="check this weights file (default: where a scan looks)"
    )
    p.add_argument("--device", default="auto", help="check this device can be used: auto, cpu, cuda[:N], mps")
    p.add_argument("--cache", metavar="PATH", help="cache database (default: per-user cache dir)")
    p.add_argument("--journal", metavar="PATH", help="undo journal (default: per-user data dir)")
    p.set_defaults(run=run)


class Report:
    """Labelled lines, printed as they come (a hang still shows how far it got), and the
    problems, summed up at the end."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def line(self, label: str, text: str) -> None:
        print(f"{label + ':' if label else '':<12} {text}", flush=True)

    def problem(self, label: str, text: str) -> None:
        self.line(label, f"PROBLEM: {text}")
        self.problems.append(f"{label}: {text}")


def run(args: argparse.Namespace) -> int:
    # platform, subprocess and importlib.metadata are imported here, not with the module:
    # the CLI imports every command's module to build its parser, and these cost every
    # command's start-up about 70 ms.
    import platform

    report = Report()
    report.line("python", f"{platform.python_version()} ({sys.executable})")
    report.line("system", f"{platform.platform()}, {os.cpu_count()} CPUs")
    from photofind import __version__

    versions = [f"photofind {__version__}"] + [f"{label} {_version(names)}" for label, names in VERSIONS]
    report.line("versions", ", ".join(versions))
    torch = check_torch(report, args.device)
    check_weights(report, args.weights, torch_loads=torch is not None)
    check_formats(report)
    check_gui(report)
    check_storage(report, args.cache, args.journal)
    if report.problems:
        print(f"\n{len(report.problems)} problem(s):", *report.problems, sep="\n  ")
        return EXIT_PROBLEMS
    print("\nno problems found")
    return EXIT_OK


def _version(names: tuple[str, ...]) -> str:
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"


def check_torch(report: Report, device: str):
    """The torch build and the devices it can use; the module, or None if it cannot load."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - a broken install is exactly what the report must show
        report.problem("torch", f"cannot be imported ({exc}): similarity search cannot run")
        return None
    if torch.version.cuda:
        build = f"CUDA {torch.version.cuda} build"
    elif torch.version.hip:
        build = f"ROCm {torch.version.hip} build"
    else:
        build = "CPU-only build"
    report.line("torch", f"{torch.__version__} ({build}), {torch.get_num_threads()} CPU threads")
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if gpus:
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(gpus))
        report.line("CUDA", f"available: {names}")
    else:
        report.line("CUDA", "not available")
        if torch.version.cuda:
            report.line("", "this torch carries the CUDA libraries (about 5 GB) for no usable GPU;")
            report.line("", "the CPU-only build is enough here (README: Install and run)")
    mps = torch.backends.mps.is_available()
    if mps:
        report.line("MPS", "available (Apple GPU)")
    from photofind.core.model.embed import pick_device

    why = _device_unusable(device, gpus, mps)
    if why:
        report.problem("device", f"--device {device}: {why}")
    else:
        report.line("device", f"{device} -> {pick_device(device)}" if device == "auto" else device)
    return torch


def _device_unusable(device: str, gpus: int, mps: bool) -> str | None:
    kind, _, index = device.partition(":")
    if kind in ("auto", "cpu") and not index:
        return None
    if kind == "cuda":
        if not gpus:
            return "CUDA is not available (no NVIDIA GPU or driver, or a CPU-only torch)"
        if index and (not index.isdigit() or int(index) >= gpus):
            return f"no such GPU (this machine has {gpus})"
        return None
    if kind == "mps" and not index:
        return None if mps else "MPS (Apple GPU) is not available"
    return "unknown device (use auto, cpu, cuda, cuda:N or mps)"


def check_weights(report: Report, explicit: str | None, *, torch_loads: bool) -> None:
    """The weights a scan would use, resolved the same way, without downloading; a file is
    loaded into the network to prove it is a ResNet-34."""
    from photofind.core.model.weights import (
        ENV_VAR,
        IMAGENET_FILE,
        IMAGENET_URL,
        NO_DOWNLOAD_ENV,
        WeightsUnavailable,
        downloads_allowed,
        hub_checkpoint_dir,
        resolve_weights,
    )

    asked = explicit or os.environ.get(ENV_VAR)
    try:
        choice = resolve_weights(explicit, allow_download=False)
    except WeightsUnavailable as exc:
        if asked:
            report.problem("weights", str(exc))
        elif downloads_allowed():
            report.line("weights", f"not found; the first scan downloads {IMAGENET_URL}")
            report.line("", f"to {hub_checkpoint_dir() / IMAGENET_FILE} (about 83 MB)")
        else:
            report.line("weights", f"not found, and {NO_DOWNLOAD_ENV} turns the download off:")
            report.line("", "scans find exact and pixel-level duplicates only")
        return
    if choice.is_random:
        report.line("weights", f"{choice.label}: random init, for tests only (its groups are meaningless)")
        return
    found = f"{choice.label}, from {choice.source}: {choice.path}"
    if torch_loads:
        from photofind.core.model.embed import ResNetEmbedder

        try:
            ResNetEmbedder(choice, device="cpu", precision="fp32").load()
        except Exception as exc:  # noqa: BLE001 - any failure to load means a scan cannot use them
            first_line = (str(exc).strip().splitlines() or [""])[0]
            why = f"{type(exc).__name__}: {first_line}"
            report.problem("weights", f"{found}: cannot be loaded as ResNet-34 weights ({why})")
            return
    report.line("weights", found)


def check_formats(report: Report) -> None:
    from PIL import Image

    from photofind.core.scan import imageio  # noqa: F401 - registers pillow-heif's HEIC/AVIF opener
    from photofind.core.scan.formats import PHOTO_EXTENSIONS, RAW_EXTENSIONS

    readable = Image.registered_extensions()
    pillow_kinds = PHOTO_EXTENSIONS - RAW_EXTENSIONS
    missing = sorted(ext for ext in pillow_kinds if ext not in readable)
    report.line("formats", " ".join(sorted(pillow_kinds - set(missing))))
    if missing:
        report.line("unreadable", " ".join(missing))
    report.line("HEIC/HEIF", "yes (pillow-heif)" if ".heic" in readable else "no: pip install pillow-heif")
    report.line("RAW", _raw_support())


def _raw_support() -> str:
    try:
        import rawpy
    except ImportError:
        return "no: camera RAW files are skipped until rawpy is installed (pip install rawpy)"
    libraw = ".".join(str(part) for part in rawpy.libraw_version)
    return f"yes (rawpy {rawpy.__version__}, LibRaw {libraw})"


def check_gui(report: Report) -> None:
    """Whether Qt loads, in a child process: the CLI never imports PySide6, and a missing
    system library (libEGL, libxkbcommon) is the usual reason the app will not start."""
    import subprocess

    code = "import PySide6.QtWidgets"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        report.line("GUI", f"could not check whether Qt loads: {exc}")
        return
    if out.returncode == 0:
        report.line("GUI", "Qt loads")
    else:
        last = (out.stderr.strip().splitlines() or ["no message"])[-1]
        report.line("GUI", f"Qt does not load, the app cannot start: {last}")


def check_storage(report: Report, cache: str | None, journal: str | None) -> None:
    from photofind.core.cleanup.decisions import default_decisions_path
    from photofind.paths import default_cache_path, default_journal_path

    for label, path in (
        ("cache", Path(cache) if cache else default_cache_path()),
        ("journal", Path(journal) if journal else default_journal_path()),
        ("decisions", default_decisions_path()),
    ):
        report.line(label, f"{path} ({_size(path)})")


def _size(path: Path) -> str:
    """The SQLite database with its write-ahead log, as the disk sees it."""
    from photofind.core.units import human_bytes

    parts = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]
    if not parts[0].exists():
        return "not created yet"
    return human_bytes(sum(p.stat().st_size for p in parts if p.exists()))
