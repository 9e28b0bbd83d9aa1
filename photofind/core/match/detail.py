"""A photo as the pixel check and the keeper see it (`Detail`), made once per photo by the
read pass (`detail_of_image`) and kept in the cache in a compact form (`detail_to_bytes`,
4-8 KB): a squashed 128x128 grayscale image inside any letterbox bars, and a few numbers that
tell an original from an edited copy (colourfulness, clipped share, noise, sharpness, JPEG
quality)."""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from photofind.core.match import align
from photofind.core.scan.hashing import content_box

DETAIL = 128
# Decoded as the scan's read pass decodes (both sides >= the model input), so the noise and
# sharpness measured here equal those measured at read time, and a blur of a pixel or two
# still shows (at 128 it would be averaged away).
READ_SIDE = 224


# Bump when detail_of_image or detail_to_bytes changes: each photo is then read again once.
DETAIL_FORMAT = 1
_STORED_STEP = 4  # the cached detail keeps 64 gray levels: ~1 level of noise against a std of ~50


@dataclass(frozen=True)
class Detail:
    """A photo as the pixel check and the keeper see it: squashed grayscale inside any
    letterbox bars, and a few numbers that tell an original from an edited copy.

    `noise` and `sharpness` are measured at the decoded scale, so they are compared only
    between photos decoded at the same size (`decoded_width`)."""

    gray: np.ndarray  # (DETAIL, DETAIL) float32
    bordered: bool  # bars were cut off
    prepared: align.Prepared | None  # the alignment pyramid; None until `pyramid` first needs it
    aspect: float = 1.0  # width / height of the picture (without the bars) as displayed
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)  # picture inside the bars, 0..1
    colour: float = 0.0  # colourfulness (Hasler and Suesstrunk 2003); about 0 for grayscale
    clipped: float = 0.0  # share of pixels at the ends of the tone range
    noise: float = 0.0  # noise sigma in the flattest parts (Immerkaer 1996), decoded scale
    sharpness: float = 0.0  # edge strength of the most detailed parts, decoded scale
    decoded_width: int = 0  # width of the picture as decoded for these measures
    quality: int | None = None  # JPEG quality estimated from the quantisation tables

    @property
    def pyramid(self) -> align.Prepared:
        """The alignment pyramid, built on first use (a third of a millisecond's decode
        becomes 1.6 ms with it): the keeper's tree and burst stacks read only the gray image
        and the numbers, so a warm rescan builds none."""
        if self.prepared is None:
            object.__setattr__(self, "prepared", align.prepare(self.gray))  # a cache, not state
        assert self.prepared is not None
        return self.prepared


