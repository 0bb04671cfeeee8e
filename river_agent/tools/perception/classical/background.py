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
    rows: np.ndarray | None = None  # Hx1x3 per-row median of the background (layered scenes)

    def ground_distance(self, frame: np.ndarray) -> np.ndarray:
        """Per-pixel max-channel distance of ``frame`` to the nearer of the two ground models."""
        d = max_abs_diff(frame, self.ground)
        if self.rows is not None:
            d = np.minimum(d, max_abs_diff(frame, np.broadcast_to(self.rows, frame.shape)))
        return d


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


def _row_model(background: np.ndarray) -> np.ndarray:
    """Hx1x3: the median of each row, then a running median over neighbouring rows (thin marks do not count)."""
    from scipy.ndimage import median_filter

    rows = np.median(background, axis=1)
    k = max(3, int(background.shape[0] * 0.045) // 2 * 2 + 1)
    return median_filter(rows, size=(k, 1), mode="nearest").astype(np.uint8)[:, None]


def _ground(background: np.ndarray, ksize_frac: float) -> np.ndarray:
    """The background without compact objects: per pixel, whichever of two models is closer to it.

    A median blur with a kernel larger than any standing object keeps straight edges and drops blobs; a per-row
    median keeps horizontal layers thinner than that kernel (roads, horizons) and drops what covers less than
    half a row.
    """
    k = int(min(background.shape[:2]) * ksize_frac) // 2 * 2 + 1
    blur = cv2.medianBlur(background, max(3, k))
    rows = np.broadcast_to(_row_model(background), background.shape)
    closer = max_abs_diff(background, rows) < max_abs_diff(background, blur)
    return np.where(closer[..., None], rows, blur)


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
        chosen = vals[np.argmin(dist, 0), np.arange(ys.size)]  # N x 3
        # accept it only where it is stable (seen in several samples) and looks like ground (not another object)
        agree = (np.abs(vals - chosen[None]).max(-1) <= threshold // 2).sum(0)
        ok = (agree >= max(2, vals.shape[0] // 8)) & (dist.min(0) <= 2 * threshold)
        background[ys[ok], xs[ok]] = chosen[ok].astype(np.uint8)
        # a standing object is constant; a spot that keeps changing yet never shows ground is covered by moving
        # things in turn (a slow, long object): its best guess is the ground itself
        cur = background[ys, xs].astype(np.int16)
        stable = (np.abs(vals - cur[None]).max(-1) <= threshold // 2).mean(0) >= 0.7
        still = np.abs(cur - ground[ys, xs].astype(np.int16)).max(-1) > threshold
        bad = still & ~stable
        background[ys[bad], xs[bad]] = ground[ys[bad], xs[bad]]
        ground = _ground(background, ksize_frac=1 / 3)
    static_labels = np.zeros((h, w), np.int32)
    count = 0
    if static_objects:
        for _ in range(2):  # re-estimate the ground without the standing objects' pixels biasing the median
            diff = max_abs_diff(background, ground) > threshold
            ground = _ground(np.where(diff[..., None], ground, background), ksize_frac=1 / 3)
        diff = max_abs_diff(background, ground) > threshold
        mask = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        # pieces of one object split by a thin seam (a painted line, a shading edge) are labelled together
        joined = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        labels[mask == 0] = 0
        for i in range(1, n):
            x, y, bw, bh = stats[i, :4]
            area = int(np.count_nonzero(labels[y : y + bh, x : x + bw] == i))
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
    rows = _row_model(background)
    return BackgroundModel(background, ground, static_labels, count, rows)
