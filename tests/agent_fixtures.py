"""Small twins for the agent's tests (tests only)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from river_agent.twin.io import save_twin
from river_agent.twin.schema import Twin

W, H = 64, 48


def _objects(t: int) -> list[tuple[int, str, dict[str, str], int, int, int]]:
    # id, category, attributes, x0, y0, half-size: a red car driving right past a static white truck
    return [
        (1, "truck", {"color": "white"}, 30, 20, 6),
        (2, "car", {"color": "red"}, 6 + 8 * t, 30, 3),
        (3, "tree", {"color": "green"}, 55, 8, 3),
    ]


def make_twin(folder: Path, n_frames: int = 6) -> Path:
    """A 3-object twin (with label maps) saved to ``folder``; returns the twin.json path."""
    frames, maps = [], []
    for t in range(n_frames):
        lm = np.zeros((H, W), np.uint16)
        insts = []
        for oid, cat, attrs, x, y, r in _objects(t):
            x = min(x, W - r - 1)
            lm[y - r : y + r, x - r : x + r] = oid
            size = int((lm == oid).sum())
            insts.append(
                {
                    "id": oid,
                    "category": cat,
                    "attributes": attrs,
                    "mask": f"masks/{t:05d}.png#{oid}",
                    "spatial": {
                        "x": float(x),
                        "y": float(y),
                        "depth": 0.3 + 0.1 * oid,
                        "size": size,
                        "bbox": [x - r, y - r, x + r, y + r],
                    },
                }
            )
        frames.append({"t": t, "mask": f"masks/{t:05d}.png", "instances": insts})
        maps.append((t, lm))
    twin = Twin.model_validate(
        {
            "video": {"path": "video.mp4", "fps": 8.0, "width": W, "height": H, "num_frames": n_frames},
            "frames": frames,
        }
    )
    return save_twin(twin, folder, label_maps=maps)


COLOURS = {1: (240, 240, 240), 2: (220, 30, 30), 3: (30, 160, 40)}


def make_case(folder: Path, n_frames: int = 6) -> tuple[Path, Path]:
    """A tiny video drawn from the twin's label maps, and the twin; returns (video, twin.json)."""
    from river_agent.twin.io import label_map, load_twin
    from river_agent.video.io import write_video

    twin_json = make_twin(folder / "twin", n_frames)
    twin = load_twin(twin_json)
    frames = []
    for t in range(n_frames):
        lm = label_map(twin, t)
        img = np.full((H, W, 3), 90, np.uint8)
        img[:, :, 2] = 120
        for oid, rgb in COLOURS.items():
            img[lm == oid] = rgb
        frames.append(img)
    video = folder / "video.mp4"
    write_video(video, frames, fps=8.0, quality="lossless")
    return video, twin_json
