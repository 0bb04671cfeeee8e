"""Per-blob evidence that a foreground blob on a camera-compensated canvas is a moving object, not a leftover.

After a homography removes the camera motion, three kinds of blobs remain: objects moving on their own, things
at another depth than the dominant plane (parallax) or blurred by a focus/zoom change (defocus highlights), and
misregistration along edges. The last two move *like their surroundings*, or are the background itself a few
pixels off. Two cheap per-frame measurements tell them apart:

- :func:`relative_flows`: Lucas-Kanade flow (previous canvas frame -> this one) of corners inside each blob minus
  the flow of corners in a ring of background around it: a moving object has its own motion, a parallax or
  defocus blob moves with its neighbourhood (relative flow ~ 0);
- :func:`shift_residual`: how well the background, shifted by up to ``k`` px, explains the blob's pixels
  (masked template matching): a misregistered or parallax-shifted background patch is matched almost exactly,
  a new object is not.
"""

from __future__ import annotations

import cv2
import numpy as np

from river_agent.tools.perception.base import Region

_HALF = 5  # Lucas-Kanade half-window (px)
_LK = {
    "winSize": (2 * _HALF + 1, 2 * _HALF + 1),
    "maxLevel": 3,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03),
}


def _corners(grey: np.ndarray, mask: np.ndarray, n: int, x0: int, y0: int) -> np.ndarray:
    """Up to ``n`` corners of ``grey`` under ``mask`` (window coordinates shifted by x0, y0), else a grid."""
    pts = cv2.goodFeaturesToTrack(grey, maxCorners=n, qualityLevel=0.02, minDistance=3, mask=mask.astype(np.uint8))
    if pts is None or len(pts) < 4:
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            return np.zeros((0, 2), np.float32)
        pick = np.linspace(0, ys.size - 1, min(n, ys.size)).astype(int)
        pts = np.stack([xs[pick], ys[pick]], 1).astype(np.float32)
    return pts.reshape(-1, 2) + np.array([x0, y0], np.float32)


def relative_flows(
    prev: np.ndarray,
    cur: np.ndarray,
    regions: dict[int, Region],
    foreground: np.ndarray,
    shifts: dict[int, tuple[float, float]] | None = None,
    min_ring: int = 4,
) -> dict[int, tuple[float, float]]:
    """Per region id, its own motion (prev -> cur, px) minus the median flow of the background ring around it
    (zero when the ring has fewer than ``min_ring`` trackable points: the canvas background is still).

    Own motion is the median flow of the blob's corners (a grid of its pixels when it has too few: on a blob
    without texture the outline carries the motion); when fewer than 3 of them track (forward-backward
    checked), ``shifts[id]``, the centroid's shift since the previous frame, if given. The ring starts a
    Lucas-Kanade half-window away from every blob, so its windows do not see the blob's own motion.
    ``prev``/``cur``: grey uint8 canvas frames; ``foreground``: bool mask of all blobs in ``cur``. Regions whose
    motion cannot be measured are left out.
    """
    shifts = shifts or {}
    h, w = cur.shape
    groups: list[tuple[int, bool, int, int]] = []  # (region id, inside, first point, count)
    chunks: list[np.ndarray] = []
    n = 0
    for rid, r in regions.items():
        side = float(np.sqrt(max(r.size, 1)))
        box = wx0, wy0, wx1, wy1 = r.window(_HALF + max(6, int(0.5 * side)), w, h)
        inside = r.mask_in(box)
        # the ring starts a Lucas-Kanade half-window away from any blob, so its windows see background only
        fg = cv2.dilate(foreground[wy0:wy1, wx0:wx1].astype(np.uint8), np.ones((2 * _HALF + 1,) * 2, np.uint8)) > 0
        win = cur[wy0:wy1, wx0:wx1]
        for is_in, mask in ((True, inside), (False, ~fg)):
            pts = _corners(win, mask, 30 if is_in else 40, wx0, wy0)
            groups.append((rid, is_in, n, len(pts)))
            chunks.append(pts)
            n += len(pts)
    if n == 0:
        return {}
    p1 = np.concatenate(chunks).reshape(-1, 1, 2).astype(np.float32)
    p0, st, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **_LK)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **_LK)
    ok = (st[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm((back - p1)[:, 0], axis=1) < 1.0)
    flow = (p1 - p0)[:, 0]
    med: dict[tuple[int, bool], np.ndarray | None] = {}
    for rid, is_in, first, count in groups:
        sel = ok[first : first + count]
        need = 3 if is_in else min_ring
        med[(rid, is_in)] = np.median(flow[first : first + count][sel], axis=0) if sel.sum() >= need else None
    out = {}
    for rid in regions:
        inner, ring = med.get((rid, True)), med.get((rid, False))
        if inner is None and rid in shifts:
            inner = np.asarray(shifts[rid], np.float64)
        if inner is None:
            continue
        rel = inner - ring if ring is not None else inner
        out[rid] = (float(rel[0]), float(rel[1]))
    return out
