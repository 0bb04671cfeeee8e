"""Global camera motion between consecutive frames, so the background model never assumes a static camera.

Motion is a per-frame global translation. Candidates (no motion, the previous frame's motion, phase correlation
on a downscaled grey frame whose object pixels are filled with the mean grey) are checked as whole-pixel shifts
at full resolution on background pixels; when none fits, masked ECC refines a sub-pixel shift, which is kept
only if it explains the frames clearly better than no motion. Positions are chained from frame 0;
``offset(s, t)`` maps frame ``s`` pixels into frame ``t``.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_RESPONSE = 0.03  # phase-correlation peak below this: no usable candidate
EXACT = 0.25  # mean grey error (0-255) under which the frames are the same: no motion
INT_OK = 2.0  # mean grey error under which a whole-pixel shift explains the two frames (no sub-pixel search)
ACCEPT = 0.7  # a shift must cut the error of "no motion" (or the previous guess) by at least this factor
CLIMB_STEPS = 8
MAX_SIDE = 480  # phase correlation / ECC run on a frame downscaled to at most this side (speed)


class MotionTracker:
    """Feed frames in order; keeps only the previous frame (grey) and the chained positions."""

    def __init__(self) -> None:
        self.positions: list[tuple[float, float]] = []
        self._prev: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._window: np.ndarray | None = None
        self._scale = 1.0

    def _prepare(self, frame: np.ndarray, exclude: np.ndarray | None) -> tuple[np.ndarray, ...]:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
        keep = np.ones(grey.shape, bool) if exclude is None else ~exclude
        small = grey.copy()
        if not keep.all():
            small[~keep] = grey[keep].mean() if keep.any() else 0.0
        small_keep = keep.astype(np.float32)
        h, w = grey.shape
        self._scale = min(1.0, MAX_SIDE / max(h, w))
        if self._scale < 1.0:
            size = (round(w * self._scale), round(h * self._scale))
            small = cv2.resize(small, size, interpolation=cv2.INTER_AREA)
            small_keep = cv2.resize(small_keep, size, interpolation=cv2.INTER_AREA)
        return grey, keep, small, small_keep > 0.999

    def add(self, frame: np.ndarray, exclude: np.ndarray | None = None) -> tuple[float, float]:
        """Add the next frame (``exclude``: object pixels); returns its position relative to frame 0."""
        cur = self._prepare(frame, exclude)
        if self._prev is None or self._prev[0].shape != cur[0].shape:
            pos = (0.0, 0.0)
        else:
            sx, sy = self._shift(self._prev, cur)
            px, py = self.positions[-1]
            pos = (px + sx, py + sy)
        self._prev = cur
        self.positions.append(pos)
        return pos

    def _shift(self, prev: tuple[np.ndarray, ...], cur: tuple[np.ndarray, ...]) -> tuple[float, float]:
        grey_p, keep_p, small_p, skeep_p = prev
        grey_c, keep_c, small_c, _ = cur
        still = _int_error(grey_p, keep_p, grey_c, keep_c, 0, 0)
        if still < EXACT:
            return (0.0, 0.0)
        cands: list[tuple[int, int]] = []
        if len(self.positions) >= 2:
            (ax, ay), (bx, by) = self.positions[-2], self.positions[-1]
            cands.append((round(bx - ax), round(by - ay)))
        if self._window is None or self._window.shape != small_c.shape:
            self._window = cv2.createHanningWindow((small_c.shape[1], small_c.shape[0]), cv2.CV_32F)
        (px, py), response = cv2.phaseCorrelate(small_p.copy(), small_c.copy(), self._window)  # it edits inputs
        if response >= MIN_RESPONSE:
            cands.append((round(px / self._scale), round(py / self._scale)))
        errors = {(0, 0): still}
        for c in cands:
            if c not in errors:
                errors[c] = _int_error(grey_p, keep_p, grey_c, keep_c, *c)
        best = min(errors, key=errors.get)  # type: ignore[arg-type]
        for _ in range(CLIMB_STEPS):  # hill-climb over the 8 neighbours (phase correlation may be a pixel off)
            around = [(best[0] + i, best[1] + j) for i in (-1, 0, 1) for j in (-1, 0, 1) if i or j]
            for c in around:
                if c not in errors:
                    errors[c] = _int_error(grey_p, keep_p, grey_c, keep_c, *c)
            nxt = min(around, key=errors.get)  # type: ignore[arg-type]
            if errors[nxt] >= errors[best]:
                break
            best = nxt
        best_err = errors[best]
        if best == (0, 0) or best_err >= ACCEPT * still:
            return (0.0, 0.0)
        if best_err < INT_OK:
            return (float(best[0]), float(best[1]))
        refined = _ecc(small_p, skeep_p, small_c, (best[0] * self._scale, best[1] * self._scale))
        if refined is not None:
            full = (refined[0] / self._scale, refined[1] / self._scale)
            if _sub_error(grey_p, keep_p, grey_c, keep_c, *full) < ACCEPT * best_err:
                return full
        return (float(best[0]), float(best[1]))

    def offset(self, s: int, t: int) -> tuple[float, float]:
        """Shift that carries frame ``s`` content onto frame ``t``: pixel p in s is at p + offset in t."""
        (xs, ys), (xt, yt) = self.positions[s], self.positions[t]
        return (xt - xs, yt - ys)

    @property
    def static(self) -> bool:
        return all(p == (0.0, 0.0) for p in self.positions)


def _int_error(
    prev: np.ndarray, prev_keep: np.ndarray, cur: np.ndarray, keep: np.ndarray, dx: int, dy: int
) -> float:
    """Mean |cur(x) - prev(x - d)| on background pixels seen in both, whole-pixel shift d (2x subsampled)."""
    h, w = cur.shape
    if abs(dx) >= w // 2 or abs(dy) >= h // 2:
        return float("inf")
    cy0, cy1, cx0, cx1 = max(dy, 0), h + min(dy, 0), max(dx, 0), w + min(dx, 0)
    c = cur[cy0:cy1:2, cx0:cx1:2]
    p = prev[cy0 - dy : cy1 - dy : 2, cx0 - dx : cx1 - dx : 2]
    ok = keep[cy0:cy1:2, cx0:cx1:2] & prev_keep[cy0 - dy : cy1 - dy : 2, cx0 - dx : cx1 - dx : 2]
    if ok.sum() < 0.2 * ok.size:
        return float("inf")
    return float(np.abs(c[ok] - p[ok]).mean())


def _sub_error(prev: np.ndarray, prev_keep: np.ndarray, cur: np.ndarray, keep: np.ndarray, sx: float,
               sy: float) -> float:  # fmt: skip
    """Like ``_int_error`` for a sub-pixel shift (bilinear warp of the previous frame)."""
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
