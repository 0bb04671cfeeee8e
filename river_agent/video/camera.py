"""Global camera motion: where each frame's pixels sit in a reference frame, for perception and rendering.

Frames stream through :class:`CameraMotionEstimator` one at a time. Each frame is compared with the current
*keyframe* (the only frame held, downscaled to grey): if the two are the same up to noise (median grey error
over the background) the camera did not move; otherwise corners found on the keyframe are tracked into the
frame with pyramidal Lucas-Kanade (forward-backward checked), and a homography is fitted with RANSAC (a
similarity when the homography is ill-conditioned). The fitted motion is kept only when it explains the frame
clearly better than "no motion". Transforms chain keyframe to keyframe, not frame to frame, so drift grows only
when the keyframe changes (when too few of its points are still tracked).

A *segment* is a run of frames sharing one reference frame (its first frame). A new segment starts at a scene
cut (colour histogram jump and no feature match), or when the chained transform grows too extreme (zoom beyond
``max_scale``, or the frame moved more than ``max_shift`` frame sizes away): then the new reference is linked to
the previous one, so :meth:`CameraPath.transform` still relates frames across it. Frames whose motion cannot be
measured (no texture, too few points) keep the previous frame's transform and are flagged ``fallback``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

IDENTITY = np.eye(3)


class MotionStatus(StrEnum):
    """How a frame's transform was obtained."""

    REFERENCE = "reference"  # first frame of a segment (identity by definition)
    STATIC = "static"  # same view as the keyframe up to noise: no motion
    TRACKED = "tracked"  # fitted from tracked feature points
    FALLBACK = "fallback"  # motion not measurable (no texture / too few points): previous transform kept


@dataclass
class CameraMotionConfig:
    """Settings of the camera-motion estimator (pixel sizes are at the analysis resolution unless noted)."""

    max_side: int = field(default=480, metadata={"help": "Frames are analysed downscaled to at most this side."})
    max_corners: int = field(default=300, metadata={"help": "Corners detected on each keyframe."})
    corner_quality: float = field(default=0.01, metadata={"help": "goodFeaturesToTrack quality level."})
    min_points: int = field(default=15, metadata={"help": "Fewer RANSAC inliers than this: motion unmeasurable."})
    ransac_px: float = field(default=1.5, metadata={"help": "RANSAC reprojection threshold (analysis px)."})
    model: str = field(
        default="homography", metadata={"help": "Motion model: homography, similarity or translation."}
    )
    static_error: float = field(
        default=1.5, metadata={"help": "Median grey error (0-255) under which two frames show the same view."}
    )
    static_px: float = field(
        default=0.5, metadata={"help": "A motion moving no frame corner more than this (full-res px) is none."}
    )
    accept: float = field(
        default=0.8, metadata={"help": "A fitted motion must cut the median error of 'no motion' by this factor."}
    )
    rekey_share: float = field(
        default=0.5, metadata={"help": "New keyframe when fewer than this share of its points are inliers."}
    )
    cut_hist: float = field(
        default=0.3, metadata={"help": "Colour-histogram (Bhattacharyya) jump between frames that may be a cut."}
    )
    cut_error: float = field(
        default=25.0, metadata={"help": "Median grey error vs the keyframe that is a cut when nothing tracks."}
    )
    max_scale: float = field(default=2.0, metadata={"help": "Zoom vs the reference beyond which a segment ends."})
    max_shift: float = field(
        default=2.0, metadata={"help": "Shift vs the reference (in frame sizes) beyond which a segment ends."}
    )


@dataclass
class FrameMotion:
    """One frame's camera motion: ``to_ref`` maps its pixel (x, y, 1) into its segment's reference frame."""

    t: int
    segment: int
    to_ref: np.ndarray  # 3x3 float64, full-resolution pixels
    status: MotionStatus
    inliers: int = 0
    error: float = 0.0  # median grey error vs the keyframe after compensation

    @property
    def is_identity(self) -> bool:
        return bool(np.array_equal(self.to_ref, IDENTITY))


@dataclass
class Segment:
    """Frames [start, end) sharing one reference frame (``start``)."""

    index: int
    start: int
    end: int
    cut: bool  # True: began at a scene cut (unrelated to the previous segment)
    to_prev: np.ndarray | None = None  # maps this reference into the previous segment's reference (no cut)


