"""The files a render writes: the edited video, a side-by-side comparison and an overlay of what changed.

All three are written frame by frame; either all appear (on success) or none does.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

from river_agent.tools.render.base import RenderError, RenderResult
from river_agent.video.io import VideoWriter

QUEUE_FRAMES = 4  # frames waiting per encoder (bounds memory)
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


class _EncoderThread:
    """Encodes frames on a worker thread (PyAV releases the GIL while encoding); the queue is bounded so memory
    stays flat. ``make`` turns the queued item into the frame to write."""

    def __init__(self, writer: VideoWriter, make: Callable[..., np.ndarray]) -> None:
        self.writer, self.make = writer, make
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.writer.write(self.make(*item))
                except BaseException as exc:  # reported to the caller on the next put/finish
                    self.error = exc

    def put(self, *item: object) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def finish(self, ok: bool) -> None:
        """Stop the thread and close the writer (keeping the file only when ``ok`` and no error happened)."""
        self.queue.put(None)
        self.thread.join()
        self.writer.close(ok=ok and self.error is None)
        if ok and self.error is not None:
            raise self.error


def _identity(frame: np.ndarray) -> np.ndarray:
    return frame


def _side_by_side(source: np.ndarray, output: np.ndarray) -> np.ndarray:
    return np.concatenate([source, output], axis=1)


class RenderOutputs:
    """Writes output (+ comparison and overlay when asked) on encoder threads; atomic as a group."""

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
        self._encoders: list[_EncoderThread] = []
        try:
            self._main = self._open(self.out, fps, width, height, quality, _identity)
            self._cmp = (
                self._open(cmp_path, fps, 2 * width, height, side_quality, _side_by_side) if comparison else None
            )
            self._ov = self._open(ov_path, fps, width, height, side_quality, overlay_frame) if overlay else None
        except BaseException:
            self.close(ok=False)
            raise
        self.frames = 0

    def _open(self, path: Path, fps: float, w: int, h: int, quality: str, make: Callable) -> _EncoderThread:
        enc = _EncoderThread(VideoWriter(path, fps, w, h, quality=quality), make)
        self._encoders.append(enc)
        return enc

    def write(self, source: np.ndarray, output: np.ndarray, changed: np.ndarray) -> None:
        self._main.put(output)
        if self._cmp is not None:
            self._cmp.put(source, output)
        if self._ov is not None:
            self._ov.put(output, changed)
        self.frames += 1

    def check_frames(self, expected: int) -> None:
        """Call inside the ``with`` block: a short render aborts (and so leaves no output files)."""
        if self.frames != expected:
            raise RenderError(f"wrote {self.frames} frames but the video has {expected}")

    def result(self, renderer: str, prompt: str, started: float) -> RenderResult:
        """What a renderer returns once the writer has closed."""
        return RenderResult(
            output=self.out,
            comparison=self.comparison_path,
            overlay=self.overlay_path,
            num_frames=self.frames,
            seconds=time.perf_counter() - started,
            renderer=renderer,
            prompt=prompt,
        )

    def close(self, ok: bool = True) -> None:
        """Finish every encoder; on any failure no output file is left."""
        error: BaseException | None = None
        for enc in self._encoders:
            try:
                enc.finish(ok and error is None)
            except BaseException as exc:
                error = error or exc
        if error is not None:
            for enc in self._encoders:  # all or nothing
                with contextlib.suppress(OSError):
                    enc.writer.path.unlink(missing_ok=True)
        self._encoders = []
        if error is not None:
            raise error

    def __enter__(self) -> RenderOutputs:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close(ok=et is None)
