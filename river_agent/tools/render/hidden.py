"""Objects a removed (or moved) target hid: completed from frames where they show more of themselves.

When every object's mask is known (the (D, D') form, or target masks with the scene's twin), an object that
touches the hole in frame t may continue behind the target there (a car parked behind a person who walks by, a
box sliding behind a tree). Its hidden part is taken from a kept sample frame where it shows more of itself: the
object's visible pixels in frame t are matched (masked SSD, ``cv2.matchTemplate``) against that frame to find
its displacement, and hole pixels that its mask there covers get its pixels. Up to ``max_refs`` samples, nearest
in time first, are tried; a match whose error is too high is not used. Objects hidden completely in frame t
cannot be placed (nothing to match) and stay background.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import cv2
import numpy as np

MIN_GAIN = 1.05  # a reference must show at least this much more of the object than frame t does
MAX_RMS = 28.0  # a match with a larger RMS error (0-255 levels) is not trusted
RING_PX = 3  # objects within this many pixels of the hole are candidates
ID_CACHE = 8  # id maps of samples kept (bounded memory)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def match_shift(
    frame_t: np.ndarray, vis_t: np.ndarray, frame_s: np.ndarray, vis_s: np.ndarray
) -> tuple[int, int, float] | None:
    """Displacement (dy, dx) taking the visible pixels ``vis_t`` of frame t onto the same object in frame s
    (searched where the object's box in s and the template overlap), with the RMS error of the match."""
    bt, bs = _bbox(vis_t), _bbox(vis_s)
    if bt is None or bs is None:
        return None
    y0, y1, x0, x1 = bt
    th, tw = y1 - y0, x1 - x0
    H, W = frame_s.shape[:2]
    sy0, sy1 = max(bs[0] - th, 0), min(bs[1] + th, H)
    sx0, sx1 = max(bs[2] - tw, 0), min(bs[3] + tw, W)
    if sy1 - sy0 < th or sx1 - sx0 < tw:
        return None
    templ = np.ascontiguousarray(frame_t[y0:y1, x0:x1]).astype(np.float32)
    mask = np.ascontiguousarray(vis_t[y0:y1, x0:x1]).astype(np.float32)
    n = float(mask.sum())
    if n < 16:
        return None
    image = np.ascontiguousarray(frame_s[sy0:sy1, sx0:sx1]).astype(np.float32)
    mask3 = cv2.merge([mask, mask, mask])
    res = cv2.matchTemplate(image, templ, cv2.TM_SQDIFF, mask=mask3)
    res = np.where(np.isfinite(res), res, np.float32(3e38))
    _, _, (mx, my), _ = cv2.minMaxLoc(res)
    err = float(res[my, mx])
    rms = float(np.sqrt(max(err, 0.0) / (3.0 * n)))
    return sy0 + my - y0, sx0 + mx - x0, rms


class HiddenObjects:
    """Completes objects hidden by the edited target, from the background model's kept samples."""

    def __init__(
        self,
        id_map: Callable[[int], np.ndarray | None],
        samples: dict[int, tuple[np.ndarray, np.ndarray]],
        max_refs: int = 3,
    ) -> None:
        self.id_map = id_map
        self.samples = samples
        self.max_refs = max_refs
        self._ids: OrderedDict[int, np.ndarray] = OrderedDict()
        self.completed_pixels = 0

    def _sample_ids(self, s: int) -> np.ndarray | None:
        if s in self._ids:
            self._ids.move_to_end(s)
            return self._ids[s]
        ids = self.id_map(s)
        if ids is None:
            return None
        self._ids[s] = ids
        if len(self._ids) > ID_CACHE:
            self._ids.popitem(last=False)
        return ids

    def complete(
        self, t: int, frame: np.ndarray, out: np.ndarray, hole: np.ndarray, target: np.ndarray
    ) -> np.ndarray:
        """Paint into ``out`` the hole pixels that other objects touching the hole cover behind the ``target``
        (frame t's edited objects); returns the painted pixels."""
        painted = np.zeros(hole.shape, bool)
        ids_t = self.id_map(t)
        if ids_t is None or not hole.any():
            return painted
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * RING_PX + 1, 2 * RING_PX + 1))
        ring = cv2.dilate(hole.astype(np.uint8), k).astype(bool) & ~hole
        cands = [int(j) for j in np.unique(ids_t[ring]) if j != 0]
        ys, xs = np.nonzero(hole)
        for j in cands:
            vis_t = ids_t == j
            area_t = int(vis_t.sum())
            if (vis_t & target).sum() > 0.5 * area_t:  # the edited object itself
                continue
            todo = ~painted[ys, xs]
            used = 0
            for s in sorted(self.samples, key=lambda s: abs(s - t)):
                if s == t or not todo.any():
                    continue
                ids_s = self._sample_ids(s)
                if ids_s is None:
                    continue
                vis_s = ids_s == j
                if vis_s.sum() < MIN_GAIN * area_t:
                    continue
                img_s = self.samples[s][0]
                m = match_shift(frame, vis_t, img_s, vis_s)
                if m is None or m[2] > MAX_RMS:
                    continue
                dy, dx, _ = m
                qy, qx = ys + dy, xs + dx
                H, W = hole.shape
                inb = todo & (qy >= 0) & (qy < H) & (qx >= 0) & (qx < W)
                idx = np.nonzero(inb)[0]
                hit = idx[vis_s[qy[idx], qx[idx]]]
                out[ys[hit], xs[hit]] = img_s[qy[hit], qx[hit]]
                painted[ys[hit], xs[hit]] = True
                todo[hit] = False
                used += 1
                if used >= self.max_refs:
                    break
        self.completed_pixels += int(painted.sum())
        return painted


