"""Immutable data shared by the engine, the CLI and the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photofind.core.scan.companions import Companion


class Tier(str, Enum):
    """How sure we are that the members of a group are the same photo, strongest first."""

    EXACT = "exact"  # same bytes
    PIXELS = "pixels"  # same decoded pixels, different bytes (metadata only)
    NEAR = "near"  # same photo after resize, re-encode, small crop, light edit
    SIMILAR = "similar"  # same scene or burst: a different photo

    @property
    def rank(self) -> int:
        return list(Tier).index(self)


class SkipReason(str, Enum):
    """Why a file was not used. The value is what the JSON contract carries."""

    EMPTY = "zero-byte"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    NOT_AN_IMAGE = "not-an-image"
    UNSUPPORTED = "unsupported"
    DECOMPRESSION_BOMB = "decompression-bomb"
    UNREADABLE = "unreadable"
    PERMISSION = "permission-denied"
    CHANGED = "changed-while-reading"
    TOO_SMALL = "too-small"  # a side under imageio.MIN_SIDE (16) pixels: spacer, icon, tracking pixel

    @property
    def cacheable(self) -> bool:
        """Reasons that depend only on the bytes, so an unchanged file need not be retried.
        Permission and I/O errors, or a missing codec, may go away without the file changing."""
        return self in (
            SkipReason.EMPTY,
            SkipReason.TRUNCATED,
            SkipReason.CORRUPT,
            SkipReason.NOT_AN_IMAGE,
            SkipReason.DECOMPRESSION_BOMB,
            SkipReason.TOO_SMALL,
        )


@dataclass(frozen=True)
class FileRef:
    """A discovered file, identified by its stat facts so the cache can tell if it changed."""

    path: str
    size: int
    mtime_ns: int
    dev: int = 0
    ino: int = 0
    nlink: int = 1  # names of this file on disk; with more than one, removing a name frees nothing

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class ImageFacts:
    """What decoding tells us about a photo, as the user sees it (orientation applied)."""

    width: int
    height: int
    format: str
    taken: str | None = None  # EXIF DateTimeOriginal as ISO 8601, no timezone
    camera: str | None = None  # "Make Model"
    # Frames or pages (animated GIF/WebP/PNG, multi-page TIFF). Only the first is decoded,
    # so a multi-frame file is never called a copy of anything but its byte-identical copies.
    frames: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class ImageRecord:
    """A photo that was read successfully."""

    file: FileRef
    content_hash: str
    facts: ImageFacts
    phash: int | None = None  # 64-bit DCT perceptual hash of the displayed image

    @property
    def path(self) -> str:
        return self.file.path


@dataclass(frozen=True)
class Skipped:
    """A file that was not used, with a machine-readable reason and a human detail."""

    path: str
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True)
class Member:
    """One photo in a group. `similarity` is its cosine to the group's keeper (1.0 for exact)."""

    index: int  # position in ScanResult.records
    similarity: float


@dataclass(frozen=True)
class Derivation:
    """How one member of a duplicate group was made (photofind.core.match.phylogeny)."""

    index: int  # the member: a position in ScanResult.records
    parent: int | None  # the member it was made from (a records position); None: the original
    how: tuple[str, ...] = ()  # the changes from the parent: "resized 50%", "JPEG q≈30", ...
    original: bool = False  # nothing in the group explains it better: the original or its twin
    content_pixels: int = 0  # displayed pixels without letterbox bars


@dataclass(frozen=True)
class Group:
    id: int
    tier: Tier
    members: tuple[Member, ...]  # keeper first
    min_similarity: float
    mean_similarity: float
    why: tuple[str, ...] = ()  # human reasons: "same bytes", "resized", "re-encoded", ...
    derivation: tuple[Derivation, ...] = ()  # duplicate groups: one per member, in member order
    keep_reason: str = ""  # why the keeper won, in words (photofind.core.cleanup.keep)
    # Bursts (photofind.core.match.bursts): the frame suggested to keep, a records position,
    # and why ("sharpest", "best exposed"). Only a suggestion: nothing is marked by default.
    best_shot: int | None = None
    best_shot_reason: str = ""

    @property
    def keep_index(self) -> int:
        return self.members[0].index

    @property
    def indices(self) -> tuple[int, ...]:
        return tuple(m.index for m in self.members)


@dataclass(frozen=True)
class Thresholds:
    """Cosine thresholds per tier. `near` needs the pixel check as well as this cosine."""

    near: float = 0.90
    similar: float = 0.80


@dataclass(frozen=True)
class ScanSettings:
    roots: tuple[str, ...]
    exclude: tuple[str, ...] = ()  # glob patterns matched against the path and the name
    include_hidden: bool = False
    follow_symlinks: bool = True
    thresholds: Thresholds = field(default_factory=Thresholds)
    weights: str | None = None  # explicit path, "random", or None to resolve
    cache_path: str | None = None
    batch_size: int = 16
    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    embed: bool = True  # False: exact and perceptual duplicates only
    # Clean-up (photofind.core.cleanup.keep / decisions): files under `protected` are always kept and
    # never acted on; `keep_rules` is a keeper rule chain ("" = the default chain).
    protected: tuple[str, ...] = ()
    keep_rules: str = ""
    use_decisions: bool = True  # drop remembered "not a duplicate" / "keep all" groups
    decisions_path: str | None = None  # None: the per-user data dir
    # Matching quality (photofind.core.match.verify / calibrate). `rotations`: also match copies
    # turned by 90/180/270 degrees or mirrored (8 pHashes per photo instead of 1, and up to
    # 7 more detail checks for each pair that fails the upright one). `calibrate`: derive the
    # tier thresholds from the library itself; False when the user set a threshold.
    rotations: bool = False
    calibrate: bool = True


@dataclass(frozen=True)
class ModelInfo:
    """Identity of the embedding model. Embeddings are comparable only with an equal `id`."""

    id: str
    arch: str
    weights: str  # "imagenet1k-v1", "random(seed=0)", "file:<name>"
    source: str  # where the weights came from: a path, "hub cache", "download", "random"
    dim: int = 512
    device: str = "cpu"
    precision: str = "fp32"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "arch": self.arch,
            "weights": self.weights,
            "source": self.source,
            "dim": self.dim,
            "device": self.device,
            "precision": self.precision,
        }


@dataclass(frozen=True)
class ScanStats:
    files_found: int = 0
    from_cache: int = 0
    decoded: int = 0
    embedded: int = 0
    reused_embeddings: int = 0  # byte-identical copies that skipped inference
    seconds: float = 0.0


@dataclass(frozen=True)
class ScanResult:
    settings: ScanSettings
    records: tuple[ImageRecord, ...]
    skipped: tuple[Skipped, ...]
    groups: tuple[Group, ...]
    model: ModelInfo | None  # None: no weights, exact and perceptual matching only
    model_problem: str | None = None  # why there is no model, in words for the user
    embeddings: Any = None  # np.ndarray (len(records), dim) float32, rows may be zero if missing
    thumbs: Any = None  # np.ndarray (len(records), 32, 32) uint8 grayscale, for pixel checks
    stats: ScanStats = field(default_factory=ScanStats)
    cancelled: bool = False
    warnings: tuple[str, ...] = ()
    calibration: Any = None  # photofind.core.match.calibrate.Calibration when thresholds were calibrated
    # Capture units (photofind.core.scan.companions): photo path -> the files that travel with it
    # (Live Photo video, RAW, sidecars). Only photos that have companions are listed.
    companions: dict[str, tuple[Companion, ...]] = field(default_factory=dict)
