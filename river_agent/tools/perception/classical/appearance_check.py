"""Per-blob appearance evidence that a foreground blob on a camera-compensated canvas is an object.

What a homography leaves behind without being an object (misregistered edges, parallax slivers, flicker of the
clip's own texture) is made of background: its colour is the colour around it, and its outline is redrawn from
scratch every frame. A thing standing in front of the background differs from its surroundings and keeps its
shape from one frame to the next. Two cheap per-frame measurements:

- :func:`ring_contrast`: the largest per-channel difference between the median colour inside the blob and the
  median colour of a ring of background around it;
- :func:`shape_stability`: the IoU of the blob's mask with its mask in the previous frame, once the two
  centroids are aligned.
"""

from __future__ import annotations

import cv2
import numpy as np

from river_agent.tools.perception.base import Region


def ring_contrast(
    frame: np.ndarray, region: Region, foreground: np.ndarray, ring_px: int = 5, min_pixels: int = 20
) -> float | None:
    """Max over RGB channels of |median inside - median of the background ring| (0-255), or None when the blob
    or its ring (``ring_px`` wide, other blobs left out) has fewer than ``min_pixels`` pixels."""
    h, w = foreground.shape
    box = wx0, wy0, wx1, wy1 = region.window(ring_px + 1, w, h)
    inside = region.mask_in(box)
    grown = cv2.dilate(inside.astype(np.uint8), np.ones((2 * ring_px + 1,) * 2, np.uint8)) > 0
    ring = grown & ~foreground[wy0:wy1, wx0:wx1]
    if inside.sum() < min_pixels or ring.sum() < min_pixels:
        return None
    win = frame[wy0:wy1, wx0:wx1]
    diff = np.median(win[inside], axis=0).astype(np.float64) - np.median(win[ring], axis=0)
    return float(np.abs(diff).max())


def shape_stability(prev: Region, cur: Region) -> float:
    """IoU of ``cur``'s mask with ``prev``'s, ``prev`` moved so that the two centroids coincide."""
    dx, dy = round(cur.x - prev.x), round(cur.y - prev.y)
    ax0, ay0 = prev.bbox[0] + dx, prev.bbox[1] + dy
    ah, aw = prev.crop.shape
    bx0, by0 = cur.bbox[0], cur.bbox[1]
    bh, bw = cur.crop.shape
    x0, y0 = min(ax0, bx0), min(ay0, by0)
    x1, y1 = max(ax0 + aw, bx0 + bw), max(ay0 + ah, by0 + bh)
    a = np.zeros((y1 - y0, x1 - x0), bool)
    b = np.zeros_like(a)
    a[ay0 - y0 : ay0 - y0 + ah, ax0 - x0 : ax0 - x0 + aw] = prev.crop
    b[by0 - y0 : by0 - y0 + bh, bx0 - x0 : bx0 - x0 + bw] = cur.crop
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else 0.0