def complete_self(
    t: int,
    frame: np.ndarray,
    mask: np.ndarray,
    mask_at: Callable[[int], np.ndarray],
    samples: dict[int, tuple[np.ndarray, np.ndarray]],
    max_refs: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """The edited object of frame t with the parts something in front hid there, taken from kept samples where
    it shows more of itself (matched as in ``HiddenObjects``): (image with those pixels, its fuller mask). A
    moved or resized object then arrives whole at its new place. ``mask_at(s)``: its mask in frame s."""
    img = frame.copy()
    full = mask.copy()
    area_t = int(mask.sum())
    if area_t < 16:
        return img, full
    used = 0
    for s in sorted(samples, key=lambda s: abs(s - t)):
        if s == t:
            continue
        vis_s = mask_at(s)
        if vis_s.sum() < MIN_GAIN * area_t:
            continue
        img_s = samples[s][0]
        m = match_shift(frame, mask, img_s, vis_s)
        if m is None or m[2] > MAX_RMS:
            continue
        dy, dx, _ = m
        H, W = mask.shape
        sy, sx = np.nonzero(vis_s)
        ty, tx = sy - dy, sx - dx
        ok = (ty >= 0) & (ty < H) & (tx >= 0) & (tx < W)
        sy, sx, ty, tx = sy[ok], sx[ok], ty[ok], tx[ok]
        new = ~full[ty, tx]
        img[ty[new], tx[new]] = img_s[sy[new], sx[new]]
        full[ty[new], tx[new]] = True
        used += 1
        if used >= max_refs:
            break
    return img, full


class SampleMasks:
    """Masks of edited objects in the kept sample frames, read once (bounded: at most ``max_items``)."""

    def __init__(self, mask: Callable[[int, int], np.ndarray], max_items: int) -> None:
        self._mask = mask
        self._cache: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self.max_items = max_items

    def __call__(self, s: int, obj_id: int) -> np.ndarray:
        key = (s, obj_id)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        m = self._mask(s, obj_id)
        self._cache[key] = m
        if len(self._cache) > self.max_items:
            self._cache.popitem(last=False)
        return m
