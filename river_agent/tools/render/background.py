"""A temporally consistent background for holes (removed or moved objects), from frames where it is visible.

The model keeps a bounded, evenly spaced sample of frames with their object masks. To fill a hole in frame t it
carries every sample into frame t's coordinates (global camera motion from ``MotionTracker``), takes per pixel
the value most observations agree with (see ``consensus``) where the sample shows static background, and
makes up spatially (``fill.fill_never_seen``: exemplar copy, or cv2.inpaint) only the pixels no sample shows.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

from river_agent.tools.render.fill import fill_never_seen
from river_agent.tools.render.motion import MotionTracker

INVALID = 256  # marks a sample that does not see the background (sorts after every pixel value)
STATIC_COVER = 0.4  # covered by an object in at least this share of frames: a static object's place
MIN_SUPPORT_FRACTION = 0.1  # background must be seen in at least this share of the samples (and twice)
CONSENSUS_BLOCK = 4096  # pixels per consensus batch (bounds the K x K x N agreement array)
PLATE_MAX_FRAMES = 6  # cache plate at most this many frame areas (long pans fall back to per-frame medians)


def sample_indices(num_frames: int, max_samples: int) -> list[int]:
    """Evenly spaced frame indices, at most ``max_samples`` of them."""
    if num_frames <= max_samples:
        return list(range(num_frames))
    return sorted({round(i) for i in np.linspace(0, num_frames - 1, max_samples)})


def consensus(
    vals: np.ndarray, bonus: np.ndarray, tol: int, min_support: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel, the value most observations agree with (within ``tol`` per channel), averaged over them.

    The background recurs in every frame that sees it, while a passing object shows different parts of itself
    from frame to frame, so the largest agreeing group is the background even when objects cover the pixel
    in most frames (a median would pick the object). A value fewer than ``min_support`` observations agree
    with is not trusted (it is more often an occluder that stood still for a moment than the background).
    vals: K x N x 3 uint16, INVALID where not seen.
    """
    valid = vals[:, :, 0] != INVALID
    v = vals.astype(np.int16)
    agree = (np.abs(v[:, None] - v[None, :]).max(axis=3) <= tol) & valid[:, None] & valid[None, :]  # K x K x N
    support = agree.sum(axis=1).astype(np.float32) + bonus[:, None]
    support[~valid] = -1.0
    best = support.argmax(axis=0)  # N
    members = np.take_along_axis(agree, best[None, None, :], axis=0)[0]  # K x N: who agrees with the winner
    weights = members.astype(np.float32)
    total = weights.sum(axis=0)
    mean = (v.astype(np.float32) * weights[..., None]).sum(axis=0) / np.maximum(total, 1)[:, None]
    return np.clip(np.rint(mean), 0, 255).astype(np.uint8), total >= min_support


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0 or not mask.any():
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