class Lru:
    """Thread-safe bounded mapping; a scan's verification touches each photo a few times."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def detail_of_image(
    image: Image.Image,
    *,
    quality: int | None = None,
    prepare: bool = True,
    box: tuple[int, int, int, int] | None = None,
) -> Detail:
    """The one producer of a photo's Detail, from the decoded photo (RGB, as displayed).
    `quality`: the file's JPEG quality (`jpeg_quality`), which the decoded pixels no longer
    carry. `prepare=False` leaves out the alignment pyramid (the read pass stores the
    detail; `Detail.pyramid` builds it on first use). `box`: its `content_box`, when the
    caller has it already (the read pass computes it once for the detail and the pHash)."""
    box = content_box(image) if box is None else box
    width, height = image.size
    bordered = box != (0, 0, width, height)
    if bordered:
        image = image.crop(box)
    gray = np.asarray(image.convert("L").resize((DETAIL, DETAIL), Image.Resampling.BOX), np.float32)
    tones = tone_facts(image)
    return Detail(
        gray,
        bordered,
        align.prepare(gray) if prepare else None,
        image.width / max(image.height, 1),
        box=(box[0] / width, box[1] / height, box[2] / width, box[3] / height),
        decoded_width=image.width,
        quality=quality,
        **tones,
    )


def tone_facts(image: Image.Image) -> dict[str, float]:
    """Colourfulness, clipped share, noise and sharpness of a decoded picture (see Detail)."""
    rgb = np.asarray(image.convert("RGB"), np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg, yb = r - g, 0.5 * (r + g) - b
    colour = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    clipped = float(np.mean((luma <= 2.0) | (luma >= 253.0)))
    return {"colour": colour, "clipped": clipped, **_texture(luma)}


def _texture(luma: np.ndarray) -> dict[str, float]:
    """Noise: Immerkaer's Laplacian-difference estimate in the flattest tenth of 8x8 blocks
    (texture inflates it elsewhere). Sharpness: the typical gradient of the busier half of
    the blocks (an overlay's hard edges cover too few blocks to move it) over the tone
    spread, so a contrast or brightness change does not pass for sharper edges."""
    h, w = luma.shape
    if min(h, w) < 24:
        return {"noise": 0.0, "sharpness": 0.0}
    z = luma
    lap = (
        z[:-2, :-2] - 2 * z[:-2, 1:-1] + z[:-2, 2:]
        - 2 * z[1:-1, :-2] + 4 * z[1:-1, 1:-1] - 2 * z[1:-1, 2:]
        + z[2:, :-2] - 2 * z[2:, 1:-1] + z[2:, 2:]
    )  # fmt: skip
    grad = np.hypot(z[1:-1, 2:] - z[1:-1, :-2], z[2:, 1:-1] - z[:-2, 1:-1])
    bh, bw = (h - 2) // 8, (w - 2) // 8
    noise_blocks = np.abs(lap[: bh * 8, : bw * 8]).reshape(bh, 8, bw, 8).mean(axis=(1, 3)).ravel()
    grad_blocks = grad[: bh * 8, : bw * 8].reshape(bh, 8, bw, 8).mean(axis=(1, 3)).ravel()
    tenth = max(1, len(noise_blocks) // 10)
    noise = float(np.sqrt(np.pi / 2) / 6 * np.partition(noise_blocks, tenth)[:tenth].mean())
    busy = grad_blocks >= np.percentile(grad_blocks, 50)
    # Fine detail against coarser edges, where the picture is busy: blur takes the first
    # before the second, and neither depends on contrast.
    sharpness = float(noise_blocks[busy].mean() / max(float(grad_blocks[busy].mean()), 1e-6))
    return {"noise": noise, "sharpness": sharpness}


_IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    np.float64,
)  # fmt: skip


def _ijg_log_sums() -> np.ndarray:
    """For IJG quality 1..100, the sum of the logs of its scaled luminance table."""
    sums = np.empty(100)
    for q in range(1, 101):
        scale = 5000 / q if q < 50 else 200 - 2 * q
        sums[q - 1] = np.log(np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)).sum()
    return sums


_IJG_LOG_SUMS = _ijg_log_sums()


def jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality (1-100) whose luminance table is closest to the file's, or None if the
    image is not a JPEG. Reading the header is enough: call it on an opened, undecoded file."""
    if not isinstance(image, JpegImageFile) or 0 not in image.quantization:
        return None
    # Tables are stored in zigzag order by Pillow; the sum of logs ignores the order.
    err = np.abs(np.log(np.asarray(image.quantization[0], np.float64)).sum() - _IJG_LOG_SUMS)
    return int(np.argmin(err)) + 1  # the first of equals, as the lowest quality wins a tie


def detail_to_bytes(detail: Detail) -> bytes:
    """The cached form: a JSON header of every field but the images (so a field added to
    Detail is kept without a new format), then `gray` as a 6-bit PNG (Pillow)."""
    fields = {
        f.name: getattr(detail, f.name)
        for f in dataclasses.fields(detail)
        if f.name not in ("gray", "prepared")
    }
    header = json.dumps({"format": DETAIL_FORMAT, **fields}).encode()
    levels = np.clip(detail.gray // _STORED_STEP, 0, 255 // _STORED_STEP).astype(np.uint8)
    png = io.BytesIO()
    # Level 1: a third of the default's time (the read pass does this for every photo) for
    # about 1 KB more per photo (6.5 KB instead of 5.4 on the benchmark's photos).
    Image.fromarray(levels).save(png, format="PNG", compress_level=1)
    return struct.pack("<I", len(header)) + header + png.getvalue()


def detail_from_bytes(data: bytes) -> Detail | None:
    """The Detail `detail_to_bytes` stored (its pyramid built on first use); None if it is not in
    this DETAIL_FORMAT (or unreadable)."""
    try:
        (size,) = struct.unpack_from("<I", data)
        fields = json.loads(data[4 : 4 + size].decode())
        if fields.pop("format") != DETAIL_FORMAT:
            return None
        with Image.open(io.BytesIO(data[4 + size :])) as png:
            levels = np.asarray(png, np.float32)
    except (ValueError, KeyError, OSError, struct.error):
        return None
    gray = levels * _STORED_STEP + (_STORED_STEP - 1) / 2
    fields["box"] = tuple(fields["box"])  # JSON has no tuples
    return Detail(gray=gray, prepared=None, **fields)


def file_quality(source: str | io.BytesIO) -> int | None:
    """`jpeg_quality` of a file (a path, or its bytes), reading its header only."""
    try:
        with Image.open(source) as im:
            return jpeg_quality(im)
    except Exception:  # noqa: BLE001 - the quality is a hint; the decode above reports errors
        return None
