"""Words and numbers as the app shows them: bytes, similarity, tiers, durations, dates."""

from __future__ import annotations

from photofind.core.types import Tier
from photofind.core.units import human_bytes  # noqa: F401 - re-exported

TIER_LABELS = {
    Tier.EXACT: "Exact copies",
    Tier.PIXELS: "Same pixels",
    Tier.NEAR: "Near duplicates",
    Tier.SIMILAR: "Similar",
}
TIER_SHORT = {Tier.EXACT: "Exact", Tier.PIXELS: "Pixels", Tier.NEAR: "Near", Tier.SIMILAR: "Similar"}
TIER_HELP = {
    Tier.EXACT: "The same bytes: deleting a copy loses nothing.",
    Tier.PIXELS: "The same picture, different metadata or container.",
    Tier.NEAR: "The same photo resized, re-encoded, cropped or lightly edited.",
    Tier.SIMILAR: "Different photos of the same scene (bursts, retakes). Review before acting.",
}
BURST_HELP = (
    "A burst: one camera took these seconds apart. The best shot is suggested; nothing is "
    "marked unless you choose \u201cKeep the best shot, trash the rest\u201d (right-click)."
)
# Tier colours, strongest-to-weakest: green is safe to clean, purple asks for a look.
TIER_COLORS = {Tier.EXACT: "#3fb27f", Tier.PIXELS: "#2fa4c2", Tier.NEAR: "#e0a030", Tier.SIMILAR: "#9b7cf6"}


def percent(similarity: float) -> str:
    """Cosine as a percentage; 99.95% must not read as 100% unless it is exact."""
    value = similarity * 100
    if value >= 99.95 and similarity < 1.0:
        return "99.9%"
    return f"{value:.0f}%" if value >= 99.95 or value < 10 else f"{value:.1f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short_date(taken: str | None) -> str:
    """'2021-07-04T10:22:01' -> '2021-07-04 10:22'."""
    if not taken:
        return ""
    return taken.replace("T", " ")[:16]


def resolution(width: int, height: int) -> str:
    return f"{width}\u00d7{height}"


def megapixels(width: int, height: int) -> str:
    return f"{width * height / 1e6:.1f} MP"


def calibration_note(calibration, *, tuning: bool = True) -> str:
    """What the thresholds are and how far to trust them: `calibration` (a
    calibrate.Calibration) is None when the library was too small to learn from, or when
    the user set the slider (`tuning` False)."""
    if not tuning:
        return "Set by you. Auto tunes the thresholds on this library."
    if calibration is None:
        return "Default thresholds: the library is too small to tune them on."
    note = (
        f"Tuned on this library: similar from {percent(calibration.similar)} alike, estimated "
        f"precision {calibration.estimated_precision:.0%} (target {calibration.target_precision:.0%}). "
        "Near duplicates are also confirmed by their pixels."
    )
    if calibration.estimated_precision < calibration.target_precision:
        note += " This model cannot reach the target: review similar groups before acting."
    return note


def headline(message: str, limit: int = 110) -> str:
    """The first clause of an engine message, for a one-line notice: what is wrong, without
    the paths and the raw error that follow it (those go behind a Details button)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    cut = min(
        (i for i in (first.find(" ("), first.find(": "), first.find(". ")) if i > 0), default=len(first)
    )
    line = first[:cut].rstrip(" .")
    line = line[:1].upper() + line[1:]
    if len(line) > limit:
        line = line[: limit - 1].rstrip() + "\u2026"
    return line + "." if line and line[-1] not in ".!?\u2026" else line
