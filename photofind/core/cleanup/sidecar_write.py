"""Write carried-over metadata (photofind.core.cleanup.carry) into a keeper's XMP sidecar, and
take it back on undo. Never the photo itself: only `name.ext.xmp` (or the keeper's own `.xmp`).

Journaled with its batch, before anything is written: the entry names the sidecar and where
its previous bytes are kept (beside the journal), so undo can put back exactly what was there,
or remove a sidecar that did not exist, as long as nobody changed it since.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from photofind.core.cleanup.carry import SidecarWrite, xmp_coordinate
from photofind.core.scan.hashing import content_hash_file

# An empty XMP packet, the form Exiv2 reads and rewrites (a sidecar Exiv2 can open must exist).
XMP_TEMPLATE = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    '  <rdf:Description rdf:about=""/>\n'
    " </rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>\n'
)
PLANNED, WRITTEN, FAILED = "planned", "written", "failed"


def journal_entries(writes: tuple[SidecarWrite, ...], backup_dir: Path) -> list[dict[str, Any]]:
    """What the journal records before any sidecar is touched."""
    return [
        {
            "path": w.sidecar,
            "keeper": w.keeper,
            "fields": sorted(w.values),
            "backup": str(backup_dir / f"{n:05d}.xmp"),
            "existed": None,  # known once looked at, just before writing
            "after_hash": None,
            "status": PLANNED,
            "detail": "",
        }
        for n, w in enumerate(writes)
    ]


def xmp_properties(write: SidecarWrite) -> dict[str, Any]:
    """The carried values as Exiv2 XMP properties."""
    props: dict[str, Any] = {}
    values = write.values
    if "taken" in values:
        props["Xmp.exif.DateTimeOriginal"] = values["taken"]
    if "gps" in values:
        lat, lon = values["gps"]
        props["Xmp.exif.GPSLatitude"] = xmp_coordinate(lat, "N", "S")
        props["Xmp.exif.GPSLongitude"] = xmp_coordinate(lon, "E", "W")
    if "rating" in values:
        props["Xmp.xmp.Rating"] = str(values["rating"])
    if "keywords" in values:
        props["Xmp.dc.subject"] = list(values["keywords"])
    if "description" in values:
        props["Xmp.dc.description"] = {'lang="x-default"': values["description"]}
    return props


def write_sidecar(write: SidecarWrite, entry: dict[str, Any], saved) -> None:
    """Keep the old bytes (if any), then add the properties. `entry` is updated in place and
    `saved(entry)` is called (to journal it) before the sidecar is touched and after."""
    import pyexiv2

    path = write.sidecar
    entry["existed"] = os.path.lexists(path)
    try:
        if entry["existed"]:
            os.makedirs(os.path.dirname(entry["backup"]), exist_ok=True)
            shutil.copy2(path, entry["backup"])
    except OSError as exc:
        entry["status"], entry["detail"] = (
            FAILED,
            f"its bytes could not be kept for undo: {exc.strerror or exc}",
        )
        saved(entry)
        return
    saved(entry)
    created = False
    try:
        if not entry["existed"]:
            with open(path, "x", encoding="utf-8") as fh:  # "x": never replace a file that just appeared
                fh.write(XMP_TEMPLATE)
            created = True
        with pyexiv2.Image(path) as image:
            image.modify_xmp(xmp_properties(write))
        entry["after_hash"] = content_hash_file(path)
        entry["status"] = WRITTEN
    except Exception as exc:  # noqa: BLE001 - a sidecar that cannot be written must not stop the batch
        entry["status"], entry["detail"] = FAILED, f"{type(exc).__name__}: {exc}"
        if entry["existed"] or created:
            _put_back(entry)
    saved(entry)


def undo_sidecar(entry: dict[str, Any]) -> tuple[str, str]:
    """("restored" | "untouched" | "failed", what happened) for one journaled sidecar write
    (the values of photofind.core.cleanup.restore.UndoStatus)."""
    path = entry["path"]
    if entry["status"] == FAILED or entry["existed"] is None:
        return "untouched", "nothing was written"
    if not os.path.lexists(path):
        return ("untouched", "already gone") if not entry["existed"] else ("failed", "the sidecar is missing")
    if entry["after_hash"] is not None and content_hash_file(path) != entry["after_hash"]:
        return "failed", "changed since it was written: left as it is"
    _put_back(entry)
    return "restored", "as it was before" if entry["existed"] else "removed (it did not exist before)"


def _put_back(entry: dict[str, Any]) -> None:
    path = entry["path"]
    if entry["existed"]:
        tmp = path + ".photofind-undo"
        shutil.copy2(entry["backup"], tmp)
        os.replace(tmp, path)
        os.unlink(entry["backup"])
    elif os.path.lexists(path):
        os.unlink(path)