class BackgroundModel:
    """Bounded sample of frames (memory flat in video length) + motion, answering ``fill(t, frame, hole)``."""

    def __init__(
        self,
        num_frames: int,
        max_samples: int = 24,
        inpaint_radius: int = 5,
        tolerance: int = 10,
        motion_gap: int = 4,
        motion_threshold: int = 12,
        objects_known: bool = False,
        fill_method: str = "exemplar",
        snap_plate: bool = True,
    ) -> None:
        self.num_frames = num_frames
        # with every object's masks known, a sample pixel outside them shows background: the guards against
        # unknown occluders (temporal hull, static places) are not needed and would throw seen background away
        self.objects_known = objects_known
        self.fill_method = fill_method
        # sub-pixel camera motion: cache the background per world point at the nearest whole pixel (values
        # computed once, reused at most half a pixel off) instead of recomputing every frame
        self.snap_plate = snap_plate
        self._fill_offsets: list[tuple[int, int, float]] = []  # the last fill's exemplar offsets (kept if fit)
        self.wanted = set(sample_indices(num_frames, max_samples))
        self.motion_gap, self.motion_threshold = motion_gap, motion_threshold
        self._ring: deque[tuple[int, np.ndarray, np.ndarray]] = deque(maxlen=2 * motion_gap + 1)
        self._pending: dict[int, np.ndarray] = {}  # sample t -> exclude mask, until its later neighbour arrives
        self.samples: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # t -> (frame, valid background mask)
        self.motion = MotionTracker()
        self.inpaint_radius = inpaint_radius
        self.tolerance = tolerance
        # an observation outside every known object's mask is background; without them, demand agreement
        self.min_support = 1 if objects_known else max(2, int(np.ceil(MIN_SUPPORT_FRACTION * len(self.wanted))))
        self.inpainted_pixels = 0
        self.filled_pixels = 0
        self._plate_ready = False
        self._plate: np.ndarray | None = None
        self._known: np.ndarray | None = None
        self._origin = (0, 0)

    def observe(self, t: int, frame: np.ndarray, exclude: np.ndarray) -> None:
        """Feed frame ``t`` (in order) with the pixels that are not background (dilated object masks)."""
        self.motion.add(frame, exclude)
        self._note_cover(t, exclude)
        self._ring.append((t, frame, exclude))
        if t in self.wanted:
            self._pending[t] = exclude
        for s in [s for s in self._pending if s <= t - self.motion_gap or t == self.num_frames - 1]:
            self._finalise(s)

    def _hull_coords(self, t: int, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cover-hull canvas coordinates of frame-``t`` pixels, and which of them lie on the canvas."""
        h, w = self._first.shape[0] // 3, self._first.shape[1] // 3
        px, py = self.motion.positions[t] if t < len(self.motion.positions) else (0.0, 0.0)
        wy, wx = ys - round(py) + h, xs - round(px) + w
        on = (wy >= 0) & (wy < 3 * h) & (wx >= 0) & (wx < 3 * w)
        return np.clip(wy, 0, 3 * h - 1), np.clip(wx, 0, 3 * w - 1), on

    def _note_cover(self, t: int, exclude: np.ndarray) -> None:
        """Track, per world point, the first and last frame an object covers it (its temporal hull)."""
        if not hasattr(self, "_first"):
            h, w = exclude.shape
            self._first = np.full((3 * h, 3 * w), np.iinfo(np.int32).max, np.int32)
            self._last = np.full((3 * h, 3 * w), -1, np.int32)
            self._count = np.zeros((3 * h, 3 * w), np.int32)
            self._frames_seen = 0
        self._frames_seen += 1
        ys, xs = np.nonzero(exclude)
        wy, wx, on = self._hull_coords(t, ys, xs)
        wy, wx = wy[on], wx[on]
        self._first[wy, wx] = np.minimum(self._first[wy, wx], t)
        self._last[wy, wx] = t
        self._count[wy, wx] += 1

    def _finalise(self, s: int) -> None:
        """Store sample ``s`` with its background pixels: not an object, and not changing (it differs from the
        frame ``motion_gap`` before or after, camera motion compensated): other moving things are left out."""
        exclude = self._pending.pop(s)
        frames = {n: f for n, f, _ in self._ring}
        excludes = {n: e for n, _, e in self._ring} if self.objects_known else {}
        frame = frames[s]
        moving = self._moving(s, frame, frames, excludes)
        self.samples[s] = (frame.copy(), ~(exclude | moving))

    def _moving(
        self, s: int, frame: np.ndarray, frames: dict[int, np.ndarray], excludes: dict[int, np.ndarray]
    ) -> np.ndarray:
        """Pixels of sample s that change against the frames ``motion_gap`` before/after; with every object's
        masks known (``excludes`` given), a change where a known object is in the other frame is explained."""
        h, w = frame.shape[:2]
        moving = np.zeros((h, w), bool)
        for n in (s - self.motion_gap, s + self.motion_gap):
            other = frames.get(n)
            if other is None or n >= len(self.motion.positions):
                continue
            ox, oy = self.motion.offset(n, s)
            ox, oy = round(ox), round(oy)
            differs = np.ones((h, w), bool)
            known = np.zeros((h, w), bool)
            y0, y1, x0, x1 = max(oy, 0), h + min(oy, 0), max(ox, 0), w + min(ox, 0)
            if y0 < y1 and x0 < x1:
                a = frame[y0:y1, x0:x1].astype(np.int16)
                b = other[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
                differs[y0:y1, x0:x1] = np.abs(a - b).max(axis=2) > self.motion_threshold
                known[y0:y1, x0:x1] = True
                if n in excludes:
                    known[y0:y1, x0:x1] &= ~excludes[n][y0 - oy : y1 - oy, x0 - ox : x1 - ox]
            moving |= differs & known
        if not moving.any():
            return moving
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
        moving = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        return cv2.dilate(cv2.morphologyEx(moving, cv2.MORPH_CLOSE, k), k).astype(bool)

    def _plate_setup(self) -> None:
        """With whole-pixel camera motion the background of a world point is the same in every frame: cache
        it (and any inpainted value, so never-seen regions stay the same from frame to frame)."""
        self._plate_ready = True
        pos = self.motion.positions
        if not pos or (not self.snap_plate and any(x != int(x) or y != int(y) for x, y in pos)):
            return
        h, w = next(iter(self.samples.values()))[1].shape if self.samples else (0, 0)
        xs = [-round(x) for x, _ in pos]
        ys = [-round(y) for _, y in pos]
        pw, ph = max(xs) - min(xs) + w, max(ys) - min(ys) + h
        if w == 0 or pw * ph > PLATE_MAX_FRAMES * w * h:
            return
        self._origin = (-min(xs), -min(ys))
        self._plate = np.zeros((ph, pw, 3), np.uint8)
        self._known = np.zeros((ph, pw), bool)
        self._never = np.zeros((ph, pw), bool)
        # made-up pixels are cached too where that is safe: with whole-pixel motion (they then stay put), or
        # with every object known (the copy's source is background). Else (sub-pixel motion, unknown objects)
        # an unknown passer-by copied in once would stay for good: they are made up anew in each frame.
        whole = all(x == int(x) and y == int(y) for x, y in pos)
        self._cache_made_up = whole or self.objects_known

    def _world(self, t: int, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        px, py = self.motion.positions[t]
        return ys - round(py) + self._origin[1], xs - round(px) + self._origin[0]

    def fill(self, t: int, frame: np.ndarray, hole: np.ndarray, objects: np.ndarray | None = None) -> np.ndarray:
        """A copy of ``frame`` with the ``hole`` pixels replaced by background (``objects``: other objects'
        pixels of frame t, never used as a source for pixels that must be made up)."""
        for s in list(self._pending):  # the video ended early: keep what was seen
            self._finalise(s)
        if not self._plate_ready:
            self._plate_setup()
        out = frame.copy()
        ys, xs = np.nonzero(hole)
        if ys.size == 0:
            return out
        cached = t < len(self.motion.positions) and self._plate is not None
        never = np.zeros_like(hole)
        if cached:
            wy, wx = self._world(t, ys, xs)
            known = self._known[wy, wx]
            out[ys[known], xs[known]] = self._plate[wy[known], wx[known]]
            unseen = self._never[wy, wx] & ~known  # no sample shows it (found in an earlier frame)
            never[ys[unseen], xs[unseen]] = True
            keep = ~known & ~unseen
            ys, xs = ys[keep], xs[keep]
        vals, filled = self._median(t, ys, xs)
        out[ys[filled], xs[filled]] = vals[filled]
        self.filled_pixels += int(filled.sum())
        if cached:
            wy, wx = self._world(t, ys[filled], xs[filled])
            self._plate[wy, wx] = vals[filled]
            self._known[wy, wx] = True
        never[ys[~filled], xs[~filled]] = True
        if never.any():
            ny, nx = np.nonzero(never)
            self.inpainted_pixels += int(ny.size)
            used: list[tuple[int, int, float]] = []
            out = fill_never_seen(
                out, never, objects, self.fill_method, self.inpaint_radius, self._fill_offsets, used
            )
            self._fill_offsets = used or self._fill_offsets
            if cached:
                wy, wx = self._world(t, ny, nx)
                if self._cache_made_up:  # made up once: the same pixels in every frame
                    self._plate[wy, wx] = out[ny, nx]
                    self._known[wy, wx] = True
                else:
                    self._never[wy, wx] = True
        return out

    def _median(self, t: int, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower median over the samples of the background at pixels (ys, xs) of frame t, and where any exists."""
        n = ys.size
        vals = np.full((max(len(self.samples), 1), n, 3), INVALID, np.uint16)
        if n == 0 or not self.samples:
            return vals[0].astype(np.uint8), np.zeros(n, bool)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        # a sample between the first and last frame an object covers a point most likely shows something in
        # front of the hidden object there (an occluder), not the background: leave it out
        if hasattr(self, "_first") and not self.objects_known:
            wy, wx, on = self._hull_coords(t, ys, xs)
            first = np.where(on, self._first[wy, wx], np.iinfo(np.int32).max)
            last = np.where(on, self._last[wy, wx], -1)
            # an object that covers a point for much of the video is (nearly) static there: when it is not seen
            # there, something in front hides it; the background there is never trusted, it is inpainted
            mostly = on & (self._count[wy, wx] >= STATIC_COVER * max(self._frames_seen, 1))
            first = np.where(mostly, -1, first)
            last = np.where(mostly, np.iinfo(np.int32).max, last)
        else:
            first = np.full(n, np.iinfo(np.int32).max, np.int32)
            last = np.full(n, -1, np.int32)
        for k, (s, (img, valid)) in enumerate(self.samples.items()):
            inside = (first <= s) & (s <= last)
            ox, oy = self.motion.offset(s, t) if t < len(self.motion.positions) else (0.0, 0.0)
            if ox == int(ox) and oy == int(oy):
                sy, sx = ys - int(oy), xs - int(ox)
                h, w = valid.shape
                inb = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
                idx = np.nonzero(inb)[0]
                ok = valid[sy[idx], sx[idx]] & ~inside[idx]
                idx = idx[ok]
                vals[k, idx] = img[sy[idx], sx[idx]]
            else:
                m = np.array([[1.0, 0.0, x0 - ox], [0.0, 1.0, y0 - oy]], np.float32)
                flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
                crop = cv2.warpAffine(img, m, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT)
                vf = cv2.warpAffine(valid.astype(np.float32), m, (x1 - x0, y1 - y0), flags=flags, borderValue=0.0)
                ok = (vf[ys - y0, xs - x0] > 0.999) & ~inside
                vals[k, ok] = crop[ys[ok] - y0, xs[ok] - x0]
        med = np.zeros((n, 3), np.uint8)
        filled = np.zeros(n, bool)
        times = np.asarray(list(self.samples), np.float32)
        closeness = -np.abs(times - t) / (10.0 * (abs(times - t).max() + 1.0))  # tie-break: nearer frames
        for a in range(0, n, CONSENSUS_BLOCK):
            b = min(a + CONSENSUS_BLOCK, n)
            med[a:b], filled[a:b] = consensus(vals[:, a:b], closeness, self.tolerance, self.min_support)
        return med, filled
