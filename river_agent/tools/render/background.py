"""A temporally consistent background for holes (removed or moved objects), from frames where it is visible.

The model keeps a bounded, evenly spaced sample of frames with their object masks. To fill a hole in frame t it
carries every sample into frame t's coordinates (global camera motion from ``MotionTracker``), takes the
per-pixel lower median of the observations where the sample shows background, and inpaints spatially
(cv2.inpaint) only the pixels no sample ever shows.
"""

from __future__ import annotations

import cv2
import numpy as np

from river_agent.tools.render.motion import MotionTracker

INVALID = 256  # marks a sample that does not see the background (sorts after every pixel value)
PLATE_MAX_FRAMES = 6  # cache plate at most this many frame areas (long pans fall back to per-frame medians)


def sample_indices(num_frames: int, max_samples: int) -> list[int]:
    """Evenly spaced frame indices, at most ``max_samples`` of them."""
    if num_frames <= max_samples:
        return list(range(num_frames))
    return sorted({round(i) for i in np.linspace(0, num_frames - 1, max_samples)})


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0 or not mask.any():
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


class BackgroundModel:
    """Bounded sample of frames (memory flat in video length) + motion, answering ``fill(t, frame, hole)``."""

    def __init__(self, num_frames: int, max_samples: int = 24, inpaint_radius: int = 5) -> None:
        self.wanted = set(sample_indices(num_frames, max_samples))
        self.samples: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # t -> (frame, valid background mask)
        self.motion = MotionTracker()
        self.inpaint_radius = inpaint_radius
        self.inpainted_pixels = 0
        self.filled_pixels = 0
        self._plate_ready = False
        self._plate: np.ndarray | None = None
        self._known: np.ndarray | None = None
        self._origin = (0, 0)

    def observe(self, t: int, frame: np.ndarray, exclude: np.ndarray) -> None:
        """Feed frame ``t`` (in order) with the pixels that are not background (dilated object masks)."""
        self.motion.add(frame, exclude)
        if t in self.wanted:
            self.samples[t] = (frame.copy(), ~exclude)

    def _plate_setup(self) -> None:
        """With whole-pixel camera motion the background of a world point is the same in every frame: cache
        it (and any inpainted value, so never-seen regions stay the same from frame to frame)."""
        self._plate_ready = True
        pos = self.motion.positions
        if not pos or any(x != int(x) or y != int(y) for x, y in pos):
            return
        h, w = next(iter(self.samples.values()))[1].shape if self.samples else (0, 0)
        xs = [-int(x) for x, _ in pos]
        ys = [-int(y) for _, y in pos]
        pw, ph = max(xs) - min(xs) + w, max(ys) - min(ys) + h
        if w == 0 or pw * ph > PLATE_MAX_FRAMES * w * h:
            return
        self._origin = (-min(xs), -min(ys))
        self._plate = np.zeros((ph, pw, 3), np.uint8)
        self._known = np.zeros((ph, pw), bool)

    def _world(self, t: int, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        px, py = self.motion.positions[t]
        return ys - int(py) + self._origin[1], xs - int(px) + self._origin[0]

    def fill(self, t: int, frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """A copy of ``frame`` with the ``hole`` pixels replaced by background."""
        if not self._plate_ready:
            self._plate_setup()
        out = frame.copy()
        ys, xs = np.nonzero(hole)
        if ys.size == 0:
            return out
        cached = t < len(self.motion.positions) and self._plate is not None
        if cached:
            wy, wx = self._world(t, ys, xs)
            known = self._known[wy, wx]
            out[ys[known], xs[known]] = self._plate[wy[known], wx[known]]
            ys, xs = ys[~known], xs[~known]
            if ys.size == 0:
                return out
        vals, filled = self._median(t, ys, xs)
        out[ys[filled], xs[filled]] = vals[filled]
        self.filled_pixels += int(filled.sum())
        if not filled.all():
            never = np.zeros_like(hole)
            never[ys[~filled], xs[~filled]] = True
            self.inpainted_pixels += int((~filled).sum())
            out = inpaint_region(out, never, self.inpaint_radius)
        if cached:
            wy, wx = self._world(t, ys, xs)
            self._plate[wy, wx] = out[ys, xs]
            self._known[wy, wx] = True
        return out

    def _median(self, t: int, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower median over the samples of the background at pixels (ys, xs) of frame t, and where any exists."""
        n = ys.size
        vals = np.full((max(len(self.samples), 1), n, 3), INVALID, np.uint16)
        if n == 0 or not self.samples:
            return vals[0].astype(np.uint8), np.zeros(n, bool)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        for k, (s, (img, valid)) in enumerate(self.samples.items()):
            ox, oy = self.motion.offset(s, t) if t < len(self.motion.positions) else (0.0, 0.0)
            if ox == int(ox) and oy == int(oy):
                sy, sx = ys - int(oy), xs - int(ox)
                h, w = valid.shape
                inb = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
                idx = np.nonzero(inb)[0]
                ok = valid[sy[idx], sx[idx]]
                idx = idx[ok]
                vals[k, idx] = img[sy[idx], sx[idx]]
            else:
                m = np.array([[1.0, 0.0, x0 - ox], [0.0, 1.0, y0 - oy]], np.float32)
                flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
                crop = cv2.warpAffine(img, m, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT)
                vf = cv2.warpAffine(valid.astype(np.float32), m, (x1 - x0, y1 - y0), flags=flags, borderValue=0.0)
                ok = vf[ys - y0, xs - x0] > 0.999
                vals[k, ok] = crop[ys[ok] - y0, xs[ok] - x0]
        count = (vals[:, :, 0] != INVALID).sum(axis=0)
        vals.sort(axis=0)
        idx = np.clip((count - 1) // 2, 0, None)
        med = np.take_along_axis(vals, idx[None, :, None].repeat(3, axis=2), axis=0)[0]
        filled = count > 0
        return np.where(filled[:, None], med, 0).astype(np.uint8), filled


def inpaint_region(frame: np.ndarray, mask: np.ndarray, radius: int = 5) -> np.ndarray:
    """cv2.inpaint (Telea) on the bounding box of ``mask`` plus a margin (fast for small holes)."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return frame
    H, W = mask.shape
    m = 3 * radius + 4
    y0, y1 = max(ys.min() - m, 0), min(ys.max() + 1 + m, H)
    x0, x1 = max(xs.min() - m, 0), min(xs.max() + 1 + m, W)
    out = frame.copy()
    crop = np.ascontiguousarray(out[y0:y1, x0:x1])
    mcrop = mask[y0:y1, x0:x1].astype(np.uint8) * 255
    if mcrop.all():  # nothing known around it: mean colour of the frame outside the hole
        out[mask] = frame[~mask].mean(axis=0).astype(np.uint8) if (~mask).any() else 0
        return out
    out[y0:y1, x0:x1] = cv2.inpaint(crop, mcrop, radius, cv2.INPAINT_TELEA)
    return out
