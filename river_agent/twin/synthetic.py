"""Small parametric twins (moving discs over a blank frame) for tests and benchmarks of twin tools.

Not a benchmark scene generator (that is ``river_agent.bench``): just enough geometry to exercise the twin
format, views, ops and diffs at a chosen size.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from river_agent.twin.io import load_twin, save_twin
from river_agent.twin.masks import mask_filename, region_stats
from river_agent.twin.schema import Frame, Instance, Spatial, Twin, VideoMeta

_CATEGORIES = ("car", "truck", "person", "dog", "ball", "tree", "box")
_COLORS = ("red", "blue", "green", "yellow", "white", "black", "orange", "purple")


def synthetic_label_maps(
    num_frames: int, num_objects: int, width: int, height: int, seed: int = 0
) -> tuple[list[np.ndarray], dict[int, float]]:
    """Per-frame label maps of discs moving linearly, and each object's mean depth (painter's order)."""
    rng = np.random.default_rng(seed)
    radius = max(3, min(width, height) // 10)
    start = rng.uniform([radius, radius], [width - radius, height - radius], size=(num_objects, 2))
    vel = rng.uniform(-1.5, 1.5, size=(num_objects, 2)) * (min(width, height) / 100)
    depth = {i + 1: float(d) for i, d in enumerate(rng.permutation(num_objects) / max(num_objects - 1, 1))}
    order = sorted(depth, key=lambda i: -depth[i])  # far first
    maps = []
    for t in range(num_frames):
        lm = np.zeros((height, width), np.uint16)
        for obj_id in order:
            cx, cy = start[obj_id - 1] + vel[obj_id - 1] * t
            cv2.circle(lm, (round(cx), round(cy)), radius, int(obj_id), thickness=-1)
        maps.append(lm)
    return maps, depth


def make_synthetic_twin(
    out_dir: str | Path,
    num_frames: int = 8,
    num_objects: int = 3,
    width: int = 64,
    height: int = 48,
    seed: int = 0,
) -> Twin:
    """Write a twin folder of moving discs to ``out_dir`` and load it back."""
    maps, depth = synthetic_label_maps(num_frames, num_objects, width, height, seed)
    frames = []
    for t, lm in enumerate(maps):
        instances = []
        for obj_id, st in sorted(region_stats(lm).items()):
            instances.append(
                Instance(
                    id=obj_id,
                    category=_CATEGORIES[(obj_id - 1) % len(_CATEGORIES)],
                    attributes={"color": _COLORS[(obj_id - 1) % len(_COLORS)], "size": "medium"},
                    mask=f"{mask_filename(t)}#{obj_id}",
                    spatial=Spatial(x=st.x, y=st.y, depth=depth[obj_id], size=st.size, bbox=list(st.bbox)),
                )
            )
        frames.append(Frame(t=t, mask=mask_filename(t), instances=instances))
    twin = Twin(
        video=VideoMeta(path="video.mp4", fps=24.0, width=width, height=height, num_frames=num_frames),
        frames=frames,
    )
    save_twin(twin, out_dir, label_maps=enumerate(maps))
    return load_twin(out_dir)