@dataclass
class CameraPath:
    """Every frame's transform to its segment reference; relates any two frames of one shot."""

    width: int
    height: int
    frames: list[FrameMotion] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    @property
    def static(self) -> bool:
        """One segment and every transform exactly the identity: the camera never moved."""
        return len(self.segments) <= 1 and all(f.is_identity for f in self.frames)

    def _to_root(self, t: int) -> tuple[int, np.ndarray]:
        """(first segment of t's shot, transform of frame t into that segment's reference)."""
        f = self.frames[t]
        m, k = f.to_ref, f.segment
        while not self.segments[k].cut and self.segments[k].to_prev is not None and k > 0:
            m = self.segments[k].to_prev @ m
            k -= 1
        return k, m

    def transform(self, s: int, t: int) -> np.ndarray | None:
        """3x3 homography carrying frame ``s`` pixels onto frame ``t`` (None across a scene cut)."""
        ks, ms = self._to_root(s)
        kt, mt = self._to_root(t)
        if ks != kt:
            return None
        out = np.linalg.inv(mt) @ ms
        return out / out[2, 2]

    def offset(self, s: int, t: int) -> tuple[float, float] | None:
        """Translation part of :meth:`transform` at the frame centre: pixel p of s is near p + offset in t."""
        m = self.transform(s, t)
        if m is None:
            return None
        c = np.array([self.width / 2, self.height / 2, 1.0])
        q = m @ c
        return (float(q[0] / q[2] - c[0]), float(q[1] / q[2] - c[1]))


def map_points(m: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (xs, ys) carried through the 3x3 homography ``m`` (vectorised, float64)."""
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    w = m[2, 0] * xs + m[2, 1] * ys + m[2, 2]
    return (m[0, 0] * xs + m[0, 1] * ys + m[0, 2]) / w, (m[1, 0] * xs + m[1, 1] * ys + m[1, 2]) / w


class CameraTracker:
    """Drop-in for the render side's translation-only ``MotionTracker`` (same ``add`` / ``positions`` /
    ``offset`` / ``static``), backed by :class:`CameraMotionEstimator`; ``transform(s, t)`` and
    ``sample_coords(t, s, xs, ys)`` give the full homography for consumers that can use it.

    ``positions[t]`` is where frame 0's centre content sits in frame t minus the centre (pixel p of frame s is
    near p + offset(s, t) in frame t). Across a scene cut positions restart at (0, 0) and ``transform`` is None.
    """

    def __init__(self, config: CameraMotionConfig | None = None) -> None:
        self.estimator = CameraMotionEstimator(config)
        self.positions: list[tuple[float, float]] = []

    def add(self, frame: np.ndarray, exclude: np.ndarray | None = None) -> tuple[float, float]:
        """Add the next frame (``exclude``: object pixels); returns its position (see class doc)."""
        motion = self.estimator.add(frame, exclude)
        path = self.estimator.path()
        k = motion.segment
        while k > 0 and not path.segments[k].cut:  # back to the first frame of this shot
            k -= 1
        off = path.offset(path.segments[k].start, motion.t)
        pos = off if off is not None else (0.0, 0.0)
        self.positions.append(pos)
        return pos

    def offset(self, s: int, t: int) -> tuple[float, float]:
        """Shift that carries frame ``s`` content onto frame ``t`` at the frame centre ((0, 0) across a cut)."""
        off = self.estimator.path().offset(s, t)
        return off if off is not None else (0.0, 0.0)

    def transform(self, s: int, t: int) -> np.ndarray | None:
        """3x3 homography carrying frame ``s`` pixels onto frame ``t`` (None across a scene cut)."""
        return self.estimator.path().transform(s, t)

    def sample_coords(
        self, t: int, s: int, xs: np.ndarray, ys: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Where the frame-``t`` pixels (xs, ys) are seen in frame ``s`` (float coordinates; None across a cut):
        what a background model needs to fetch frame ``s``'s view of the pixels it fills in frame ``t``."""
        m = self.transform(t, s)
        return None if m is None else map_points(m, xs, ys)

    @property
    def static(self) -> bool:
        return self.estimator.path().static


