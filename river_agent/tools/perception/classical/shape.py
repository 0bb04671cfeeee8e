"""Shape descriptors of a binary silhouette and a nearest-prototype classifier over them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

PROTOTYPES_FILE = Path(__file__).with_name("shape_prototypes.json")
# per-dimension scale: log aspect, extent, solidity, circularity, hu1..hu3 (log)
_SCALE = np.array([0.2, 0.08, 0.06, 0.08, 0.15, 0.8, 1.0])


def descriptors(mask: np.ndarray) -> np.ndarray | None:
    """[log(w/h), extent, solidity, circularity, log|hu1|, log|hu2|, log|hu3|] of a bool mask, or None if tiny."""
    m = mask.astype(np.uint8)
    if m.sum() < 30:
        return None
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    # the outline is the shape: holes (a pattern's dark dots the background difference missed) are filled
    cv2.drawContours(m, contours, -1, 1, thickness=cv2.FILLED)
    area = float(m.sum())
    pts = np.concatenate(contours)
    hull = cv2.convexHull(pts)
    hull_area = max(cv2.contourArea(hull), 1.0)
    perim = sum(cv2.arcLength(c, True) for c in contours)
    h, w = m.shape
    hu = cv2.HuMoments(cv2.moments(m, binaryImage=True)).ravel()[:3]
    hu_log = -np.log10(np.abs(hu) + 1e-7)
    return np.array(
        [
            np.log(w / h),
            area / (w * h),
            min(1.0, area / hull_area),
            min(1.0, 4 * np.pi * area / max(perim, 1.0) ** 2),
            *np.clip(hu_log, 0, 7),
        ]
    )


class ShapeClassifier:
    """Nearest prototype (scaled L2 over descriptors); 'object' when nothing is close enough."""

    def __init__(self, prototypes: dict[str, list[list[float]]] | None = None, max_distance: float = 4.0) -> None:
        if prototypes is None:
            prototypes = json.loads(PROTOTYPES_FILE.read_text()) if PROTOTYPES_FILE.exists() else {}
        self.labels: list[str] = []
        rows = []
        for label, vecs in prototypes.items():
            for v in vecs:
                self.labels.append(label)
                rows.append(v)
        self.table = np.array(rows, np.float64).reshape(-1, len(_SCALE))
        self.max_distance = max_distance

    def classify(self, desc: np.ndarray) -> tuple[str, float]:
        """(label, distance); label is 'object' when no prototype is within ``max_distance``."""
        if self.table.shape[0] == 0:
            return "object", float("inf")
        d = np.sqrt((((self.table - desc[None]) / _SCALE) ** 2).sum(1))
        k = int(np.argmin(d))
        if d[k] > self.max_distance:
            return "object", float(d[k])
        return self.labels[k], float(d[k])
