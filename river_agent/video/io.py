"""Read videos (PyAV) and frame folders as RGB uint8 arrays; write mp4 atomically keeping fps and size."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import cv2
import numpy as np

from river_agent.errors import VideoError
from river_agent.fsutil import atomic_path
from river_agent.video.frame_cache import FRAMES, budget_bytes, cache_key, fits

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_FOLDER_FPS = 24.0


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    width: int
    height: int
    num_frames: int


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_EXTENSIONS and p.is_file()]

    def key(p: Path) -> tuple[int, str]:
        m = re.search(r"(\d+)$", p.stem)
        return (int(m.group(1)) if m else -1, p.name)

    return sorted(files, key=key)


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"{path}: no such file or folder")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes)")


def _open(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise VideoError(f"{path}: not a readable video ({reason})") from exc
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path}: the file has no video stream")
    return container


def _read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise VideoError(f"{path}: frame image is not readable")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def probe_video(path: str | Path, count_frames: bool = True) -> VideoInfo:
    """Metadata of a video file or frame folder. ``count_frames`` (or a header without a count) decodes every
    frame, so a corrupt or truncated video fails here; the decoded frames stay in the frame cache."""
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        files = _frame_files(path)
        if not files:
            raise VideoError(f"{path}: the folder holds no frame images ({', '.join(FRAME_EXTENSIONS)})")
        h, w = _read_image(files[0]).shape[:2]
        return VideoInfo(str(path), DEFAULT_FOLDER_FPS, w, h, len(files))
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FOLDER_FPS)
        width, height = stream.codec_context.width, stream.codec_context.height
        n = stream.frames
    if count_frames or not n:
        n = _count_frames(path, n, width * height * 3)
    if n == 0:
        raise VideoError(f"{path}: the video has no frames")
    if width <= 0 or height <= 0:
        raise VideoError(f"{path}: the video has no frame size")
    return VideoInfo(str(path), fps, width, height, n)


def _count_frames(path: Path, header_count: int, frame_bytes: int) -> int:
    """Frames of a video file, counted by decoding. A video the frame cache will keep is decoded to RGB through
    ``iter_frames`` (so the next read is free); any other is only decoded, never converted."""
    if fits(header_count, frame_bytes):  # the test iter_frames keeps frames by
        return sum(1 for _ in iter_frames(path))
    with _open(path) as container:
        try:
            return sum(1 for _ in container.decode(video=0))
        except av.error.FFmpegError as exc:
            raise VideoError(f"{path}: the video is corrupt or truncated ({exc})") from exc


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Yield frames as HxWx3 RGB uint8 arrays, one at a time (long videos are not held in memory)."""
    path = Path(path)
    _check_exists(path)
    if path.is_dir():
        files = _frame_files(path)
        if not files:
            raise VideoError(f"{path}: the folder holds no frame images ({', '.join(FRAME_EXTENSIONS)})")
        shape = None
        for f in files:
            img = _read_image(f)
            if shape is not None and img.shape != shape:
                raise VideoError(f"{f}: frame size {img.shape[1]}x{img.shape[0]} differs from the first frame's")
            shape = img.shape
            yield img
        return
    key = cache_key(path)
    cached = FRAMES.get(key)
    if cached is not None:
        for frame in cached:
            yield frame.copy()  # callers may draw on their frames
        return
    container = _open(path)
    stream = container.streams.video[0]
    frame_bytes = stream.codec_context.width * stream.codec_context.height * 3
    budget = budget_bytes()
    keep: list[np.ndarray] | None = [] if fits(stream.frames, frame_bytes, budget) else None
    count = 0
    try:
        for frame in container.decode(stream):
            count += 1
            rgb = frame.to_ndarray(format="rgb24")
            # a view into the decoder's buffer: a caller that keeps some frames (a background sample) would pin
            # FFmpeg buffers and, measured, let the heap grow with the video's length (0.4 MB/frame at 832x480)
            rgb = rgb if rgb.base is None else rgb.copy()
            if keep is not None:
                keep.append(rgb.copy())
                if len(keep) * frame_bytes > budget:  # the header undercounted: do not keep
                    keep = None
            yield rgb
    except av.error.FFmpegError as exc:
        raise VideoError(
            f"{path}: decoding failed after {count} frames: the video is corrupt or truncated"
        ) from exc
    finally:
        container.close()
    if count == 0:
        raise VideoError(f"{path}: the video has no decodable frames")
    if keep is not None:  # only a complete decode is kept
        FRAMES.put(key, keep)


def read_frames(path: str | Path, max_frames: int | None = None) -> np.ndarray:
    """All frames (or the first ``max_frames``) as an NxHxWx3 uint8 array."""
    frames = []
    for i, frame in enumerate(iter_frames(path)):
        if max_frames is not None and i >= max_frames:
            break
        frames.append(frame)
    return np.stack(frames)


class VideoWriter:
    """Write RGB frames to an mp4; the file appears at ``path`` only when the writer closes without error.

    ``quality``: "high" (H.264 yuv420p, CRF 12; odd sizes fall back to yuv444p) or "lossless" (H.264 RGB, CRF 0:
    exact pixels, for ground truth).
    """

    def __init__(self, path: str | Path, fps: float, width: int, height: int, quality: str = "high") -> None:
        if quality not in ("high", "lossless"):
            raise ValueError("quality must be 'high' or 'lossless'")
        self.path = Path(path)
        self.fps, self.width, self.height, self.quality = fps, width, height, quality
        self.frames_written = 0
        self._atomic = atomic_path(self.path, suffix=".mp4")
        self._tmp = self._atomic.__enter__()
        self._container = av.open(str(self._tmp), mode="w")
        rate = Fraction(fps).limit_denominator(1001)
        if quality == "lossless":
            stream = self._container.add_stream("libx264rgb", rate=rate)
            stream.pix_fmt = "rgb24"
            stream.options = {"crf": "0", "preset": "veryfast"}
        else:
            stream = self._container.add_stream("libx264", rate=rate)
            even = width % 2 == 0 and height % 2 == 0
            stream.pix_fmt = "yuv420p" if even else "yuv444p"
            stream.options = {"crf": "12", "preset": "veryfast"}
        stream.width, stream.height = width, height
        self._stream = stream

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be {self.height}x{self.width}x3 uint8, got {frame.shape} {frame.dtype}")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self, ok: bool = True) -> None:
        if self._container is None:
            return
        try:
            if ok:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            self._container.close()
        finally:
            self._container = None
            if ok and self.frames_written == 0:
                ok = False
                err: Exception | None = VideoError(f"{self.path}: no frames were written")
            else:
                err = None
            if ok:
                self._atomic.__exit__(None, None, None)
            else:
                self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)
            if err:
                raise err

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close(ok=et is None)


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float, quality: str = "high") -> Path:
    """Write frames (RGB uint8) to ``path`` atomically; size comes from the first frame."""
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        raise VideoError(f"{path}: no frames to write") from None
    h, w = first.shape[:2]
    with VideoWriter(path, fps, w, h, quality=quality) as writer:
        writer.write(first)
        for frame in it:
            writer.write(frame)
    return Path(path)
