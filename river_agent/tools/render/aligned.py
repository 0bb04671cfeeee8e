"""Motion-aligned background: hole pixels taken from other frames of the same shot, re-projected by the camera.

Pass 1 feeds every frame to a homography camera tracker (``river_agent.video.camera.CameraTracker``: pan, zoom,
rotation and perspective, scene cuts) and keeps a bounded, evenly spaced sample of frames with the pixels no
object covers. To fill a hole in frame t, each connected part of it is handled on its own: the nearest kept
frames of t's shot (``candidates`` of them) are re-projected into frame t through the homography s -> t; each is
then shifted by up to ``search`` pixels to best match the ring of background around the hole (parallax: the
homography fits the dominant plane, not every depth) and ranked by that ring error (a frame where something in
the clip moved through the place matches worse). Hole pixels take the best-ranked frame that sees them as
background: no object's (dilated) mask covers the source pixel or its interpolation neighbours. Pixels no kept
frame sees are left for the caller's fallback (the consensus model and the spatial fill of ``background.py``).
Frames across a scene cut are never used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from river_agent.tools.render.background import sample_indices
from river_agent.video.camera import CameraTracker

SEEN = 0.999  # a re-projected validity above this: every interpolation neighbour is background
MIN_RING_SHARE = 0.3  # a shift must overlap at least this share of the ring to be scored


@dataclass
class AlignedFillConfig:
    """Settings of the motion-aligned background fill."""

    max_frames: int = field(
        default=48, metadata={"help": "Frames kept (evenly spaced over the video; bounds memory for long videos)."}
    )
    candidates: int = field(
        default=8, metadata={"help": "Nearest kept frames of the shot tried per hole part (ranked by ring error)."}
    )
    ring: int = field(default=8, metadata={"help": "Width (px) of the background ring matched around a hole."})
    search: int = field(
        default=3, metadata={"help": "Largest local shift (px) tried on top of the homography (parallax)."}
    )
    time_weight: float = field(
        default=0.5, metadata={"help": "Ring RMS error (grey levels) added per frame of time distance."}
    )


@dataclass
class _Source:
    """One kept frame re-projected into a hole part's crop, with its best local shift and ring error."""

    s: int
    score: float
    values: np.ndarray  # crop of the re-projected frame (crop = part box grown by ring + search)
    valid: np.ndarray  # float validity of the same crop
    dx: int
    dy: int


