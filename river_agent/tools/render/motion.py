"""Global camera motion between consecutive frames, so the background model never assumes a static camera.

Motion is a per-frame global translation estimated by phase correlation on the grey frame with the known
object pixels filled by the mean grey (moving objects do not drag the estimate). Positions are chained from
frame 0; ``offset(s, t)`` maps frame ``s`` pixels into frame ``t``.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_RESPONSE = 0.05  # phase-correlation peak below this: no reliable shift, assume none
SNAP = 0.12  # shifts within this of an integer are snapped to it (exact copies for integer pans)
MAX_SIDE = 480  # estimate on a downscaled frame at most this wide/high (speed)


class MotionTracker:
    """Feed frames in order; keeps only the previous (small, grey) frame and the chained positions."""

    def __init__(self) -> None:
        self.positions: list[tuple[float, float]] = []
        self._prev: np.ndarray | None = None
        self._window: np.ndarray | None = None
        self._scale = 1.0

    def _prepare(self, frame: np.ndarray, exclude: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        keep = np.ones(grey.shape, np.float32)
        if exclude is not None and exclude.any():
            keep[exclude] = 0.0
            grey[exclude] = grey[~exclude].mean() if (~exclude).any() else 0.0
        h, w = grey.shape
        self._scale = min(1.0, MAX_SIDE / max(h, w))
        if self._scale < 1.0:
            size = (round(w * self._scale), round(h * self._scale))
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            keep = cv2.resize(keep, size, interpolation=cv2.INTER_AREA)
        return grey, keep > 0.999

    def add(self, frame: np.ndarray, exclude: np.ndarray | None = None) -> tuple[float, float]:
        """Add the next frame (``exclude``: object pixels); returns its position relative to frame 0."""
        cur, keep = self._prepare(frame, exclude)
        if self._prev is None or self._prev[0].shape != cur.shape:
            pos = (0.0, 0.0)
        else:
            prev, prev_keep = self._prev
            if self._window is None or self._window.shape != cur.shape:
                self._window = cv2.createHanningWindow((cur.shape[1], cur.shape[0]), cv2.CV_32F)
            (sx, sy), response = cv2.phaseCorrelate(prev.copy(), cur.copy(), self._window)  # it edits inputs
            sx, sy = self._best_shift(prev, prev_keep, cur, keep, (sx, sy) if response >= MIN_RESPONSE else None)
            sx, sy = _snap(sx / self._scale), _snap(sy / self._scale)
            px, py = self.positions[-1]
            pos = (px + sx, py + sy)
        self._prev = (cur, keep)
        self.positions.append(pos)
        return pos

    def _best_shift(
        self,
        prev: np.ndarray,
        prev_keep: np.ndarray,
        cur: np.ndarray,
        keep: np.ndarray,
        phase: tuple[float, float] | None,
    ) -> tuple[float, float]:
        """Best of (phase correlation, last frame's motion, none), refined by masked ECC; (0, 0) unless a shift
        explains the frames clearly better than no motion."""
        cands = [(0.0, 0.0)]
        if phase is not None:
            cands.append(phase)
        if len(self.positions) >= 2:
            (ax, ay), (bx, by) = self.positions[-2], self.positions[-1]
            cands.append(((bx - ax) * self._scale, (by - ay) * self._scale))
        errs = [_alignment_error(prev, prev_keep, cur, keep, *c) for c in cands]
        best = cands[int(np.argmin(errs))]
        refined = _ecc(prev, prev_keep, cur, best)
        if refined is not None:
            cands.append(refined)
            errs.append(_alignment_error(prev, prev_keep, cur, keep, *refined))
        i = int(np.argmin(errs))
        still = errs[0]
        if i == 0 or not (errs[i] < 0.7 * still and still > 0.5):
            return (0.0, 0.0)
        return cands[i]

    def offset(self, s: int, t: int) -> tuple[float, float]:
        """Shift that carries frame ``s`` content onto frame ``t``: pixel p in s is at p + offset in t."""
        (xs, ys), (xt, yt) = self.positions[s], self.positions[t]
        return (xt - xs, yt - ys)

    @property
    def static(self) -> bool:
        return all(p == (0.0, 0.0) for p in self.positions)


def _alignment_error(
    prev: np.ndarray, prev_keep: np.ndarray, cur: np.ndarray, keep: np.ndarray, sx: float, sy: float
) -> float:
    """Mean absolute grey difference between ``cur`` and ``prev`` shifted by (sx, sy), on background pixels."""
    h, w = cur.shape
    m = np.array([[1.0, 0.0, sx], [0.0, 1.0, sy]], np.float32)
    moved = cv2.warpAffine(prev, m, (w, h), flags=cv2.INTER_LINEAR)
    valid = cv2.warpAffine(prev_keep.astype(np.float32), m, (w, h), flags=cv2.INTER_LINEAR) > 0.999
    valid &= keep
    if valid.sum() < 0.2 * valid.size:
        return float("inf")
    return float(np.abs(moved[valid] - cur[valid]).mean())


def _ecc(
    prev: np.ndarray, prev_keep: np.ndarray, cur: np.ndarray, start: tuple[float, float]
) -> tuple[float, float] | None:
    """Refine a translation with masked ECC (cur(x) ~= prev(x - shift)); None when it does not converge."""
    warp = np.array([[1.0, 0.0, -start[0]], [0.0, 1.0, -start[1]]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    try:
        _, warp = cv2.findTransformECC(
            cur, prev, warp, cv2.MOTION_TRANSLATION, criteria, prev_keep.astype(np.uint8), 5
        )
    except cv2.error:
        return None
    return (-float(warp[0, 2]), -float(warp[1, 2]))


def _snap(v: float) -> float:
    r = round(v)
    return float(r) if abs(v - r) < SNAP else v
