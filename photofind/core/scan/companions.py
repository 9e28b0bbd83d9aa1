"""Capture units: the files that belong to a photo and must travel with it.

A photo on disk is often more than one file: a Live Photo video (`IMG_1.HEIC` + `IMG_1.MOV`),
the RAW of a RAW+JPEG shot, XMP sidecars (`IMG_1.xmp`, `IMG_1.JPG.xmp`), Google Takeout's
`IMG_1.JPG.json` (with its truncated names and `(1)` rule), Apple's `.AAE` edit recipe and the
`IMG_E1` edited copy beside `IMG_1`. A companion shares the folder of its photo, and the unit is
matched (grouped, kept, removed) by that photo, its primary image.

Companions are recomputed from the list of scanned photos: one directory listing per folder
that holds a photo, so a 100k-photo library costs a few thousand `scandir` calls and the cache
needs no new data.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from photofind.core.progress import NULL_PROGRESS, Progress, check_cancel
from photofind.core.scan.formats import RAW_EXTENSIONS


class Kind(str, Enum):
    """What a companion is. The value is what the JSON contract carries."""

    LIVE = "live"  # the video half of a Live Photo (or any same-stem video clip)
    RAW = "raw"  # the RAW of a RAW+JPEG (or RAW+HEIC) shot
    XMP = "xmp"  # darktable / digiKam / Lightroom sidecar: edits, rating, keywords
    JSON = "json"  # Google Takeout metadata: date taken, place, description
    AAE = "aae"  # Apple's edit recipe
    EDIT = "edit"  # Apple's edited copy, IMG_E1234 beside IMG_1234

    @property
    def label(self) -> str:
        """The badge the app shows."""
        return _LABELS[self]

    @property
    def noun(self) -> str:
        """The kind in a sentence: "its Live Photo video IMG_1.MOV ..."."""
        return _NOUNS[self]


_LABELS = {
    Kind.LIVE: "LIVE",
    Kind.RAW: "RAW+JPEG",
    Kind.XMP: "XMP",
    Kind.JSON: "JSON",
    Kind.AAE: "AAE",
    Kind.EDIT: "EDITED",
}
_NOUNS = {
    Kind.LIVE: "Live Photo video",
    Kind.RAW: "RAW file",
    Kind.XMP: "XMP sidecar",
    Kind.JSON: "Takeout metadata",
    Kind.AAE: "Apple edit recipe",
    Kind.EDIT: "edited copy",
}

VIDEO_EXTENSIONS = frozenset(".mov .mp4 .m4v".split())
# Google Takeout cuts a sidecar's whole name to this many characters, ".json" included.
TAKEOUT_NAME_LIMIT = 51
_TAKEOUT_SUFFIX = ".supplemental-metadata"  # the newer Takeout name: IMG_1.jpg.supplemental-metadata.json
_COPY_NUMBER = re.compile(r"^(?P<base>.*?)(?P<n>\(\d+\))$")  # "IMG_1(1)" -> "IMG_1", "(1)"
_APPLE_NAME = re.compile(r"^(?P<prefix>IMG_)(?P<number>\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Companion:
    path: str
    kind: Kind

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


Companions = Mapping[str, tuple[Companion, ...]]  # primary photo path -> its companions


def find_companions(
    photos: Iterable[str], *, progress: Progress = NULL_PROGRESS
) -> dict[str, tuple[Companion, ...]]:
    """Every photo in `photos` that has companions -> its companions, in name order.

    Part of the grouping phase (one listing per folder is quick): `progress` is only asked
    whether to stop. A file that is itself one of `photos` is a companion only as the RAW of a
    RAW+JPEG shot or as Apple's edited copy (`IMG_E1` beside `IMG_1`, whose own companions stay
    in its own entry); a lone RAW is a photo of its own. A companion two photos claim
    (`IMG_1.JPG` and `IMG_1.HEIC` beside one `IMG_1.MOV`) is listed for both.
    """
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in photos:
        folder, _, name = path.rpartition(os.sep)
        by_folder[folder].append(name)
    found: dict[str, tuple[Companion, ...]] = {}
    for folder, names in sorted(by_folder.items()):
        check_cancel(progress)
        try:
            with os.scandir(folder or os.sep) as it:
                entries = {e.name: e for e in it}
        except OSError:
            continue  # the photos were read a moment ago; a folder gone now has no companions to find
        scanned = set(names)
        index = _Index(list(entries))
        for name in names:
            # Only the few names that match are asked whether they are files (a stat on some
            # file systems), not the whole listing.
            companions = [
                (c, kind) for c, kind in _companions_of(name, index, scanned) if _is_file(entries[c])
            ]
            if companions:
                found[os.path.join(folder, name)] = tuple(
                    Companion(os.path.join(folder, c), kind) for c, kind in companions
                )
    return found


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _split(name: str) -> tuple[str, str]:
    """os.path.splitext for a bare name, without its cost per call (a listing has thousands)."""
    dot = name.rfind(".")
    return (name[:dot], name[dot:]) if dot > 0 else (name, "")


class _Index:
    """A folder's file names, found case-insensitively (cameras write .JPG, exports .jpg)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.by_lower: dict[str, list[str]] = defaultdict(list)
        self.by_stem: dict[str, list[str]] = defaultdict(list)
        self.json_names: list[str] = []
        for name in sorted(names):
            lower = name.lower()
            self.by_lower[lower].append(name)
            self.by_stem[_split(lower)[0]].append(name)
            if lower.endswith(".json"):
                self.json_names.append(name)

    def get(self, lower: str) -> list[str]:
        return self.by_lower.get(lower, [])


