"""Tiny synthetic scenes with known ground truth for the render tests (objects = base_rgb * shading field)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from river_agent.twin.io import save_twin
from river_agent.twin.masks import mask_filename, region_stats
from river_agent.twin.schema import Frame, Instance, Spatial, Twin, VideoMeta
from river_agent.video.io import write_video


@dataclass(frozen=True)
class Obj:
    id: int
    rgb: tuple[int, int, int]
    centre: tuple[float, float]  # at t=0, pixels
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per frame
    radii: tuple[int, int] = (7, 5)
    category: str = "ball"
    color: str = "red"


def background(w: int, h: int, t: int, pan: tuple[int, int] = (0, 0)) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    X, Y = xx + pan[0] * t, yy + pan[1] * t
    r = 110 + 40 * np.sin(X / 5.0) + 20 * np.cos(Y / 3.0)
    g = 120 + 30 * np.cos(X / 4.0 + Y / 6.0)
    b = 90 + 35 * np.sin(Y / 4.0) * np.cos(X / 9.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)


def draw(frame: np.ndarray, label: np.ndarray, o: Obj, t: int, scale: float = 1.0) -> None:
    cx, cy = o.centre[0] + o.velocity[0] * t, o.centre[1] + o.velocity[1] * t
    rx, ry = o.radii[0] * scale, o.radii[1] * scale
    h, w = label.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    m = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    u, v = (xx - cx) / scale, (yy - cy) / scale
    shade = 1.0 + 0.2 * np.sin(u / 2.0) * np.cos(v / 3.0)
    col = np.asarray(o.rgb, np.float32)[None, None, :] * shade[..., None]
    frame[m] = np.clip(np.rint(col[m]), 0, 255).astype(np.uint8)
    label[m] = o.id


def render_scene(
    objs: list[Obj],
    n: int = 8,
    w: int = 64,
    h: int = 48,
    pan: tuple[int, int] = (0, 0),
    scales: dict | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames, labels = [], []
    for t in range(n):
        f = background(w, h, t, pan)
        lab = np.zeros((h, w), np.uint16)
        for o in objs:
            draw(f, lab, o, t, (scales or {}).get(o.id, 1.0))
        frames.append(f)
        labels.append(lab)
    return frames, labels


def write_case(tmp: Path, frames: list[np.ndarray], fps: float = 12.0) -> Path:
    path = tmp / "video.mp4"
    write_video(path, frames, fps, quality="lossless")
    return path


def make_twin(tmp: Path, objs: list[Obj], labels: list[np.ndarray], fps: float = 12.0) -> Twin:
    h, w = labels[0].shape
    frames = []
    for t, lab in enumerate(labels):
        stats = region_stats(lab)
        insts = []
        for o in objs:
            if o.id in stats:
                s = stats[o.id]
                insts.append(
                    Instance(
                        id=o.id,
                        category=o.category,
                        attributes={"color": o.color},
                        mask=f"{mask_filename(t)}#{o.id}",
                        spatial=Spatial(x=s.x, y=s.y, depth=0.5, size=s.size, bbox=list(s.bbox)),
                    )
                )
        frames.append(Frame(t=t, mask=mask_filename(t), instances=insts))
    twin = Twin(
        video=VideoMeta(path="video.mp4", fps=fps, width=w, height=h, num_frames=len(labels)), frames=frames
    )
    out = tmp / "twin"
    save_twin(twin, out, label_maps=enumerate(labels))
    from river_agent.twin.io import load_twin

    return load_twin(out)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def write_mask_folder(folder: Path, masks: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for t, m in enumerate(masks):
        cv2.imwrite(str(folder / f"{t:05d}.png"), m.astype(np.uint8) * 255)
    return folder


__all__ = ["Obj", "make_twin", "psnr", "render_scene", "replace", "write_case", "write_mask_folder"]
