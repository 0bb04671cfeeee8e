"""Background model: temporal median of a bounded frame sample, plus a "ground" model for objects that never move.

The median of frames spread over the video removes whatever moves. Objects that never move stay in it; they are
found by comparing the median with a heavily median-blurred copy of itself (the ground's large-scale colours):
compact regions that differ from it are standing objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from river_agent.video.io import iter_frames


@dataclass
class BackgroundModel:
    background: np.ndarray  # HxWx3 uint8 temporal median
    ground: np.ndarray  # HxWx3 uint8, the background with compact objects blurred away
    static_labels: np.ndarray  # HxW int32, standing objects found in the background (0 = none)
    num_static: int


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel max over channels of |a - b| (uint8)."""
    d = cv2.absdiff(a, b)
    return np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2])


def sample_frames(video: Path, num_frames: int, max_samples: int) -> np.ndarray:
    """Up to ``max_samples`` frames spread evenly over the video (streams; holds only the sample)."""
    n = max(1, min(max_samples, num_frames))
    wanted = set(np.linspace(0, max(num_frames - 1, 0), n).round().astype(int).tolist())
    out = [frame for t, frame in enumerate(iter_frames(video)) if t in wanted]
    return np.stack(out)


def _ground(background: np.ndarray, ksize_frac: float) -> np.ndarray:
    """Median blur with a kernel larger than any standing object: keeps straight edges (horizon), drops blobs."""
    k = int(min(background.shape[:2]) * ksize_frac) // 2 * 2 + 1
    return cv2.medianBlur(background, max(3, k))


def build_background(
    frames: np.ndarray,
    static_objects: bool,
    threshold: int,
    min_area: int,
    max_area_frac: float,
    min_solidity: float,
) -> BackgroundModel:
    """Median background and the standing objects in it."""
    background = np.median(frames, axis=0).astype(np.uint8)
    h, w = background.shape[:2]
    ground = _ground(background, ksize_frac=1 / 3)
    # where the median still looks like an object (one that sat there in most sampled frames), take instead the
    # sampled value closest to the ground: any frame in which the spot was uncovered wins
    suspect = max_abs_diff(background, ground) > threshold
    if suspect.any():
        ys, xs = np.nonzero(suspect)
        vals = frames[:, ys, xs].astype(np.int16)  # S x N x 3
        dist = np.abs(vals - ground[ys, xs][None].astype(np.int16)).max(-1)
        background[ys, xs] = vals[np.argmin(dist, 0), np.arange(ys.size)].astype(np.uint8)
        ground = _ground(background, ksize_frac=1 / 3)
    static_labels = np.zeros((h, w), np.int32)
    count = 0
    if static_objects:
        for _ in range(2):  # re-estimate the ground without the standing objects' pixels biasing the median
            diff = max_abs_diff(background, ground) > threshold
            ground = _ground(np.where(diff[..., None], ground, background), ksize_frac=1 / 3)
        diff = max_abs_diff(background, ground) > threshold
        mask = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        for i in range(1, n):
            area = stats[i, cv2.CC_STAT_AREA]
            if area < min_area or area > max_area_frac * h * w:
                continue
            x, y, bw, bh = stats[i, :4]
            if min(bw, bh) < max(6, 0.04 * h) or area < 3 * min_area:  # road marks, horizon seams
                continue
            comp_diff = max_abs_diff(background[y : y + bh, x : x + bw], ground[y : y + bh, x : x + bw])
            if comp_diff[labels[y : y + bh, x : x + bw] == i].mean() < 1.6 * threshold:  # soft texture (clouds)
                continue
            comp = (labels[y : y + bh, x : x + bw] == i).astype(np.uint8)
            contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            hull_area = cv2.contourArea(cv2.convexHull(np.concatenate(contours)))
            if hull_area <= 0 or area / hull_area < min_solidity:
                continue
            count += 1
            static_labels[y : y + bh, x : x + bw][comp.astype(bool)] = count
    return BackgroundModel(background, ground, static_labels, count)
