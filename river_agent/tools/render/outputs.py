"""The files a render writes: the edited video, a side-by-side comparison and an overlay of what changed.

All three are written frame by frame; either all appear (on success) or none does.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from river_agent.tools.render.base import RenderError
from river_agent.video.io import VideoWriter

TINT = np.array([255, 0, 200], np.float32)
OUTLINE = (255, 230, 0)


def side_paths(out: Path) -> tuple[Path, Path]:
    """Comparison and overlay paths beside the output: ``x.mp4`` -> ``x.compare.mp4``, ``x.overlay.mp4``."""
    return out.with_name(f"{out.stem}.compare.mp4"), out.with_name(f"{out.stem}.overlay.mp4")


def overlay_frame(output: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """``output`` with ``changed`` pixels tinted magenta and outlined in yellow."""
    vis = output.copy()
    if changed.any():
        px = vis[changed].astype(np.float32)
        vis[changed] = np.rint(px * 0.55 + TINT * 0.45).astype(np.uint8)
        contours, _ = cv2.findContours(changed.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(vis, contours, -1, OUTLINE, 1)
    return vis


class RenderOutputs:
    """Writes output (+ comparison and overlay when asked); atomic as a group."""

    def __init__(
        self,
        out: str | Path,
        source: str | Path,
        fps: float,
        width: int,
        height: int,
        quality: str = "lossless",
        comparison: bool = True,
        overlay: bool = True,
        side_quality: str = "high",
    ) -> None:
        self.out = Path(out)
        if self.out.suffix.lower() != ".mp4":
            raise RenderError(f"{self.out}: the output must be an .mp4 file")
        src = Path(source)
        cmp_path, ov_path = side_paths(self.out)
        for p in (self.out, cmp_path, ov_path):
            if src.exists() and p.exists() and p.resolve() == src.resolve():
                raise RenderError(f"{p}: refusing to overwrite the input video")
        self.comparison_path = cmp_path if comparison else None
        self.overlay_path = ov_path if overlay else None
        self._writers: list[VideoWriter] = []
        try:
            self._main = self._open(self.out, fps, width, height, quality)
            self._cmp = self._open(cmp_path, fps, 2 * width, height, side_quality) if comparison else None
            self._ov = self._open(ov_path, fps, width, height, side_quality) if overlay else None
        except BaseException:
            self.close(ok=False)
            raise
        self.frames = 0

    def _open(self, path: Path, fps: float, w: int, h: int, quality: str) -> VideoWriter:
        writer = VideoWriter(path, fps, w, h, quality=quality)
        self._writers.append(writer)
        return writer

    def write(self, source: np.ndarray, output: np.ndarray, changed: np.ndarray) -> None:
        self._main.write(output)
        if self._cmp is not None:
            self._cmp.write(np.concatenate([source, output], axis=1))
        if self._ov is not None:
            self._ov.write(overlay_frame(output, changed))
        self.frames += 1

    def close(self, ok: bool = True) -> None:
        done: list[Path] = []
        try:
            for w in self._writers:
                w.close(ok=ok)
                if ok:
                    done.append(w.path)
        except BaseException:
            for w in self._writers:
                w.close(ok=False)
            for p in done:  # all or nothing
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
        finally:
            self._writers = []

    def __enter__(self) -> RenderOutputs:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close(ok=et is None)
