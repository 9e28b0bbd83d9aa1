"""Carry metadata over: what a removed copy knows and the kept photo does not (date taken, GPS
position, rating, keywords, description), to be written into the keeper's XMP sidecar.

Read with pyexiv2 (Exiv2: EXIF, XMP and IPTC of the photo and its XMP sidecars) and, for Google
Takeout, the JSON beside the photo. The photo itself is never written: only its sidecar
(photofind.core.cleanup.sidecar_write). Opt-in: `--carry-metadata`, or the box in the app's
confirmation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from photofind.core.scan.companions import Companion, Kind

# What is carried, in the order it is told: field name -> (words for the user, XMP key written).
FIELDS: dict[str, tuple[str, str]] = {
    "taken": ("date taken", "Xmp.exif.DateTimeOriginal"),
    "gps": ("GPS position", "Xmp.exif.GPSLatitude"),  # and Xmp.exif.GPSLongitude
    "rating": ("rating", "Xmp.xmp.Rating"),
    "keywords": ("keywords", "Xmp.dc.subject"),
    "description": ("description", "Xmp.dc.description"),
}


@dataclass(frozen=True)
class Metadata:
    """The carried fields of one photo (with its sidecars); None: the photo has none."""

    taken: str | None = None  # ISO 8601
    gps: tuple[float, float] | None = None  # latitude, longitude in degrees
    rating: int | None = None
    keywords: tuple[str, ...] | None = None
    description: str | None = None

    def present(self) -> set[str]:
        return {name for name in FIELDS if getattr(self, name) not in (None, ())}


@dataclass(frozen=True)
class SidecarWrite:
    """Fields to add to the keeper's XMP sidecar, and where they came from."""

    keeper: str
    sidecar: str  # the keeper's existing XMP sidecar, or `keeper + ".xmp"` to be created
    values: Mapping[str, Any] = field(default_factory=dict)  # field name -> value
    sources: Mapping[str, str] = field(default_factory=dict)  # field name -> the copy it came from

    def describe(self) -> str:
        """ "IMG_1.jpg.xmp: date taken, GPS position (from B/IMG_1.jpg)" """
        names = ", ".join(FIELDS[n][0] for n in FIELDS if n in self.values)
        origins = ", ".join(sorted({os.path.basename(p) for p in self.sources.values()}))
        return f"{os.path.basename(self.sidecar)}: {names} (from {origins})"


def plan_carry(
    removals: Iterable[tuple[str, str]], companions: Mapping[str, tuple[Companion, ...]]
) -> tuple[SidecarWrite, ...]:
    """For each keeper of (removed photo, keeper) pairs: the fields it lacks that a removed
    copy has (the first copy in plan order wins a field). Keepers that lack nothing are left out."""
    by_keeper: dict[str, list[str]] = {}
    for copy_path, keeper in removals:
        by_keeper.setdefault(keeper, []).append(copy_path)
    cache: dict[str, Metadata] = {}

    def meta(path: str) -> Metadata:
        if path not in cache:
            cache[path] = read_metadata(path, companions.get(path, ()))
        return cache[path]

    writes = []
    for keeper, removed in by_keeper.items():
        have = meta(keeper).present()
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for path in removed:
            copy = meta(path)
            for name in sorted(copy.present() - have - set(values)):
                values[name], sources[name] = getattr(copy, name), path
        if values:
            writes.append(SidecarWrite(keeper, keeper_sidecar(keeper, companions), values, sources))
    return tuple(writes)


def keeper_sidecar(keeper: str, companions: Mapping[str, tuple[Companion, ...]]) -> str:
    """The sidecar to write: the keeper's own `name.ext.xmp`, else its `name.xmp` when that
    belongs to it alone, else a new `name.ext.xmp` (darktable's and digiKam's name, which a
    RAW+JPEG pair cannot share by mistake)."""
    own = keeper + ".xmp"
    sidecars = [c.path for c in companions.get(keeper, ()) if c.kind is Kind.XMP]
    if own in sidecars or not sidecars:
        return own
    return sidecars[0]


# -- reading -------------------------------------------------------------------------------------


def read_metadata(photo: str, companions: Sequence[Companion] = ()) -> Metadata:
    """What `photo`, its XMP sidecars and its Takeout JSON say. Unreadable sources add nothing."""
    found: dict[str, Any] = {}
    sources = [photo, *(c.path for c in companions if c.kind is Kind.XMP)]
    for path in sources:
        for name, value in _from_exiv2(path).items():
            found.setdefault(name, value)
    for c in companions:
        if c.kind is Kind.JSON:
            for name, value in _from_takeout(c.path).items():
                found.setdefault(name, value)
    return Metadata(**found)


