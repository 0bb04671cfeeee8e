"""Label-map masks: one 16-bit single-channel PNG per frame, each pixel holding an instance id (0 = background)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

from river_agent.errors import TwinError


def mask_filename(t: int) -> str:
    return f"masks/{t:05d}.png"


def read_label_map(path: str | Path) -> np.ndarray:
    """Read a label map as a 2-D uint16 array."""
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise TwinError(f"{path}: mask file is missing or not a readable PNG")
    if arr.ndim != 2:
        raise TwinError(f"{path}: a label map must be single-channel, got shape {arr.shape}")
    return arr.astype(np.uint16, copy=False)


def write_label_map(path: str | Path, label_map: np.ndarray) -> None:
    if label_map.ndim != 2:
        raise ValueError(f"label map must be 2-D, got shape {label_map.shape}")
    if label_map.size and int(label_map.max()) > 65535:
        raise ValueError("label map ids must fit in 16 bits")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), label_map.astype(np.uint16)):
        raise TwinError(f"{path}: could not write mask PNG")


@dataclass(frozen=True)
class RegionStats:
    """Geometry of one id's region in a label map."""

    x: float
    y: float
    size: int
    bbox: tuple[int, int, int, int]


def region_stats(label_map: np.ndarray) -> dict[int, RegionStats]:
    """Centroid, area and bbox of every non-zero id in a label map."""
    ids = np.unique(label_map)
    ids = ids[ids != 0]
    if ids.size == 0:
        return {}
    labels = label_map.astype(np.int64)
    slices = ndimage.find_objects(labels)
    out: dict[int, RegionStats] = {}
    for obj_id in ids.tolist():
        sl = slices[obj_id - 1]
        sub = labels[sl] == obj_id
        ys, xs = np.nonzero(sub)
        out[obj_id] = RegionStats(
            x=float(xs.mean() + sl[1].start),
            y=float(ys.mean() + sl[0].start),
            size=int(ys.size),
            bbox=(sl[1].start, sl[0].start, sl[1].stop, sl[0].stop),
        )
    return out
