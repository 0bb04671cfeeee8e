"""Classical attributes of each tracked object: colour name (CIE Lab palette), size class, pattern (texture)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from river_agent.tools.perception.base import SegmentedFrame
from river_agent.tools.perception.colors import dominant_color


@dataclass
class BestView:
    size: int
    rgb: np.ndarray  # crop of the frame
    mask: np.ndarray  # bool crop


def pattern_of(rgb: np.ndarray, mask: np.ndarray) -> str:
    """'plain', 'striped' (oriented texture) or 'dotted' from luminance statistics inside the (eroded) mask."""
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if inner.sum() < 40:
        return "plain"
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if float(gray[inner].std()) < 14.0:
        return "plain"
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    jxx, jyy, jxy = (gx * gx)[inner].sum(), (gy * gy)[inner].sum(), (gx * gy)[inner].sum()
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2) / max(jxx + jyy, 1e-6)
    return "striped" if coherence > 0.45 else "dotted"


class AttributeAccumulator:
    """Keeps each object's best (largest) view and its areas; turns them into attributes at the end."""

    def __init__(self, size_bounds: tuple[float, float] = (0.012, 0.045)) -> None:
        self.size_bounds = size_bounds
        self.best: dict[int, BestView] = {}
        self.areas: dict[int, list[int]] = {}
        self.frame_area = 1

    def observe(self, seg: SegmentedFrame) -> None:
        h, w = seg.label_map.shape
        self.frame_area = h * w
        for oid, r in seg.regions.items():
            self.areas.setdefault(oid, []).append(r.size)
            cur = self.best.get(oid)
            if cur is None or r.size > cur.size:
                x0, y0, x1, y1 = r.bbox
                self.best[oid] = BestView(r.size, seg.frame[y0:y1, x0:x1].copy(), r.crop.copy())

    def attributes(self, oid: int) -> dict[str, str]:
        view = self.best.get(oid)
        if view is None:
            return {}
        name, _ = dominant_color(view.rgb[view.mask])
        frac = float(np.median(self.areas[oid])) / self.frame_area
        size = "small" if frac < self.size_bounds[0] else "medium" if frac < self.size_bounds[1] else "large"
        return {"color": name, "size": size, "pattern": pattern_of(view.rgb, view.mask)}