def _from_exiv2(path: str) -> dict[str, Any]:
    import pyexiv2

    try:
        with pyexiv2.Image(path) as image:
            exif = _safe(image.read_exif)
            xmp = _safe(image.read_xmp)
            iptc = _safe(image.read_iptc)
    except Exception:  # noqa: BLE001 - Exiv2 rejects files it does not know; that file adds nothing
        return {}
    out: dict[str, Any] = {}
    taken = xmp.get("Xmp.exif.DateTimeOriginal") or xmp.get("Xmp.photoshop.DateCreated")
    if not taken and exif.get("Exif.Photo.DateTimeOriginal"):
        taken = _exif_date(exif["Exif.Photo.DateTimeOriginal"])
    if taken:
        out["taken"] = str(taken)
    gps = _xmp_gps(xmp) or _exif_gps(exif)
    if gps:
        out["gps"] = gps
    rating = xmp.get("Xmp.xmp.Rating") or exif.get("Exif.Image.Rating")
    if rating not in (None, "", "0"):
        try:
            out["rating"] = int(float(rating))
        except ValueError:
            pass
    keywords = xmp.get("Xmp.dc.subject") or iptc.get("Iptc.Application2.Keywords")
    if keywords:
        out["keywords"] = tuple([keywords] if isinstance(keywords, str) else keywords)
    description = _lang_alt(xmp.get("Xmp.dc.description")) or exif.get("Exif.Image.ImageDescription")
    description = description or _first(iptc.get("Iptc.Application2.Caption"))
    if description and str(description).strip():
        out["description"] = str(description).strip()
    return out


def _safe(read) -> dict[str, Any]:
    try:
        return read() or {}
    except Exception:  # noqa: BLE001 - one broken block must not hide the others
        return {}


def _from_takeout(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    out: dict[str, Any] = {}
    stamp = (doc.get("photoTakenTime") or {}).get("timestamp")
    try:
        if stamp:
            out["taken"] = datetime.fromtimestamp(int(stamp), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):
        pass
    geo = doc.get("geoData") or {}
    lat, lon = geo.get("latitude"), geo.get("longitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and (lat, lon) != (0, 0):
        out["gps"] = (float(lat), float(lon))  # Takeout writes 0.0, 0.0 for "no place"
    if isinstance(doc.get("description"), str) and doc["description"].strip():
        out["description"] = doc["description"].strip()
    return out


def _exif_date(text: str) -> str | None:
    text = text.strip("\x00 ")
    if len(text) < 19 or text.startswith("0000"):
        return None
    return f"{text[:10].replace(':', '-')}T{text[11:19]}"


def _lang_alt(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get('lang="x-default"') or next(iter(value.values()), None)
    return value


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _xmp_gps(xmp: Mapping[str, Any]) -> tuple[float, float] | None:
    lat, lon = xmp.get("Xmp.exif.GPSLatitude"), xmp.get("Xmp.exif.GPSLongitude")
    if not lat or not lon:
        return None
    try:
        return _xmp_coordinate(lat), _xmp_coordinate(lon)
    except ValueError:
        return None


def _xmp_coordinate(text: str) -> float:
    """ "48,51.4N" or "48,51,24N" -> 48.8566..."""
    sign = -1.0 if text[-1] in "SW" else 1.0
    parts = [float(p) for p in text[:-1].split(",")]
    degrees = parts[0] + (parts[1] / 60 if len(parts) > 1 else 0) + (parts[2] / 3600 if len(parts) > 2 else 0)
    return sign * degrees


def _exif_gps(exif: Mapping[str, Any]) -> tuple[float, float] | None:
    try:
        lat = _rationals(exif["Exif.GPSInfo.GPSLatitude"])
        lon = _rationals(exif["Exif.GPSInfo.GPSLongitude"])
    except (KeyError, ValueError, ZeroDivisionError):
        return None
    if exif.get("Exif.GPSInfo.GPSLatitudeRef") == "S":
        lat = -lat
    if exif.get("Exif.GPSInfo.GPSLongitudeRef") == "W":
        lon = -lon
    return lat, lon


def _rationals(text: str) -> float:
    """ "48/1 51/1 2400/100" -> degrees."""
    values = [int(a) / int(b) for a, b in (part.split("/") for part in text.split())]
    return sum(v / 60**n for n, v in enumerate(values))


def xmp_coordinate(degrees: float, positive: str, negative: str) -> str:
    """48.8566 -> "48,51.396000N" (XMP's GPSCoordinate: degrees, decimal minutes, direction)."""
    whole = int(abs(degrees))
    minutes = (abs(degrees) - whole) * 60
    return f"{whole},{minutes:.6f}{positive if degrees >= 0 else negative}"