class AlignedBackground:
    """Homography-aligned fill of holes from other frames of the shot; ``observe`` every frame, then ``fill``."""

    def __init__(self, num_frames: int, config: AlignedFillConfig | None = None) -> None:
        self.config = config or AlignedFillConfig()
        self.wanted = set(sample_indices(num_frames, max(1, self.config.max_frames)))
        self.camera = CameraTracker()
        self.frames: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # t -> (frame, bool background mask)
        self.filled_pixels = 0

    def observe(self, t: int, frame: np.ndarray, exclude: np.ndarray) -> None:
        """Feed frame ``t`` (in order) with the pixels that are not background (dilated object masks)."""
        self.camera.add(frame, exclude)
        if t in self.wanted:
            self.frames[t] = (frame.copy(), ~exclude)

    def fill(
        self, t: int, frame: np.ndarray, hole: np.ndarray, objects: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A copy of ``frame`` with the hole pixels other frames see replaced, and the bool mask of those pixels
        (``objects``: other objects' pixels of frame t, left out of the ring that is matched)."""
        out = frame.copy()
        got = np.zeros(hole.shape, bool)
        if not hole.any() or t >= len(self.camera.positions):
            return out, got
        background = ~hole if objects is None else ~(hole | objects)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(hole.astype(np.uint8), connectivity=8)
        for k in range(1, count):
            x, y, w, h = (int(v) for v in stats[k, :4])
            self._fill_part(t, frame, labels[y : y + h, x : x + w] == k, (x, y), background, out, got)
        self.filled_pixels += int(got.sum())
        return out, got

    def _fill_part(
        self,
        t: int,
        frame: np.ndarray,
        part: np.ndarray,
        origin: tuple[int, int],
        background: np.ndarray,
        out: np.ndarray,
        got: np.ndarray,
    ) -> None:
        """Fill one connected hole part (bool mask ``part`` whose box starts at ``origin``) in ``out``."""
        cfg = self.config
        H, W = frame.shape[:2]
        r, R = cfg.ring, cfg.search
        x0, y0 = origin[0] - r, origin[1] - r  # region: the part's box grown by the ring (may leave the frame)
        w, h = part.shape[1] + 2 * r, part.shape[0] + 2 * r
        region = _crop(frame, x0, y0, w, h)
        ring = _crop(background.astype(np.float32), x0, y0, w, h)
        inside = np.zeros((h, w), bool)
        inside[r : r + part.shape[0], r : r + part.shape[1]] = part
        ring[inside] = 0.0
        grey = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY).astype(np.float32) - 128.0
        sources: list[_Source] = []
        near = sorted((s for s in self.frames if s != t), key=lambda s: (abs(s - t), s))
        for s in near:
            if len(sources) >= cfg.candidates:
                break
            m = self.camera.transform(s, t)
            if m is None:  # another shot
                continue
            shift = np.array([[1.0, 0.0, -(x0 - R)], [0.0, 1.0, -(y0 - R)], [0.0, 0.0, 1.0]])
            img, valid = self.frames[s]
            size = (w + 2 * R, h + 2 * R)
            to_crop = shift @ m
            vals = cv2.warpPerspective(img, to_crop, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            seen = cv2.warpPerspective(
                valid.astype(np.float32), to_crop, size, flags=cv2.INTER_LINEAR, borderValue=0.0
            )
            seen = (seen > SEEN).astype(np.float32)
            rms, dx, dy = _best_shift(vals, seen, grey, ring, R)
            sources.append(_Source(s, rms + cfg.time_weight * abs(s - t), vals, seen, dx, dy))
        todo = inside.copy()
        for src in sorted(sources, key=lambda c: c.score):
            sy, sx = R + src.dy, R + src.dx
            ok = todo & (src.valid[sy : sy + h, sx : sx + w] > 0)
            if not ok.any():
                continue
            ys, xs = np.nonzero(ok)
            fy, fx = ys + y0, xs + x0
            keep = (fy >= 0) & (fy < H) & (fx >= 0) & (fx < W)
            out[fy[keep], fx[keep]] = src.values[sy + ys[keep], sx + xs[keep]]
            got[fy[keep], fx[keep]] = True
            todo &= ~ok
            if not todo.any():
                break


def _crop(img: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    """``img[y0:y0+h, x0:x0+w]``, zero outside the image."""
    out = np.zeros((h, w, *img.shape[2:]), img.dtype)
    H, W = img.shape[:2]
    ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
    if ax0 < ax1 and ay0 < ay1:
        out[ay0 - y0 : ay1 - y0, ax0 - x0 : ax1 - x0] = img[ay0:ay1, ax0:ax1]
    return out


def _best_shift(
    vals: np.ndarray, seen: np.ndarray, grey: np.ndarray, ring: np.ndarray, R: int
) -> tuple[float, int, int]:
    """Masked RMS grey error between the ring (``grey`` where ``ring``) and the re-projected crop ``vals``
    (where ``seen``) for every shift up to ``R``: (best RMS, dx, dy); RMS is inf when nothing overlaps."""
    total = float(ring.sum())
    if total == 0:
        return 0.0, 0, 0
    img = (cv2.cvtColor(vals, cv2.COLOR_RGB2GRAY).astype(np.float32) - 128.0) * seen
    n = corr(seen, ring)
    ssd = corr(seen, ring * grey * grey) - 2 * corr(img, ring * grey) + corr(img * img, ring)
    ssd = np.where(n >= MIN_RING_SHARE * total, np.maximum(ssd, 0) / np.maximum(n, 1e-6), np.inf)
    ties = ssd.copy()
    ties[R, R] -= 1e-3  # equal errors: no shift
    dy, dx = np.unravel_index(int(np.argmin(ties)), ssd.shape)
    return float(np.sqrt(ssd[dy, dx])), int(dx) - R, int(dy) - R


def corr(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """Cross-correlation of ``template`` over ``image`` at every shift (cv2.TM_CCORR, no normalisation)."""
    return cv2.matchTemplate(image, template, cv2.TM_CCORR)
