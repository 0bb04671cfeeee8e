"""Tracks of instance masks: motion prediction, appearance (colour histogram + palette), mask overlap helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from river_agent.tools.perception.base import Region

HIST_BINS = 4  # per channel


def color_hist(pixels: np.ndarray) -> np.ndarray:
    """Normalised 64-bin RGB histogram of Nx3 uint8 pixels."""
    q = (pixels.astype(np.int32) * HIST_BINS) // 256
    idx = q[:, 0] * HIST_BINS * HIST_BINS + q[:, 1] * HIST_BINS + q[:, 2]
    h = np.bincount(idx, minlength=HIST_BINS**3).astype(np.float64)
    return h / max(h.sum(), 1.0)


def hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance in [0, 1]."""
    return float(np.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(a * b))))))


def palette_of(pixels: np.ndarray, k: int = 2) -> np.ndarray:
    """Up to ``k`` dominant colours (float RGB rows) of Nx3 pixels."""
    pix = pixels.reshape(-1, 3).astype(np.float32)
    if pix.shape[0] > 400:
        pix = pix[np.linspace(0, pix.shape[0] - 1, 400).astype(int)]
    if pix.shape[0] < k * 4:
        return pix.mean(0, keepdims=True)
    # start from brightness quantiles, not k-means++: that seeds from OpenCV's process-wide RNG, so the same video
    # gave different palettes (and then different tracks) depending on what had run before in the process
    rank = np.argsort(np.argsort(pix.sum(1), kind="stable"), kind="stable")
    init = (rank * k // pix.shape[0]).astype(np.int32).reshape(-1, 1)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, labels, centers = cv2.kmeans(pix, k, init, criteria, 1, cv2.KMEANS_USE_INITIAL_LABELS)
    counts = np.bincount(labels.ravel(), minlength=k)
    return centers[counts >= 0.1 * pix.shape[0]]


def crop_overlap(a: np.ndarray, ax: int, ay: int, b: np.ndarray, bx: int, by: int) -> int:
    """Pixels where two bool crops placed at (ax, ay) and (bx, by) are both set."""
    x0, y0 = max(ax, bx), max(ay, by)
    x1, y1 = min(ax + a.shape[1], bx + b.shape[1]), min(ay + a.shape[0], by + b.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0
    return int(np.count_nonzero(a[y0 - ay : y1 - ay, x0 - ax : x1 - ax] & b[y0 - by : y1 - by, x0 - bx : x1 - bx]))


def paste(crop: np.ndarray, cx: int, cy: int, into_shape: tuple[int, int], ox: int, oy: int) -> np.ndarray:
    """``crop`` placed at (cx, cy) rendered into a zero array of ``into_shape`` whose origin is (ox, oy)."""
    out = np.zeros(into_shape, bool)
    x0, y0 = max(cx, ox), max(cy, oy)
    x1, y1 = min(cx + crop.shape[1], ox + into_shape[1]), min(cy + crop.shape[0], oy + into_shape[0])
    if x1 > x0 and y1 > y0:
        out[y0 - oy : y1 - oy, x0 - ox : x1 - ox] = crop[y0 - cy : y1 - cy, x0 - cx : x1 - cx]
    return out


def union_regions(a: Region, b: Region) -> Region:
    x0, y0 = min(a.bbox[0], b.bbox[0]), min(a.bbox[1], b.bbox[1])
    x1, y1 = max(a.bbox[2], b.bbox[2]), max(a.bbox[3], b.bbox[3])
    shape = (y1 - y0, x1 - x0)
    crop = paste(a.crop, a.bbox[0], a.bbox[1], shape, x0, y0) | paste(b.crop, b.bbox[0], b.bbox[1], shape, x0, y0)
    region = Region.from_crop(a.obj_id, crop, x0, y0)
    assert region is not None
    return region


@dataclass
class Track:
    """One object followed over time; its full-shape estimate survives partial occlusion."""

    tid: int
    first_t: int
    last_t: int
    cx: float
    cy: float
    shape: np.ndarray  # bool crop of the last unoccluded view
    shape_off: tuple[float, float]  # centroid of ``shape`` inside its crop
    ref_area: float
    hist: np.ndarray
    palette: np.ndarray
    static: bool = False
    vx: float = 0.0
    vy: float = 0.0
    hits: int = 1
    history: list[int] = field(default_factory=list)

    def predicted(self, t: int) -> tuple[int, int, np.ndarray, float, float]:
        """(x0, y0, crop, cx, cy) where the whole object is expected at frame ``t``."""
        dt = t - self.last_t
        cx, cy = self.cx + self.vx * dt, self.cy + self.vy * dt
        x0 = round(cx - self.shape_off[0])
        y0 = round(cy - self.shape_off[1])
        return x0, y0, self.shape, cx, cy

    def update(self, t: int, region: Region, frame: np.ndarray, occluded: bool) -> None:
        dt = max(1, t - self.last_t)
        pcx, pcy = self.cx + self.vx * dt, self.cy + self.vy * dt
        if occluded:
            self.cx, self.cy = pcx, pcy
        else:
            if self.hits > 0 and dt <= 3:
                self.vx = 0.5 * self.vx + 0.5 * (region.x - self.cx) / dt
                self.vy = 0.5 * self.vy + 0.5 * (region.y - self.cy) / dt
            self.cx, self.cy = region.x, region.y
            self.shape = region.crop
            self.shape_off = (region.x - region.bbox[0], region.y - region.bbox[1])
            self.ref_area = 0.7 * self.ref_area + 0.3 * region.size if region.size < self.ref_area else region.size
            x0, y0, x1, y1 = region.bbox
            pixels = frame[y0:y1, x0:x1][region.crop]
            self.hist = 0.8 * self.hist + 0.2 * color_hist(pixels)
            if self.hits % 10 == 0:
                self.palette = palette_of(pixels)
        self.last_t = t
        self.hits += 1