def warp_frame(frame: np.ndarray, path: CameraPath, s: int, t: int, border: int = cv2.BORDER_CONSTANT):
    """Frame ``s`` re-projected into frame ``t``'s view, plus the bool mask of pixels it covers (None: cut)."""
    m = path.transform(s, t)
    if m is None:
        return None
    h, w = frame.shape[:2]
    out = cv2.warpPerspective(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
    valid = cv2.warpPerspective(np.full((h, w), 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST)
    return out, valid > 0


def _corner_shift(m: np.ndarray, w: int, h: int) -> float:
    """Largest distance a frame corner moves under ``m``."""
    pts = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64)
    q = cv2.perspectiveTransform(pts[None], m)[0]
    return float(np.abs(q - pts).max())


def _well_conditioned(m: np.ndarray, w: int, h: int) -> bool:
    """A homography that keeps the frame a convex, not too distorted quadrilateral."""
    if not np.all(np.isfinite(m)) or abs(m[2, 2]) < 1e-9:
        return False
    m = m / m[2, 2]
    det = np.linalg.det(m[:2, :2])
    if not 0.33 < det < 3.0:
        return False
    if abs(m[2, 0]) * w > 0.15 or abs(m[2, 1]) * h > 0.15:  # strong perspective: likely a bad fit
        return False
    pts = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    q = cv2.perspectiveTransform(pts[None].astype(np.float64), m)[0].astype(np.float32)
    return bool(cv2.isContourConvex(q))


class CameraMotionEstimator:
    """Streaming estimator: call :meth:`add` per frame in order, then :meth:`path`. Holds one keyframe."""

    def __init__(self, config: CameraMotionConfig | None = None) -> None:
        self.cfg = config or CameraMotionConfig()
        if self.cfg.model not in ("homography", "similarity", "translation"):
            raise ValueError(f"unknown camera motion model {self.cfg.model!r}")
        self._path: CameraPath | None = None
        self._scale = 1.0
        self._key: np.ndarray | None = None  # analysis grey of the keyframe
        self._key_keep: np.ndarray | None = None  # bool, keyframe pixels that are background
        self._key_pts: np.ndarray | None = None  # Nx1x2 float32 corners on the keyframe
        self._key_to_ref = IDENTITY
        self._rel = IDENTITY  # last frame -> keyframe (analysis px), the initial guess for tracking
        self._hist: np.ndarray | None = None
        self._key_inliers = 0  # inliers of the first fit against the current keyframe

    # ------------------------------------------------------------------ public
    def add(self, frame: np.ndarray, exclude: np.ndarray | None = None) -> FrameMotion:
        """Add the next RGB frame (``exclude``: bool mask of moving-object pixels to ignore); its motion."""
        h, w = frame.shape[:2]
        if self._path is None:
            self._path = CameraPath(width=w, height=h)
            self._scale = min(1.0, self.cfg.max_side / max(h, w))
        elif (w, h) != (self._path.width, self._path.height):
            raise ValueError(f"frame size changed from {self._path.width}x{self._path.height} to {w}x{h}")
        grey, keep, hist = self._prepare(frame, exclude)
        t = len(self._path.frames)
        if self._key is None:
            motion = self._start_segment(t, grey, keep, cut=True, to_prev=None)
        else:
            motion = self._measure(t, grey, keep, hist)
        self._hist = hist
        self._path.frames.append(motion)
        if self._path.segments:
            self._path.segments[-1].end = t + 1
        return motion

    def path(self) -> CameraPath:
        """The transforms of every frame added so far."""
        return self._path if self._path is not None else CameraPath(width=0, height=0)

    # ------------------------------------------------------------------ steps
    def _prepare(self, frame: np.ndarray, exclude: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, w = frame.shape[:2]
        size = (max(8, round(w * self._scale)), max(8, round(h * self._scale)))
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._scale < 1.0:
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        if exclude is None:
            keep = np.ones(grey.shape, bool)
        else:
            keep = cv2.resize((~exclude).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        tiny = cv2.resize(frame, (64, 36), interpolation=cv2.INTER_LINEAR)  # colours for the cut test
        hsv = cv2.cvtColor(tiny, cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).astype(np.float32)
        return grey, keep, hist / max(float(hist.sum()), 1.0)

    def _set_key(self, grey: np.ndarray, keep: np.ndarray, to_ref: np.ndarray) -> None:
        self._key, self._key_keep, self._key_to_ref = grey, keep, to_ref
        self._rel = IDENTITY
        self._key_inliers = 0
        self._key_pts = _grid_corners(grey, keep, self.cfg.max_corners, self.cfg.corner_quality)

    def _start_segment(
        self, t: int, grey: np.ndarray, keep: np.ndarray, cut: bool, to_prev: np.ndarray | None
    ) -> FrameMotion:
        assert self._path is not None
        index = len(self._path.segments)
        self._path.segments.append(Segment(index=index, start=t, end=t + 1, cut=cut, to_prev=to_prev))
        self._set_key(grey, keep, IDENTITY)
        return FrameMotion(t=t, segment=index, to_ref=IDENTITY.copy(), status=MotionStatus.REFERENCE)

    def _measure(self, t: int, grey: np.ndarray, keep: np.ndarray, hist: np.ndarray) -> FrameMotion:
        assert self._path is not None and self._key is not None and self._key_keep is not None
        cfg = self.cfg
        seg = self._path.segments[-1].index
        prev = self._path.frames[-1]
        both = keep & self._key_keep
        e_still = _median_error(grey, self._key, both)
        if e_still <= cfg.static_error:
            return FrameMotion(t, seg, self._key_to_ref.copy(), MotionStatus.STATIC, error=e_still)
        candidates, tracked = self._fit(grey, keep)
        jump = self._hist is not None and _hist_distance(self._hist, hist) > cfg.cut_hist
        jump |= e_still > cfg.cut_error  # unrelated content and nothing tracked: a cut too
        if not candidates:
            if jump:  # a new shot
                return self._start_segment(t, grey, keep, cut=True, to_prev=None)
            self._set_key(grey, keep, prev.to_ref)
            return FrameMotion(t, seg, prev.to_ref.copy(), MotionStatus.FALLBACK, tracked, e_still)
        best: tuple[float, np.ndarray, int] | None = None
        for rel, inl in candidates:
            e = self._error_after(rel, grey, keep)
            if best is None or e < best[0]:
                best = (e, rel, inl)
        assert best is not None
        e_fit, rel, inliers = best
        full = self._to_full(rel)
        if _corner_shift(full, self._path.width, self._path.height) <= cfg.static_px:
            return FrameMotion(t, seg, self._key_to_ref.copy(), MotionStatus.STATIC, inliers, e_still)
        if not e_fit < cfg.accept * e_still:
            if jump:
                return self._start_segment(t, grey, keep, cut=True, to_prev=None)
            return FrameMotion(t, seg, self._key_to_ref.copy(), MotionStatus.STATIC, inliers, e_still)
        to_ref = self._key_to_ref @ full
        to_ref = to_ref / to_ref[2, 2]
        self._rel = rel
        motion = FrameMotion(t, seg, to_ref, MotionStatus.TRACKED, inliers, e_fit)
        if self._too_far(to_ref):  # re-anchor: this frame becomes the reference of a linked segment
            ref = self._start_segment(t, grey, keep, cut=False, to_prev=to_ref)
            ref.status, ref.inliers, ref.error = MotionStatus.REFERENCE, inliers, e_fit
            return ref
        self._key_inliers = self._key_inliers or inliers
        if inliers < cfg.rekey_share * self._key_inliers or inliers < 2 * cfg.min_points:
            self._set_key(grey, keep, to_ref)
        return motion

    def _error_after(self, rel: np.ndarray, grey: np.ndarray, keep: np.ndarray) -> float:
        """Median grey error between the frame and the keyframe re-projected by ``rel``."""
        assert self._key is not None and self._key_keep is not None
        inv = np.linalg.inv(rel)
        warped = cv2.warpPerspective(self._key, inv, grey.shape[::-1], flags=cv2.INTER_LINEAR)
        valid = cv2.warpPerspective(
            self._key_keep.astype(np.uint8), inv, grey.shape[::-1], flags=cv2.INTER_NEAREST
        )
        valid = cv2.erode((valid.astype(bool) & keep).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        return _median_error(grey, warped, valid)

    def _fit(self, grey: np.ndarray, keep: np.ndarray) -> tuple[list[tuple[np.ndarray, int]], int]:
        """Candidate keyframe <- frame transforms (analysis px), their inlier counts; and the points tracked."""
        cfg = self.cfg
        p0 = self._key_pts
        if p0 is None or len(p0) < cfg.min_points:
            return [], 0
        guess = cv2.perspectiveTransform(p0.astype(np.float64), np.linalg.inv(self._rel)).astype(np.float32)
        lk = {
            "winSize": (21, 21),
            "maxLevel": 4,
            "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
        }
        p1, st, _ = cv2.calcOpticalFlowPyrLK(
            self._key, grey, p0, guess.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk
        )
        if p1 is None:
            return [], 0
        back, st2, _ = cv2.calcOpticalFlowPyrLK(
            grey, self._key, p1, p0.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk
        )
        fb = np.linalg.norm((back - p0).reshape(-1, 2), axis=1)
        ok = (st.ravel() == 1) & (st2.ravel() == 1) & (fb < 1.0)
        xi = np.clip(p1[:, 0, 0].round().astype(int), 0, grey.shape[1] - 1)
        yi = np.clip(p1[:, 0, 1].round().astype(int), 0, grey.shape[0] - 1)
        ok &= keep[yi, xi]
        if ok.sum() < cfg.min_points:
            return [], int(ok.sum())
        src, dst = p1[ok].reshape(-1, 2), p0[ok].reshape(-1, 2)
        out: list[tuple[np.ndarray, int]] = []
        for _ in range(2):  # the dominant motion, then the dominant one among its outliers (a big moving object
            m, inl = self._robust_fit(src, dst, grey.shape[1], grey.shape[0])  # may hold most corners)
            if m is None or inl.sum() < cfg.min_points:
                break
            out.append((m, int(inl.sum())))
            src, dst = src[~inl], dst[~inl]
            if len(src) < cfg.min_points:
                break
        return out, int(ok.sum())

    def _robust_fit(
        self, src: np.ndarray, dst: np.ndarray, w: int, h: int
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """RANSAC fit of the configured model; (matrix or None, bool inlier mask)."""
        cfg = self.cfg
        none = np.zeros(len(src), bool)
        if cfg.model == "homography" and len(src) >= 8:
            m, inl = cv2.findHomography(src, dst, cv2.RANSAC, cfg.ransac_px, maxIters=2000, confidence=0.995)
            if m is not None and _well_conditioned(m, w, h):
                return m / m[2, 2], inl.ravel().astype(bool)
        if cfg.model == "translation":
            d = dst - src
            med = np.median(d, axis=0)
            inl = np.linalg.norm(d - med, axis=1) < cfg.ransac_px
            if inl.sum() < 2:
                return None, none
            tx, ty = d[inl].mean(axis=0)
            return np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]], np.float64), inl
        if len(src) < 3:
            return None, none
        a, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=cfg.ransac_px)
        if a is None:
            return None, none
        m = np.vstack([a, [0, 0, 1]]).astype(np.float64)
        return (m, inl.ravel().astype(bool)) if _well_conditioned(m, w, h) else (None, none)

    def _to_full(self, rel: np.ndarray) -> np.ndarray:
        """An analysis-resolution transform expressed in full-resolution pixels."""
        s = np.diag([self._scale, self._scale, 1.0])
        out = np.linalg.inv(s) @ rel @ s
        return out / out[2, 2]

    def _too_far(self, to_ref: np.ndarray) -> bool:
        assert self._path is not None
        w, h = self._path.width, self._path.height
        det = abs(np.linalg.det(to_ref[:2, :2]))
        if not (1 / self.cfg.max_scale**2) <= det <= self.cfg.max_scale**2:
            return True
        c = to_ref @ np.array([w / 2, h / 2, 1.0])
        return (
            abs(c[0] / c[2] - w / 2) > self.cfg.max_shift * w or abs(c[1] / c[2] - h / 2) > self.cfg.max_shift * h
        )


def _grid_corners(grey: np.ndarray, keep: np.ndarray, total: int, quality: float, cells: int = 4) -> np.ndarray:
    """Corners spread over a cells x cells grid (each cell its own best ones), so that a strongly textured
    object cannot take every point; Nx1x2 float32."""
    h, w = grey.shape
    per = max(4, total // (cells * cells))
    dist = max(3, min(h, w) // 40)
    out = []
    for i in range(cells):
        for j in range(cells):
            y0, y1, x0, x1 = i * h // cells, (i + 1) * h // cells, j * w // cells, (j + 1) * w // cells
            sub_keep = keep[y0:y1, x0:x1]
            if not sub_keep.any():
                continue
            mask = None if sub_keep.all() else sub_keep.astype(np.uint8)
            pts = cv2.goodFeaturesToTrack(grey[y0:y1, x0:x1], per, quality, dist, mask=mask, blockSize=5)
            if pts is not None:
                out.append(pts.reshape(-1, 2) + np.array([x0, y0], np.float32))
    if not out:
        return np.zeros((0, 1, 2), np.float32)
    return np.concatenate(out).astype(np.float32).reshape(-1, 1, 2)


def _median_error(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Median |a - b| (grey levels) over ``mask`` (every other pixel, for speed); inf when too little overlaps."""
    m = mask[::2, ::2]
    if m.sum() < 0.1 * m.size:
        return float("inf")
    d = cv2.absdiff(a[::2, ::2], b[::2, ::2])[m]
    return float(np.median(d))


def _hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def estimate_camera_path(
    frames: Iterable[np.ndarray], config: CameraMotionConfig | None = None, excludes: Iterable | None = None
) -> CameraPath:
    """The camera path of a whole frame sequence (streams: one keyframe held)."""
    est = CameraMotionEstimator(config)
    ex = iter(excludes) if excludes is not None else None
    for frame in frames:
        est.add(frame, next(ex) if ex is not None else None)
    return est.path()
