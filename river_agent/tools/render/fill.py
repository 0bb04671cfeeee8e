"""Spatial fill of background no frame ever shows: exemplar copy with a seam correction, or cv2.inpaint.

``exemplar_fill`` fills each hole (connected region) with real pixels of the same image: the ring of known
pixels around the hole is matched (masked SSD, ``cv2.matchTemplate``, coarse-to-fine) against every place of
the image whose window holds no unknown pixel, and the best place's pixels are copied in. The copy keeps the
texture and structure of the scene (grass stays grainy, a road's edge or a stripe stays sharp), where diffusion
inpainting smears a blur. The difference between the hole's ring and the copy's ring is then diffused into the
hole (a membrane correction), so the copy meets its surroundings without a seam. Holes too small to matter,
or with no clean source anywhere, fall back to ``cv2.inpaint`` (Telea).
"""

from __future__ import annotations

import cv2
import numpy as np

RING_PX = 8  # known pixels around the hole that the source must match
MIN_EXEMPLAR_PX = 40  # smaller holes: cv2.inpaint is as good and cheaper
THIN_PX = 3  # holes no thicker than this (slivers along a filled region): cv2.inpaint
HINT_MAX_RMS = 12.0  # a kept offset is always kept while its ring differs less than this (0-255 levels)
HINT_SLACK = 1.5  # ... or less than this many times what it differed by when it was chosen
SEARCH_MARGIN = 2.0  # sources are looked for within this many hole sizes (at least 64 px) around the hole
COARSE_ABOVE = 200_000  # images with more pixels are searched at half size first
FILL_METHODS = ("exemplar", "telea")


