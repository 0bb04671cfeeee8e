"""Box detectors that prompt SAM 2: the classical foreground detector (no weights) or OWLv2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from river_agent.video.io import VideoInfo


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 pixels
    label: str
    score: float


class Detector(Protocol):
    name: str

    def prepare(self, video: Path, info: VideoInfo) -> None: ...

    def detect(self, frame: np.ndarray) -> list[Detection]: ...


class ForegroundDetector:
    """Boxes of blobs that differ from the median background (see classical.background)."""

    name = "classical"

    def __init__(self, threshold: int = 28, min_area_frac: float = 0.0005, max_objects: int = 16) -> None:
        self.threshold, self.min_area_frac, self.max_objects = threshold, min_area_frac, max_objects
        self.model = None

    def prepare(self, video: Path, info: VideoInfo) -> None:
        from river_agent.tools.perception.classical.background import build_background, sample_frames

        min_area = max(12, int(self.min_area_frac * info.width * info.height))
        self.min_area = min_area
        self.model = build_background(
            sample_frames(video, info.num_frames, 31), True, self.threshold, min_area, 0.2, 0.5
        )

    def detect(self, frame: np.ndarray) -> list[Detection]:
        from river_agent.tools.perception.classical.background import max_abs_diff

        assert self.model is not None, "call prepare() first"
        fg = (max_abs_diff(frame, self.model.background) > self.threshold) | (self.model.static_labels > 0)
        fg8 = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        _, _, stats, _ = cv2.connectedComponentsWithStats(fg8)
        dets = [
            Detection((float(x), float(y), float(x + w), float(y + h)), "object", 1.0)
            for x, y, w, h, a in stats[1:].tolist()
            if a >= self.min_area and a <= 0.35 * fg.size
        ]
        dets.sort(key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
        return dets[: self.max_objects]
