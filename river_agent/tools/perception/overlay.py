"""An overlay video of a twin for checking it by eye: masks tinted per id, outlines, ids and categories drawn."""

from __future__ import annotations

import colorsys
from pathlib import Path

import cv2
import numpy as np

from river_agent.twin.io import label_map
from river_agent.twin.schema import Twin
from river_agent.video.io import VideoWriter, iter_frames


def id_color(obj_id: int) -> tuple[int, int, int]:
    """A stable, well-spread RGB colour per id."""
    r, g, b = colorsys.hsv_to_rgb((obj_id * 0.61803398875) % 1.0, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_overlay(frame: np.ndarray, lm: np.ndarray, twin_frame, alpha: float = 0.45) -> np.ndarray:
    out = frame.copy()
    for inst in twin_frame.instances:
        sel = lm == inst.mask_label
        if not sel.any():
            continue
        color = np.array(id_color(inst.id), np.float32)
        out[sel] = (out[sel] * (1 - alpha) + color * alpha).astype(np.uint8)
        contours, _ = cv2.findContours(sel.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, id_color(inst.id), 1)
    scale = max(0.35, frame.shape[0] / 900)
    for inst in twin_frame.instances:
        x0, y0 = (inst.spatial.bbox or [int(inst.spatial.x), int(inst.spatial.y)])[:2]
        text = f"{inst.id} {inst.category} d={inst.spatial.depth:.2f}"
        org = (int(x0), max(12, int(y0) - 4))
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, id_color(inst.id), 1, cv2.LINE_AA)
    return out


def write_overlay(video: str | Path, twin: Twin, out_path: str | Path) -> Path:
    """Write ``out_path`` (mp4): the video with the twin's masks, ids and categories drawn on every frame."""
    frames = {f.t: f for f in twin.frames}
    writer = None
    try:
        for t, frame in enumerate(iter_frames(video)):
            if writer is None:
                writer = VideoWriter(out_path, twin.video.fps, frame.shape[1], frame.shape[0])
            tf = frames.get(t)
            writer.write(draw_overlay(frame, label_map(twin, t), tf) if tf is not None else frame)
    except BaseException:
        if writer is not None:
            writer.close(ok=False)
        raise
    if writer is not None:
        writer.close()
    return Path(out_path)