def _companions_of(name: str, index: _Index, scanned: set[str]) -> list[tuple[str, Kind]]:
    stem, ext = _split(name)
    lower_stem = stem.lower()
    out: dict[str, Kind] = {}
    for other in index.by_stem.get(lower_stem, []):
        other_ext = _split(other)[1].lower()
        if other == name:
            continue
        if other_ext in RAW_EXTENSIONS and ext.lower() not in RAW_EXTENSIONS:
            out[other] = Kind.RAW  # scanned or not, a RAW+JPEG is one shot (match.units folds it)
        elif other in scanned:
            continue
        elif other_ext in VIDEO_EXTENSIONS:
            out[other] = Kind.LIVE
        elif other_ext == ".xmp":
            out[other] = Kind.XMP
        elif other_ext == ".aae":
            out[other] = Kind.AAE
    for other in index.get(name.lower() + ".xmp"):
        out[other] = Kind.XMP
    for other in _takeout_sidecars(name, index):
        out[other] = Kind.JSON
    edited = _apple_edit_name(stem)
    if edited:
        for other in index.by_stem.get(edited.lower(), []):
            if other in scanned:
                # The edited photo only: its own companions (IMG_E1.MOV) are its unit's.
                out[other] = Kind.EDIT
    return sorted(out.items())


def _apple_edit_name(stem: str) -> str | None:
    """ "IMG_1234" -> "IMG_E1234" (Apple's name for the edited version); None for other names."""
    match = _APPLE_NAME.match(stem)
    return f"{match['prefix']}E{match['number']}" if match else None


def takeout_sidecar_names(name: str) -> tuple[str, ...]:
    """The names Google Takeout gives the metadata of photo `name`, lower-cased, newest first:
    `name.supplemental-metadata.json` and `name.json`, each cut to 51 characters with ".json"
    kept, and a copy's `(1)` moved behind the extension (`a(1).jpg` -> `a.jpg(1).json`)."""
    stem, ext = os.path.splitext(name)
    counter = ""
    match = _COPY_NUMBER.match(stem)
    if match:
        stem, counter = match["base"], match["n"]
    names = []
    for suffix in (_TAKEOUT_SUFFIX, ""):
        body = (stem + ext + suffix)[: TAKEOUT_NAME_LIMIT - len(".json") - len(counter)]
        names.append((body + counter + ".json").lower())
    return tuple(dict.fromkeys(names))


def _takeout_sidecars(name: str, index: _Index) -> list[str]:
    if not index.json_names:
        return []
    return [other for wanted in takeout_sidecar_names(name) for other in index.get(wanted)]


def kinds_by_path(companions: Companions) -> dict[str, frozenset[Kind]]:
    """Primary photo path -> the kinds of companion its unit carries (for the keeper choice)."""
    return {path: frozenset(c.kind for c in items) for path, items in companions.items()}
