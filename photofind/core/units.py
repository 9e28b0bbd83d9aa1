"""Numbers as people read them, shared by the CLI and the GUI."""

from __future__ import annotations


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KB' (binary multiples, one decimal; whole bytes below 1 KB)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
