"""Which copy of a duplicate group is the original, and how each other copy was made.

Image phylogeny (Dias, Rocha and Goldenstein, "Image phylogeny by minimal spanning trees",
IEEE TIFS 2012): a directed dissimilarity D(p -> c) says how badly "c was made from p"
explains the pair, and a minimum spanning arborescence over D (their oriented Kruskal) is
the derivation tree; its root is the original.

D is built from evidence that an edit cannot be undone. A copy made from p never shows more
of the scene than p (a crop or a straightened copy shows less), never has more real pixels
(upscaling adds none), never has colour p lacks, fewer clipped tones, less noise, sharper
edges or a higher JPEG quality than p, and never lacks an overlay (watermark, caption) that p
carries. Each contradiction costs; each consistent change becomes a word of `how`
("resized 50%", "JPEG q≈30", "bars added", ...). The geometry comes from the pixel check of
each member against the group's anchor (photofind.core.match.verify.Verdict), the rest from
per-photo facts (detail.Detail), so nothing here opens a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from photofind.core.match.detail import Detail
from photofind.core.match.verify import Verdict
from photofind.core.types import ImageRecord

# Costs of contradicting evidence: how sure each clue is that p was NOT c's source.
WIDER_VIEW = 4.0  # c shows scene p does not have
UPSCALED = 2.0  # c has more pixels than p (upscaling happens, an added overlay outweighs it)
COLOUR = 5.0  # c has colour, p is grayscale
OVERLAY = 3.0  # p carries an overlay c lacks
BARS = 2.0  # p has bars, c does not
CLIPPED = 2.0  # p has clipped tones c still has
TONE = 1.5  # p's look is off the group's typical look, c's is not
NOISE = 2.0  # p is noisier than c (same size)
BLUR = 2.0  # p is blurrier than c (same size)
QUALITY = 1.0  # p's JPEG quality is lower than c's
STEP = 0.01  # every recorded change: the simplest explanation wins ties

TONE_MEAN = 6.0  # grey levels off the group's median mean brightness: a tone edit
TONE_SPREAD = 0.08  # relative change of the tone spread: a contrast or gamma edit
TONE_COLOUR = 0.12  # relative change of colourfulness: a saturation edit
BLURRED = 0.65  # fine-detail ratio (detail.Detail.sharpness) of a blurred copy to its source
SAME_SIZE = 0.02  # decoded widths within this share: noise and sharpness are comparable
GRAY = 2.5  # colourfulness of a grayscale photo (JPEG chroma noise included)
COLOURED = 8.0


@dataclass(frozen=True)
class Node:
    """One member's place in the tree: `parent` is a position in the group (None for the
    root), `how` the changes from the parent, `original` whether nothing in the group
    explains this member better than it explains them (the root and its lossless twins)."""

    parent: int | None
    how: tuple[str, ...]
    original: bool
    content_pixels: int


@dataclass(frozen=True)
class _Member:
    record: ImageRecord
    detail: Detail | None
    field: tuple[float, float, float, float]  # what it shows, in the anchor's unit square
    angle: float  # degrees it is turned relative to the anchor
    overlay: bool  # carries local content the anchor lacks (or, for the anchor, most lack)
    content_pixels: int
    tone_edited: bool = False  # its look (tones, noise, detail) is off the group's typical one


def content_pixels(record: ImageRecord, detail: Detail | None) -> int:
    """Pixels of the picture itself: the displayed size without letterbox bars."""
    if detail is None:
        return record.facts.pixels
    x0, y0, x1, y1 = detail.box
    return round(record.facts.pixels * (x1 - x0) * (y1 - y0))


def infer(
    records: Sequence[ImageRecord],
    details: Sequence[Detail | None],
    relations: Sequence[Verdict | None],
    anchor: int,
    root: int | None = None,
) -> list[Node]:
    """The derivation tree of one duplicate group. `relations[i]` is the pixel check's
    verdict for (records[anchor], records[i]) (None for the anchor or when unknown).
    `root`: the member to hang the tree from if it is one of the originals (the keeper,
    when lossless twins of the original tie)."""
    members = _tone_outliers([_member(i, records, details, relations, anchor) for i in range(len(records))])
    n = len(members)
    cost = [[0.0] * n for _ in range(n)]
    how: list[list[tuple[str, ...]]] = [[()] * n for _ in range(n)]
    for p in range(n):
        for c in range(n):
            if p != c:
                cost[p][c], how[p][c] = _explain(members[p], members[c])
    original = [not any(cost[j][i] + 0.5 < cost[i][j] for j in range(n) if j != i) for i in range(n)]
    if root is None or not original[root]:
        root = min(
            (i for i in range(n) if original[i]),
            key=lambda i: (-members[i].content_pixels, sum(cost[i]), i),
            default=0,
        )
    parents = _arborescence(cost, root)
    return [
        Node(
            parent,
            () if parent is None else how[parent][i],
            original[i],
            members[i].content_pixels,
        )
        for i, parent in enumerate(parents)
    ]


def _tone_outliers(members: list[_Member]) -> list[_Member]:
    """Mark members whose brightness, contrast, colourfulness, noise or fine detail is off
    the group's median. A tone edit rarely clips on photos without highlights, and on a
    texture blur and noise look alike; then the direction cannot be read from a pair. But a
    group of copies mostly keeps the original's look (resized, recompressed, cropped), so
    the median stands for it, and Dias et al.'s tree puts the original at the centre of its
    copies for the same reason. Noise and detail are compared at one decoded size only."""
    from collections import Counter
    from statistics import median

    # Tones are compared only between pictures of the same view: a crop has its own.
    known = [m for m in members if m.detail is not None and _whole(m)]
    if len(known) < 3:
        return members
    details = [m.detail for m in known if m.detail is not None]
    mean = median(float(d.gray.mean()) for d in details)
    spread = median(float(d.gray.std()) for d in details)
    coloured = [d.colour for d in details if d.colour >= GRAY]
    colour = median(coloured) if len(coloured) >= 3 else None
    width = Counter(d.decoded_width for d in details).most_common(1)[0][0]
    same_size = [d for d in details if d.decoded_width == width]
    noise = median(d.noise for d in same_size) if len(same_size) >= 3 else None
    sharp = median(d.sharpness for d in same_size) if len(same_size) >= 3 else None
    out = []
    for m in members:
        d = m.detail
        off = d is not None and _whole(m)
        if d is not None and off:
            toned = abs(float(d.gray.mean()) - mean) > TONE_MEAN or (
                abs(float(d.gray.std()) / max(spread, 1e-6) - 1) > TONE_SPREAD
            )
            saturated = colour is not None and d.colour >= GRAY and abs(d.colour / colour - 1) > TONE_COLOUR
            textured = (
                noise is not None
                and sharp is not None
                and d.decoded_width == width
                and (d.noise > noise * 1.3 + 0.3 or d.sharpness < sharp * BLURRED)
            )
            off = toned or saturated or textured
        out.append(replace(m, tone_edited=bool(off)))
    return out


def _whole(m: _Member) -> bool:
    """Shows the anchor's whole view (not a crop of it, nor a wider one)."""
    x0, y0, x1, y1 = m.field
    return max(abs(x0), abs(y0), abs(x1 - 1), abs(y1 - 1)) < 0.03