def _disk(r: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def telea(img: np.ndarray, hole: np.ndarray, unknown: np.ndarray, radius: int = 5) -> np.ndarray:
    """cv2.inpaint (Telea) of ``hole`` on its bounding box plus a margin; ``unknown`` pixels are not sources."""
    ys, xs = np.nonzero(hole)
    out = img.copy()
    if ys.size == 0:
        return out
    H, W = hole.shape
    m = 3 * radius + 4
    y0, y1 = max(ys.min() - m, 0), min(ys.max() + 1 + m, H)
    x0, x1 = max(xs.min() - m, 0), min(xs.max() + 1 + m, W)
    crop = np.ascontiguousarray(out[y0:y1, x0:x1])
    mcrop = (unknown | hole)[y0:y1, x0:x1].astype(np.uint8) * 255
    if mcrop.all():  # nothing known around it: mean colour of the image outside
        known = ~(unknown | hole)
        out[hole] = img[known].mean(axis=0).astype(np.uint8) if known.any() else 0
        return out
    filled = cv2.inpaint(crop, mcrop, radius, cv2.INPAINT_TELEA)
    m_ = hole[y0:y1, x0:x1]
    crop[m_] = filled[m_]
    out[y0:y1, x0:x1] = crop
    return out


def _best_offset(
    img: np.ndarray, unknown: np.ndarray, box: tuple[int, int, int, int], ctx: np.ndarray, need: np.ndarray
) -> tuple[int, int] | None:
    """Top-left of the window most like the ring ``ctx`` (in ``box``) whose ``need`` pixels are all known."""
    y0, y1, x0, x1 = box
    img32 = img.astype(np.float32)
    unk = unknown.astype(np.float32)
    templ = img32[y0:y1, x0:x1]
    mask = ctx[y0:y1, x0:x1].astype(np.float32)
    needf = need[y0:y1, x0:x1].astype(np.float32)
    scale = 2 if img.shape[0] * img.shape[1] > COARSE_ABOVE and min(y1 - y0, x1 - x0) >= 16 else 1

    def search(im, un, tp, mk, nd):
        res = cv2.matchTemplate(im, tp, cv2.TM_SQDIFF, mask=cv2.merge([mk, mk, mk]))
        overlap = cv2.matchTemplate(un, nd, cv2.TM_CCORR)
        res[(overlap > 0.25) | ~np.isfinite(res)] = np.inf
        return res

    if scale == 1:
        res = search(img32, unk, templ, mask, needf)
        if not np.isfinite(res).any():
            return None
        my, mx = np.unravel_index(int(np.argmin(res)), res.shape)
        return int(my), int(mx)
    half = lambda a: cv2.resize(a, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)  # noqa: E731
    th, tw = y1 - y0, x1 - x0
    res = search(
        half(img32),
        (half(unk) > 0).astype(np.float32),
        half(templ),
        (half(mask) > 0.99).astype(np.float32),
        (half(needf) > 0).astype(np.float32),
    )
    if not np.isfinite(res).any():
        return None
    cy, cx = np.unravel_index(int(np.argmin(res)), res.shape)
    H, W = unknown.shape
    ry0, ry1 = max(2 * cy - 3, 0), min(2 * cy + 3, H - th)
    rx0, rx1 = max(2 * cx - 3, 0), min(2 * cx + 3, W - tw)
    if ry1 < ry0 or rx1 < rx0:
        return None
    win = (slice(ry0, ry1 + th), slice(rx0, rx1 + tw))
    fine = search(img32[win], unk[win], templ, mask, needf)
    if not np.isfinite(fine).any():
        return None
    fy, fx = np.unravel_index(int(np.argmin(fine)), fine.shape)
    return ry0 + int(fy), rx0 + int(fx)


def _hint_offset(
    out: np.ndarray, unknown: np.ndarray, hole: np.ndarray, ctx: np.ndarray, hints: list[tuple[int, int, float]]
) -> tuple[int, int, float] | None:
    """The hinted offset (dy, dx, ring RMS) whose window is clean and whose ring matches best, if it matches
    about as well as when it was chosen."""
    H, W = hole.shape
    ny, nx = np.nonzero(hole | ctx)
    cy, cx = np.nonzero(ctx)
    best, best_rms = None, np.inf
    for dy, dx, was in hints:
        sy, sx = ny + dy, nx + dx
        if sy.min() < 0 or sx.min() < 0 or sy.max() >= H or sx.max() >= W or unknown[sy, sx].any():
            continue
        d = out[cy, cx].astype(np.float32) - out[cy + dy, cx + dx]
        rms = float(np.sqrt((d * d).mean()))
        if rms <= max(HINT_MAX_RMS, HINT_SLACK * was) and rms < best_rms:
            best, best_rms = (dy, dx, was), rms  # keeps the RMS it had when chosen (no creeping)
    return best


def _exemplar_one(
    out: np.ndarray, hole: np.ndarray, unknown: np.ndarray, hints: list[tuple[int, int, float]] | None = None
) -> tuple[int, int, float] | None:
    """Fill one connected ``hole`` of ``out`` in place by exemplar copy; the offset used (dy, dx, ring RMS),
    None when no source fits. A ``hints`` offset (the last frame's) that still fits is kept: the texture then
    moves with the background from frame to frame instead of being chosen anew (no flicker)."""
    H, W = hole.shape
    grown = cv2.dilate(hole.astype(np.uint8), _disk(RING_PX)).astype(bool)
    ctx = grown & ~unknown & ~hole
    if ctx.sum() < 8:
        return None
    ys, xs = np.nonzero(grown)
    box = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
    y0, y1, x0, x1 = box
    if 2 * (y1 - y0) > H and 2 * (x1 - x0) > W:
        return None
    hinted = _hint_offset(out, unknown | hole, hole, ctx, hints) if hints else None
    if hinted is not None:
        _copy(out, hole, grown, ctx, box, hinted[:2])
        return hinted
    # look near the hole first (cheaper, and nearby texture is the likeliest match), then anywhere
    my = max(64, int(SEARCH_MARGIN * (y1 - y0)))
    mx = max(64, int(SEARCH_MARGIN * (x1 - x0)))
    wy0, wy1, wx0, wx1 = max(y0 - my, 0), min(y1 + my, H), max(x0 - mx, 0), min(x1 + mx, W)
    win = (slice(wy0, wy1), slice(wx0, wx1))
    local = (y0 - wy0, y1 - wy0, x0 - wx0, x1 - wx0)
    found = _best_offset(out[win], (unknown | hole)[win], local, ctx[win], (hole | ctx)[win])
    if found is not None:
        found = (found[0] + wy0, found[1] + wx0)
    elif (wy1 - wy0, wx1 - wx0) != (H, W):
        found = _best_offset(out, unknown | hole, box, ctx, hole | ctx)
    if found is None:
        return None
    offset = (found[0] - y0, found[1] - x0)
    _copy(out, hole, grown, ctx, box, offset)
    cy, cx = np.nonzero(ctx)
    d = out[cy, cx].astype(np.float32) - out[cy + offset[0], cx + offset[1]]
    return offset[0], offset[1], float(np.sqrt((d * d).mean()))


def _copy(
    out: np.ndarray,
    hole: np.ndarray,
    grown: np.ndarray,
    ctx: np.ndarray,
    box: tuple[int, int, int, int],
    offset: tuple[int, int],
) -> None:
    """Copy the window at ``offset`` into ``hole``, with the ring's difference diffused in (no seam)."""
    y0, y1, x0, x1 = box
    dy, dx = offset
    hy, hx = np.nonzero(hole)
    cy, cx = np.nonzero(ctx)
    # membrane correction: the ring's difference (target - copy), diffused into the hole
    diff = np.full(out.shape, 128.0, np.float32)
    diff[cy, cx] = out[cy, cx].astype(np.float32) - out[cy + dy, cx + dx] + 128.0
    d8 = np.clip(np.rint(diff[y0:y1, x0:x1]), 0, 255).astype(np.uint8)
    unknown_ring = (grown & ~ctx)[y0:y1, x0:x1]  # the hole, and ring pixels with no known value
    corr = cv2.inpaint(d8, unknown_ring.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA).astype(np.float32) - 128.0
    vals = out[hy + dy, hx + dx].astype(np.float32) + corr[hy - y0, hx - x0]
    out[hy, hx] = np.clip(np.rint(vals), 0, 255).astype(np.uint8)


def _thin(part: np.ndarray) -> bool:
    ys, xs = np.nonzero(part)
    crop = np.pad(part[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], 1).astype(np.uint8)
    return float(cv2.distanceTransform(crop, cv2.DIST_L2, 3).max()) <= THIN_PX


def exemplar_fill(
    img: np.ndarray,
    hole: np.ndarray,
    avoid: np.ndarray | None = None,
    hints: list[tuple[int, int, float]] | None = None,
    used: list[tuple[int, int, float]] | None = None,
) -> np.ndarray:
    """``img`` with the ``hole`` pixels made up from similar places of the same image (``avoid``: pixels that
    are not background, never copied). Each connected hole is filled on its own; small ones by Telea.
    ``hints``: offsets (dy, dx, ring RMS) to keep when they still fit (the last frame's); ``used`` gets the
    ones used."""
    out = img.copy()
    unknown = hole if avoid is None else hole | avoid
    n, comp = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    small = np.zeros(hole.shape, bool)
    for i in range(1, n):
        part = comp == i
        offset = None
        if part.sum() >= MIN_EXEMPLAR_PX and not _thin(part):
            offset = _exemplar_one(out, part, unknown, hints)
        if offset is None:
            small |= part
        else:
            unknown = unknown & ~part  # filled: a source for the next holes
            if used is not None:
                used.append(offset)
    if small.any():
        out = telea(out, small, unknown & ~small)
    return out


def fill_never_seen(
    img: np.ndarray,
    hole: np.ndarray,
    avoid: np.ndarray | None,
    method: str,
    radius: int,
    hints: list[tuple[int, int, float]] | None = None,
    used: list[tuple[int, int, float]] | None = None,
) -> np.ndarray:
    """Make up the ``hole`` pixels of ``img`` by ``method`` ("exemplar" or "telea"); see ``exemplar_fill``."""
    if method == "exemplar":
        return exemplar_fill(img, hole, avoid, hints, used)
    return telea(img, hole, hole if avoid is None else hole | avoid, radius)
