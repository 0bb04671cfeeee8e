"""Small drawn scenes with known masks, for perception tests (independent of the benchmark generator)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from river_agent.video.io import write_video


def background(h: int, w: int) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    horizon = h // 3
    img[:horizon] = (150, 190, 230)
    ramp = np.linspace(0, 30, h - horizon)[:, None, None]
    img[horizon:] = np.clip(np.array([110, 150, 90])[None, None] + ramp, 0, 255).astype(np.uint8)
    return img


def draw(shape: str, img: np.ndarray, lm: np.ndarray, oid: int, cx: int, cy: int, s: int, color) -> None:
    m = np.zeros(lm.shape, np.uint8)
    if shape == "ball":
        cv2.circle(m, (cx, cy), s, 1, -1)
    elif shape == "box":
        cv2.rectangle(m, (cx - s, cy - s), (cx + s, cy + s), 1, -1)
    elif shape == "car":
        cv2.rectangle(m, (cx - 2 * s, cy - s // 2), (cx + 2 * s, cy + s // 2), 1, -1)
        cv2.rectangle(m, (cx - s, cy - s), (cx + s, cy), 1, -1)
    elif shape == "tree":
        pts = np.array([[cx, cy - 2 * s], [cx - s, cy + s], [cx + s, cy + s]], np.int32)
        cv2.fillPoly(m, [pts], 1)
    sel = m.astype(bool)
    img[sel] = color
    lm[sel] = oid


def make_scene(path: Path, h: int = 120, w: int = 208, n: int = 24) -> tuple[list[np.ndarray], dict[int, str]]:
    """A scene with a static tree, a ball crossing behind a car, and a box leaving and re-entering.

    Writes the lossless video to ``path`` and returns the ground-truth label maps and categories.
    Depth order (near to far): car (2) < ball (1); the box (3) is nearest (lowest in frame).
    """
    bg = background(h, w)
    frames, gts = [], []
    for t in range(n):
        img, lm = bg.copy(), np.zeros((h, w), np.uint16)
        draw("tree", img, lm, 4, 170, 45, 12, (30, 100, 30))
        draw("ball", img, lm, 1, 20 + 7 * t, 60, 10, (220, 40, 40))  # far, moves right, behind the car
        draw("car", img, lm, 2, 180 - 5 * t, 66, 10, (40, 80, 220))  # nearer, moves left
        bx = 30 + 12 * t if t < 12 else 30 + 12 * (t - 12) - 60
        if t < 8 or t >= 14:
            draw("box", img, lm, 3, (bx if t < 12 else 30 + 10 * (t - 14)) % w, 100, 8, (245, 215, 40))
        frames.append(img)
        gts.append(lm)
    write_video(path, frames, fps=12, quality="lossless")
    return gts, {1: "ball", 2: "car", 3: "box", 4: "tree"}


DEPTH = {1: 0.8, 2: 0.5, 3: 0.2, 4: 0.9}


def write_gt_twin(out_dir: Path, gts: list[np.ndarray], cats: dict[int, str], video: Path) -> None:
    """Ground-truth twin of a scene made by :func:`make_scene`."""
    from river_agent.twin.io import save_twin
    from river_agent.twin.masks import mask_filename, region_stats
    from river_agent.twin.schema import Frame, Instance, Spatial, Twin, VideoMeta

    h, w = gts[0].shape
    frames = []
    for t, lm in enumerate(gts):
        insts = [
            Instance(
                id=i,
                category=cats[i],
                mask=f"{mask_filename(t)}#{i}",
                spatial=Spatial(x=s.x, y=s.y, depth=DEPTH[i], size=s.size, bbox=list(s.bbox)),
            )
            for i, s in sorted(region_stats(lm).items())
        ]
        frames.append(Frame(t=t, mask=mask_filename(t), instances=insts))
    twin = Twin(video=VideoMeta(path=str(video), fps=12, width=w, height=h, num_frames=len(gts)), frames=frames)
    save_twin(twin, out_dir, label_maps=enumerate(gts))


def scene_examples() -> dict[str, list[np.ndarray]]:
    """Example silhouettes of the scene's kinds (drawn alone), to build the classical categoriser's classifier."""
    out: dict[str, list[np.ndarray]] = {}
    for kind in ("ball", "box", "car", "tree"):
        for s in (8, 10, 12, 16):
            img, lm = np.zeros((80, 80, 3), np.uint8), np.zeros((80, 80), np.uint16)
            draw(kind, img, lm, 1, 40, 40, s, (255, 255, 255))
            ys, xs = np.nonzero(lm)
            out.setdefault(kind, []).append(lm[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] > 0)
    return out
