"""Pixel metrics of the reasoning-video-editing case format (docs/case-format.md).

- ``edited_region``: per-pixel max channel difference above 24/255, then a 3x3 opening.
- localization J: IoU of the output's edited region and the reference region, averaged over frames where either
  is non-empty (1.0 when none is); on target = J >= 0.5.
- preservation: PSNR / SSIM between source and output outside the union of the target mask and the reference
  region, dilated by 7 px.
- fidelity: PSNR / SSIM between output and expected inside that dilated mask (or an op-specific check).

PSNR is capped at ``PSNR_CAP`` dB (identical pixels give the cap, not infinity, so JSON stays finite). SSIM is
the Gaussian-window SSIM of Wang et al. (sigma 1.5) on luma, averaged over the pixels of the region.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

DIFF_THRESHOLD = 24
DILATE_PX = 7
PSNR_CAP = 100.0
_OPEN = np.ones((3, 3), np.uint8)
_DILATE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * DILATE_PX + 1, 2 * DILATE_PX + 1))


def edited_region(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean HxW: where ``a`` and ``b`` differ by more than 24/255 in some channel, after a 3x3 opening."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > DIFF_THRESHOLD
    return cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, _OPEN).astype(bool)


def dilate(mask: np.ndarray, px: int = DILATE_PX) -> np.ndarray:
    kernel = _DILATE if px == DILATE_PX else cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def frame_iou(a: np.ndarray, b: np.ndarray) -> float | None:
    """IoU of two boolean masks; None when both are empty."""
    union = int(np.logical_or(a, b).sum())
    if union == 0:
        return None
    return float(np.logical_and(a, b).sum()) / union


def psnr_from_mse(mse: float) -> float:
    if mse <= 0:
        return PSNR_CAP
    return min(PSNR_CAP, 10.0 * math.log10(255.0**2 / mse))


def _luma(frame: np.ndarray) -> np.ndarray:
    return (frame[..., 0] * 0.299 + frame[..., 1] * 0.587 + frame[..., 2] * 0.114).astype(np.float32)


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM (Gaussian window, sigma 1.5) of two RGB uint8 frames, computed on luma."""
    x, y = _luma(a), _luma(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda z: cv2.GaussianBlur(z, (11, 11), 1.5)  # noqa: E731
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return num / den


class RegionScore:
    """Accumulates squared error and SSIM over a region across frames."""

    def __init__(self) -> None:
        self.sq = 0.0
        self.n = 0  # pixel-channels
        self.ssim_sum = 0.0
        self.px = 0

    def add(self, a: np.ndarray, b: np.ndarray, region: np.ndarray) -> None:
        k = int(region.sum())
        if k == 0:
            return
        d = a[region].astype(np.float64) - b[region].astype(np.float64)
        self.sq += float((d * d).sum())
        self.n += d.size
        self.ssim_sum += float(ssim_map(a, b)[region].sum())
        self.px += k

    def result(self) -> dict[str, float | None]:
        if self.n == 0:
            return {"psnr": None, "ssim": None, "pixels": 0}
        return {
            "psnr": round(psnr_from_mse(self.sq / self.n), 3),
            "ssim": round(self.ssim_sum / self.px, 4),
            "pixels": self.px,
        }


def hue_deg(rgb: np.ndarray) -> np.ndarray:
    """Hue in degrees of Nx3 RGB uint8 pixels."""
    hsv = cv2.cvtColor(rgb.reshape(-1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3)
    return hsv[:, 0].astype(np.float64) * 360.0 / 256.0


def hue_distance(a_deg: np.ndarray | float, b_deg: np.ndarray | float) -> np.ndarray:
    d = np.abs(np.asarray(a_deg) - np.asarray(b_deg)) % 360.0
    return np.minimum(d, 360.0 - d)
