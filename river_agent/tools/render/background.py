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

    def observe(self, t: int, frame: np.ndarray, exclude: np.ndarray) -> None:
        """Feed frame ``t`` (in order) with the pixels that are not background (dilated object masks)."""
        self.motion.add(frame, exclude)
        if t in self.wanted:
            self.samples[t] = (frame.copy(), ~exclude)

    def fill(self, t: int, frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """``frame`` with the ``hole`` pixels replaced by background (in place on a copy)."""
        out = frame.copy()
        ys, xs = np.nonzero(hole)
        if ys.size == 0:
            return out
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        bw, bh = int(x1 - x0), int(y1 - y0)
        sub = hole[y0:y1, x0:x1]
        values, valids = [], []
        for s, (img, valid) in self.samples.items():
            ox, oy = self.motion.offset(s, t) if t < len(self.motion.positions) else (0.0, 0.0)
            if ox == int(ox) and oy == int(oy):
                crop, vcrop = _shifted_crop(img, valid, x0 - int(ox), y0 - int(oy), bw, bh)
            else:
                m = np.array([[1.0, 0.0, x0 - ox], [0.0, 1.0, y0 - oy]], np.float32)
                flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
                crop = cv2.warpAffine(img, m, (bw, bh), flags=flags, borderMode=cv2.BORDER_CONSTANT)
                vf = cv2.warpAffine(valid.astype(np.float32), m, (bw, bh), flags=flags, borderValue=0.0)
                vcrop = vf > 0.999
            values.append(crop[sub])
            valids.append(vcrop[sub])
        filled = np.zeros(sub.sum(), bool)
        if values:
            vals = np.stack(values).astype(np.float32)  # K x N x 3
            ok = np.stack(valids)  # K x N
            vals[~ok] = np.inf
            count = ok.sum(axis=0)
            vals.sort(axis=0)
            idx = np.clip((count - 1) // 2, 0, None)
            med = np.take_along_axis(vals, idx[None, :, None].repeat(3, axis=2), axis=0)[0]
            filled = count > 0
            region = out[y0:y1, x0:x1]
            pix = region[sub]
            pix[filled] = med[filled].astype(np.uint8)
            region[sub] = pix
        self.filled_pixels += int(filled.sum())
        if not filled.all():
            never = np.zeros_like(hole)
            never[ys[~filled], xs[~filled]] = True
            self.inpainted_pixels += int((~filled).sum())
            out = inpaint_region(out, never, self.inpaint_radius)
        return out


def _shifted_crop(
    img: np.ndarray, valid: np.ndarray, sx: int, sy: int, w: int, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """img[sy:sy+h, sx:sx+w] with out-of-frame pixels marked invalid."""
    H, W = valid.shape
    crop = np.zeros((h, w, 3), img.dtype)
    vcrop = np.zeros((h, w), bool)
    ax0, ay0, ax1, ay1 = max(sx, 0), max(sy, 0), min(sx + w, W), min(sy + h, H)
    if ax0 < ax1 and ay0 < ay1:
        crop[ay0 - sy : ay1 - sy, ax0 - sx : ax1 - sx] = img[ay0:ay1, ax0:ax1]
        vcrop[ay0 - sy : ay1 - sy, ax0 - sx : ax1 - sx] = valid[ay0:ay1, ax0:ax1]
    return crop, vcrop


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