def _arborescence(cost: list[list[float]], root: int) -> list[int | None]:
    """Oriented Kruskal (Dias et al.): cheapest directed edges first; an edge p -> c is taken
    if c has no parent yet, is not the root, and joins two different trees."""
    n = len(cost)
    comp = list(range(n))

    def find(x: int) -> int:
        while comp[x] != x:
            comp[x] = comp[comp[x]]
            x = comp[x]
        return x

    parents: list[int | None] = [None] * n
    edges = sorted((cost[p][c], p != root, p, c) for p in range(n) for c in range(n) if p != c and c != root)
    for _, _, p, c in edges:
        if parents[c] is None and find(p) != find(c):
            parents[c] = p
            comp[find(c)] = find(p)
    return parents


def _member(i, records, details, relations, anchor) -> _Member:
    record, detail = records[i], details[i]
    field: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    angle = 0.0
    overlay = False
    rel = relations[i]
    if i == anchor:
        known = [r for r in relations if r is not None]
        overlay = bool(known) and sum(r.added == 0 for r in known) * 2 > len(known)
    elif rel is not None:
        overlay = rel.added == 1
        x0, y0, x1, y1 = rel.region
        if rel.inner == 1:  # the member shows a part of the anchor
            field, angle = rel.region, rel.angle
        elif rel.inner == 0:  # the anchor shows a part of the member
            w, h = max(x1 - x0, 1e-6), max(y1 - y0, 1e-6)
            field, angle = (-x0 / w, -y0 / h, (1 - x0) / w, (1 - y0) / h), -rel.angle
    return _Member(record, detail, field, angle, overlay, content_pixels(record, detail))


def _explain(p: _Member, c: _Member) -> tuple[float, tuple[str, ...]]:
    """D(p -> c) and the changes that turn p into c."""
    cost, how = 0.0, []
    pf, cf = p.field, c.field
    area_p = (pf[2] - pf[0]) * (pf[3] - pf[1])
    area_c = (cf[2] - cf[0]) * (cf[3] - cf[1])
    wider = max(pf[0] - cf[0], pf[1] - cf[1], cf[2] - pf[2], cf[3] - pf[3])
    if wider > 0.02:
        cost += WIDER_VIEW
    tilt = c.angle - p.angle
    if abs(tilt) >= 1.0:
        how.append(f"rotated {abs(tilt):.0f}°")
    elif area_c < area_p * 0.95:
        how.append("cropped")
    # Scale: c's pixels per unit of the scene against p's.
    share = area_c / max(area_p, 1e-6)
    scale = (c.content_pixels / max(p.content_pixels * share, 1.0)) ** 0.5
    if scale > 1.03:
        cost += UPSCALED
    elif scale < 0.97:
        how.append(f"resized {round(scale * 100)}%")
    dp, dc = p.detail, c.detail
    if dp is not None and dc is not None:
        if dc.bordered and not dp.bordered:
            how.append("bars added")
        elif dp.bordered and not dc.bordered:
            cost += BARS
        if dp.colour < GRAY and dc.colour > COLOURED:
            cost += COLOUR
        elif dc.colour < GRAY and dp.colour > COLOURED:
            how.append("colour removed")
        lossier = _recompressed(p.record, c.record, dp, dc)
        textured = _texture(dp, dc, c.overlay or p.overlay, lossier)
        # Noise, blur and a lossy encoding's ringing also move the clipped share.
        if textured is not None:
            cost, how = cost + textured[0], how + textured[1]
        elif not lossier and not _recompressed(c.record, p.record, dc, dp):
            cost, how = _tones(dp, dc, cost, how)
        cost, how = _encoding(p.record, c.record, dp, dc, cost, how)
    if p.tone_edited and not c.tone_edited:
        cost += TONE
    if c.overlay and not p.overlay:
        how.append("overlay added")
    elif p.overlay and not c.overlay:
        cost += OVERLAY
    return cost + STEP * len(how), tuple(how)


def _tones(dp: Detail, dc: Detail, cost: float, how: list[str]) -> tuple[float, list[str]]:
    """Clipping cannot be undone: the copy with more clipped tones is the later one."""
    if dp.clipped > dc.clipped * 1.5 + 0.003:
        return cost + CLIPPED, how
    if dc.clipped > dp.clipped * 1.5 + 0.003:
        shift = float(dc.gray.mean() - dp.gray.mean())
        spread = float(dc.gray.std() / max(float(dp.gray.std()), 1e-6))
        if spread > 1.08:
            how.append("contrast raised (tones clipped)")
        elif shift > 3:
            how.append("brightened (tones clipped)")
        elif shift < -3:
            how.append("darkened (tones clipped)")
        else:
            how.append("tones clipped")
        return cost, how
    shift = float(dc.gray.mean() - dp.gray.mean())
    spread = float(dc.gray.std() / max(float(dp.gray.std()), 1e-6))
    if abs(shift) > TONE_MEAN and spread < 1 - TONE_SPREAD / 2:
        how.append("gamma " + ("raised" if shift > 0 else "lowered"))
    elif abs(shift) > TONE_MEAN:
        how.append("brightened" if shift > 0 else "darkened")
    elif spread > 1 + TONE_SPREAD:
        how.append("contrast raised")
    elif spread < 1 - TONE_SPREAD:
        how.append("contrast lowered")
    return cost, how


def _recompressed(rp: ImageRecord, rc: ImageRecord, dp: Detail, dc: Detail) -> bool:
    """c went through a lossier encoding than p (which smooths noise away): a lower JPEG
    quality, or WebP from another format."""
    fp, fc = (rp.facts.format or "").upper(), (rc.facts.format or "").upper()
    if dp.quality is not None and dc.quality is not None:
        return dc.quality < dp.quality - 3
    return fc != fp and (fc == "WEBP" or (dc.quality is not None and dp.quality is None))


def _texture(dp: Detail, dc: Detail, overlay: bool, recompressed: bool) -> tuple[float, list[str]] | None:
    """Noise can be added but hardly removed (except by a lossier encoding); fine detail
    lost but not regained. Measured at the decoded scale, so only between photos decoded
    at the same size; an overlay's hard edges add fine detail, so then sharpness says
    nothing. None: no difference seen."""
    if not dp.decoded_width or abs(dp.decoded_width - dc.decoded_width) > SAME_SIZE * dp.decoded_width:
        return None
    if dc.noise > dp.noise * 1.3 + 0.3:
        return 0.0, ["noise added"]
    if dp.noise > dc.noise * 1.3 + 0.3:  # c is smoother: blurred (texture read as noise), or denoised
        if dc.sharpness < dp.sharpness * BLURRED:
            return 0.0, ["blurred"]
        return (0.0, []) if recompressed else (NOISE, [])
    if overlay or recompressed:
        return None
    if dc.sharpness < dp.sharpness * BLURRED:
        return 0.0, ["blurred"]
    if dp.sharpness < dc.sharpness * BLURRED:
        return BLUR, []
    return None


def _encoding(
    rp: ImageRecord, rc: ImageRecord, dp: Detail, dc: Detail, cost: float, how: list[str]
) -> tuple[float, list[str]]:
    fp, fc = (rp.facts.format or "").upper(), (rc.facts.format or "").upper()
    if dc.quality is not None and dp.quality is not None:
        if dc.quality < dp.quality - 3:
            how.append(f"JPEG q≈{dc.quality}")
        elif dp.quality < dc.quality - 3:
            cost += QUALITY
    elif dc.quality is not None and fp != fc:
        how.append(f"JPEG q≈{dc.quality}")
    elif fp != fc and fc:
        how.append(f"converted to {fc}")
    return cost, how
