"""Camera-motion compensation for the classical segmenter: the background model works on a moving camera.

The video is read once to measure the camera path (:mod:`river_agent.video.camera`). If the camera never moved
(one shot, every transform exactly the identity) the plain :class:`ClassicalSegmenter` runs unchanged (it is
handed the background sample gathered during that read, so the static path costs one decode pass less than
before, plus the motion check). Otherwise each segment of the path (a shot, or a stretch sharing one reference
frame) gets its own segmenter working in a *canvas*: the segment's reference frame enlarged to hold every
frame of the pan (capped in area, scaled down beyond the cap). Each frame is re-projected into the canvas;
canvas pixels the frame does not cover (and a thin rim along its border) are filled with the background model
itself, so the border is never foreground. The background sample is re-projected the same way, its uncovered
pixels filled with the median of the samples that do cover them. Label maps go back to each frame's own pixels
with the inverse transform (nearest neighbour); ids are made unique across segments.

On moving-camera segments tracks are then filtered: too small, too thin, too intermittent, never travelling in
the canvas, or not moving against their surroundings (:mod:`.motion_check`: a blob's own Lucas-Kanade flow minus
that of the background ring around it; parallax, defocus highlights and misregistration move with their
neighbourhood, objects do not). A track that fails those tests is still kept when it is *salient*
(:mod:`.appearance_check`: it differs in colour from the ring of background around it and keeps its outline
from frame to frame) and moves against its surroundings in part of its frames.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from river_agent.tools.perception.base import (
    Occlusion,
    Region,
    SegmentationResult,
    SegmentedFrame,
    regions_from_label_map,
)
from river_agent.tools.perception.classical.appearance_check import ring_contrast, shape_stability
from river_agent.tools.perception.classical.motion_check import relative_flows
from river_agent.tools.perception.classical.segmenter import ClassicalSegmenter, ClassicalSegmenterConfig
from river_agent.video.camera import CameraMotionConfig, CameraMotionEstimator, CameraPath
from river_agent.video.io import VideoInfo, iter_frames


@dataclass
class StabiliseConfig:
    """Settings of camera-motion compensation."""

    enabled: bool = field(default=True, metadata={"help": "Compensate camera motion (off: assume static)."})
    static_objects_moving: bool = field(
        default=False, metadata={"help": "Look for standing objects in shots where the camera moves."}
    )
    max_canvas_area: float = field(
        default=4.0, metadata={"help": "Largest canvas, in frame areas; a larger pan is scaled down to fit."}
    )
    max_canvas_pixels: int = field(default=4_000_000, metadata={"help": "Largest canvas, in pixels."})
    min_canvas_samples: int = field(
        default=15,
        metadata={"help": "Fewest background samples of a (large) canvas; memory is ~ samples x canvas."},
    )
    border_px: int = field(default=2, metadata={"help": "Rim of each re-projected frame treated as invalid."})
    min_area_moving: float = field(
        default=0.002, metadata={"help": "Moving camera: drop tracks whose median area is below this frame share."}
    )
    min_thickness_moving: float = field(
        default=0.025,
        metadata={"help": "Moving camera: drop tracks thinner than this (x sqrt of the frame area), median."},
    )
    min_presence_moving: float = field(
        default=0.5, metadata={"help": "Moving camera: drop tracks seen in less than this share of their span."}
    )
    min_travel_moving: float = field(
        default=0.5,
        metadata={"help": "Moving camera: drop tracks that never move this many sizes (sqrt area) in the canvas."},
    )
    keep_salient: bool = field(
        default=True,
        metadata={
            "help": "Moving camera: keep a track that fails the size/presence/travel/motion tests when it stands "
            "out from its surroundings (colour contrast and a stable shape) and moves against them in at least "
            "salient_moving_share of its frames."
        },
    )
    salient_contrast: float = field(
        default=40.0,
        metadata={
            "help": "Stands out: median colour difference to the background ring around the track (max over "
            "RGB channels of the median difference, 0-255) at least this."
        },
    )
    salient_shape_stability: float = field(
        default=0.5,
        metadata={"help": "Stands out: median mask IoU with the previous frame's (centroids aligned) >= this."},
    )
    salient_moving_share: float = field(
        default=0.3,
        metadata={"help": "A salient track must move against its surroundings in at least this share of frames."},
    )
    threshold_moving: int = field(
        default=0,
        metadata={
            "help": "Moving camera: foreground threshold (0-255) if above the segmenter's (40: fewer blobs)."
        },
    )
    spread_k: float = field(
        default=0.0, metadata={"help": "Moving camera: background tolerance in units of the sample's spread."}
    )
    tolerance_px: int = field(
        default=2, metadata={"help": "A pixel matching the background within this many px is background."}
    )
    rel_speed_px: float = field(
        default=1.0,
        metadata={
            "help": "Moving camera: a blob 'moves' in a frame when its own flow differs from the flow of the "
            "background ring around it by more than this (frame px per frame; LK noise is ~0.3)."
        },
    )
    min_moving_share: float = field(
        default=0.45,
        metadata={
            "help": "Moving camera: drop tracks that move against their surroundings in fewer than this share "
            "of their frames (parallax, defocus highlights, misregistration move with them); 0: off."
        },
    )


@dataclass
class _Obs:
    """One moving-camera track in one frame (canvas px unless noted)."""

    t: int
    x: float
    y: float
    size: int
    area: float  # frame px
    thickness: float  # frame px
    rel: tuple[float, float] | None  # own flow minus the background ring's (frame px / frame), None: unmeasured
    contrast: float | None  # colour difference to the background ring (0-255), None: unmeasured
    shape: float | None  # mask IoU with the previous frame's, centroids aligned; None: not seen just before


@dataclass
class _Plan:
    """One segment's canvas: frames [start, end) map into a (height, width) canvas by ``to_canvas[t - start]``."""

    start: int
    end: int
    width: int
    height: int
    scale: float
    to_canvas: list[np.ndarray]
    identity: bool  # canvas == frame and every transform the identity: frames pass through untouched


def _sample_indices(start: int, end: int, max_samples: int) -> list[int]:
    """The frames ``sample_frames`` would pick from [start, end) (evenly spread)."""
    n = max(1, min(max_samples, end - start))
    return sorted(set((start + np.linspace(0, max(end - start - 1, 0), n).round().astype(int)).tolist()))


def plan_segments(path: CameraPath, max_canvas_area: float, max_canvas_pixels: int = 4_000_000) -> list[_Plan]:
    """A canvas per segment of ``path`` holding all its frames (area capped at ``max_canvas_area`` frames and
    ``max_canvas_pixels`` pixels; a larger canvas is scaled down)."""
    w, h = path.width, path.height
    corners = np.array([[[0, 0], [w, 0], [0, h], [w, h]]], np.float64)
    plans = []
    for seg in path.segments:
        mats = [path.frames[t].to_ref for t in range(seg.start, seg.end)]
        if all(np.array_equal(m, np.eye(3)) for m in mats):
            plans.append(_Plan(seg.start, seg.end, w, h, 1.0, mats, identity=True))
            continue
        pts = np.concatenate([cv2.perspectiveTransform(corners, m)[0] for m in mats])
        x0, y0 = np.floor(pts.min(0))
        x1, y1 = np.ceil(pts.max(0))
        x0, y0 = max(x0, -2.0 * w), max(y0, -2.0 * h)  # a wild transform must not blow the canvas up
        x1, y1 = min(x1, 3.0 * w), min(y1, 3.0 * h)
        cap = min(max_canvas_area * w * h, float(max_canvas_pixels))
        scale = min(1.0, float(np.sqrt(cap / max((x1 - x0) * (y1 - y0), 1.0))))
        shift = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale], [0, 0, 1.0]])
        cw, ch = max(1, int(np.ceil((x1 - x0) * scale))), max(1, int(np.ceil((y1 - y0) * scale)))
        plans.append(_Plan(seg.start, seg.end, cw, ch, scale, [shift @ m for m in mats], identity=False))
    return plans


def _canvas_config(
    cfg: ClassicalSegmenterConfig, plan: _Plan, w: int, h: int, static_objects: bool, threshold: int = 0
) -> ClassicalSegmenterConfig:
    """Frame-share settings re-expressed as shares of the canvas (an object keeps its pixel count * scale^2)."""
    if plan.identity:
        return cfg
    f = (w * h * plan.scale**2) / (plan.width * plan.height)
    return replace(
        cfg,
        threshold=max(cfg.threshold, threshold),
        static_objects=cfg.static_objects and static_objects,  # else every textured patch of real footage
        min_area_frac=cfg.min_area_frac * f,
        static_max_area_frac=cfg.static_max_area_frac * f,
        max_split_frac=cfg.max_split_frac * f,
        max_object_frac=cfg.max_object_frac * f,
    )


def _project(frame: np.ndarray, m: np.ndarray, plan: _Plan, border: int) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` re-projected into the canvas, and the bool mask of canvas pixels it validly covers."""
    size = (plan.width, plan.height)
    out = cv2.warpPerspective(frame, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ones = np.full(frame.shape[:2], 255, np.uint8)
    if border > 0:
        ones[:border], ones[-border:], ones[:, :border], ones[:, -border:] = 0, 0, 0, 0
    valid = cv2.warpPerspective(ones, m, size, flags=cv2.INTER_NEAREST) > 0
    return out, valid


def masked_median(stack: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel median over the samples where ``valid`` (S x H x W); also the mask of pixels any sample saw.

    Invalid entries are set alternately to 0 and 255 along the sample axis (per pixel), which leaves the
    median of the valid ones in place (to within one rank) without leaving uint8.
    """
    invalid = ~valid
    parity = (np.cumsum(invalid, axis=0, dtype=np.int16) % 2).astype(bool)
    filled = stack.copy()
    filled[invalid & parity] = 0
    filled[invalid & ~parity] = 255
    med = np.median(filled, axis=0, overwrite_input=True).astype(np.uint8)  # partitions ``filled`` in place
    return med, valid.any(axis=0)


def background_band(
    background: np.ndarray, radius: int, spread: np.ndarray | None = None, k: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel and channel, the range of values that still count as background: the min and max of
    ``background`` over a (2 radius + 1)^2 window (residual misregistration), widened to ``k`` times the
    sample's spread where the background itself is unstable (flicker, parallax, defocus)."""
    lo, hi = background, background
    if radius > 0:
        kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
        lo, hi = cv2.erode(background, kernel), cv2.dilate(background, kernel)
    if spread is not None and k > 0:
        wide = np.minimum(spread.astype(np.float32) * k, 255).astype(np.uint8)
        lo, hi = np.minimum(lo, cv2.subtract(background, wide)), np.maximum(hi, cv2.add(background, wide))
    return lo, hi


class StabilisedSegmenter:
    """The classical segmenter with camera-motion compensation (see module doc); same Segmenter interface."""

    name = "classical"

    def __init__(
        self,
        config: ClassicalSegmenterConfig | None = None,
        camera: CameraMotionConfig | None = None,
        stabilise: StabiliseConfig | None = None,
    ) -> None:
        self.cfg = config or ClassicalSegmenterConfig()
        self.camera_cfg = camera or CameraMotionConfig()
        self.stab = stabilise or StabiliseConfig()
        self.path: CameraPath | None = None
        self._parts: list[tuple[int, int, ClassicalSegmenter]] = []  # (first frame, id offset, segmenter)
        self._observed: dict[int, list[_Obs]] = {}  # moving-camera tracks: raw id -> per-frame measurements
        self._last_region: dict[int, tuple[int, Region]] = {}  # raw id -> (frame, canvas region) last seen
        self._frame_area = 1

    def segment(self, video: Path, info: VideoInfo) -> Iterator[SegmentedFrame]:
        self._parts = []
        self._observed = {}
        self._last_region = {}
        self.path = None
        if not self.stab.enabled:
            yield from self._plain(video, info, None)
            return
        path, sample = self._measure(video, info)
        self.path = path
        if path is None or path.static:
            yield from self._plain(video, info, sample)
            return
        del sample
        plans = plan_segments(path, self.stab.max_canvas_area, self.stab.max_canvas_pixels)
        self._frame_area = info.width * info.height
        with tempfile.TemporaryDirectory(prefix="river-stabilise-") as tmp:
            self._write_samples(video, plans, Path(tmp))
            frames = iter_frames(video)
            offset = 0
            for k, plan in enumerate(plans):
                seg = ClassicalSegmenter(
                    _canvas_config(
                        self.cfg,
                        plan,
                        info.width,
                        info.height,
                        self.stab.static_objects_moving,
                        self.stab.threshold_moving,
                    )
                )
                self._parts.append((plan.start, offset, seg))
                yield from self._run_plan(seg, plan, frames, Path(tmp) / f"{k}.npz", info, offset)
                offset += seg._next_id - 1

    def result(self) -> SegmentationResult:
        id_map: dict[int, int] = {}
        occlusions: list[Occlusion] = []
        next_final = 1
        for start, offset, seg in self._parts:
            res = seg.result()
            drop = {raw for raw in seg.tracks if raw + offset in self._observed and self._spurious(raw + offset)}
            members: dict[int, list[int]] = {}  # final id -> its raw tracks (a track re-identified after a gap)
            everyone: dict[int, list[int]] = {}  # the same, including raw tracks ``_spurious`` drops
            for raw, v in res.id_map.items():
                if v and raw + offset in self._observed:
                    everyone.setdefault(v, []).append(raw + offset)
                    if raw not in drop:
                        members.setdefault(v, []).append(raw + offset)
            salient = {v for v, raws in everyone.items() if self._salient(raws)}
            drop -= {raw for raw, v in res.id_map.items() if v in salient}
            still = {v for v, raws in members.items() if v not in salient and not self._moves(raws)}
            drop |= {raw for raw, v in res.id_map.items() if v in still}
            finals = sorted({v for raw, v in res.id_map.items() if v and raw not in drop})
            renum = {v: next_final + i for i, v in enumerate(finals)}
            next_final += len(finals)
            for raw in seg.tracks:
                fid = res.id_map.get(raw, raw)
                id_map[raw + offset] = renum.get(fid, 0) if fid and raw not in drop else 0
            for o in res.occlusions:
                occlusions.append(
                    Occlusion(t=o.t + start, front=o.front + offset, back=o.back + offset, pixels=o.pixels)
                )
        return SegmentationResult(id_map=id_map, occlusions=occlusions)

    def _moving_share(self, raws: list[int]) -> float:
        """Share of a moving-camera track's measured frames in which it moves against its surroundings (relative
        flow above ``rel_speed_px``); 0 when never measured."""
        rel = [o.rel for raw in raws for o in self._observed[raw] if o.rel is not None]
        if not rel:
            return 0.0
        speed = np.linalg.norm(np.asarray(rel, np.float64), axis=1)
        return float(np.mean(speed > self.stab.rel_speed_px))

    def _moves(self, raws: list[int]) -> bool:
        """Whether a moving-camera track moves against its surroundings in at least ``min_moving_share`` of its
        measured frames."""
        if self.stab.min_moving_share <= 0:
            return True
        return self._moving_share(raws) >= self.stab.min_moving_share

    def _salient(self, raws: list[int]) -> bool:
        """Whether a track is kept whatever the size and motion tests say: it stands out from its surroundings
        and moves against them in at least ``salient_moving_share`` of its frames."""
        st = self.stab
        return st.keep_salient and self._stands_out(raws) and self._moving_share(raws) >= st.salient_moving_share

    def _stands_out(self, raws: list[int]) -> bool:
        """Whether a moving-camera track looks like a thing in front of the background (see
        :mod:`.appearance_check`): its median colour contrast to the ring around it reaches ``salient_contrast``
        and its median frame-to-frame shape IoU ``salient_shape_stability``."""
        obs = [o for raw in raws for o in self._observed[raw]]
        contrast = [o.contrast for o in obs if o.contrast is not None]
        shape = [o.shape for o in obs if o.shape is not None]
        return bool(
            contrast
            and shape
            and float(np.median(contrast)) >= self.stab.salient_contrast
            and float(np.median(shape)) >= self.stab.salient_shape_stability
        )

    def _spurious(self, raw: int) -> bool:
        """A moving-camera track too small, too intermittent, or fixed to the background (misregistration)."""
        obs = self._observed[raw]
        st = self.stab
        ts = [o.t for o in obs]
        span = max(ts) - min(ts) + 1
        area = float(np.median([o.area for o in obs]))
        if float(np.median([o.thickness for o in obs])) < st.min_thickness_moving * np.sqrt(self._frame_area):
            return True  # a sliver along an edge: parallax or misregistration, not an object
        if area < st.min_area_moving * self._frame_area or len(obs) < st.min_presence_moving * span:
            return True
        xy = np.array([(o.x, o.y) for o in obs], np.float64)
        travel = float(np.linalg.norm(xy - np.median(xy, axis=0), axis=1).max())
        return travel < st.min_travel_moving * np.sqrt(float(np.median([o.size for o in obs])))

    def _observe(
        self,
        regions: dict,
        foreground: np.ndarray,
        canvas: np.ndarray,
        grey: np.ndarray,
        prev: np.ndarray | None,
        plan: _Plan,
        t: int,
        offset: int,
    ) -> None:
        """Record each region's geometry and motion evidence (see :mod:`.motion_check`) for the track filters."""
        shifts = {}  # centroid shifts since the previous frame (canvas px): own motion when no point tracks
        for tid, r in regions.items():
            last = self._observed.get(tid + offset)
            if last and last[-1].t == t - 1:
                shifts[tid] = (r.x - last[-1].x, r.y - last[-1].y)
        flows = relative_flows(prev, grey, regions, foreground, shifts) if prev is not None and regions else {}
        for tid, r in regions.items():
            dist = cv2.distanceTransform(np.pad(r.crop, 1).astype(np.uint8), cv2.DIST_L2, 3)
            rel = flows.get(tid)
            seen = self._last_region.get(tid + offset)
            shape = shape_stability(seen[1], r) if seen is not None and seen[0] == t - 1 else None
            self._last_region[tid + offset] = (t, r)
            self._observed.setdefault(tid + offset, []).append(
                _Obs(
                    t=t,
                    x=r.x,
                    y=r.y,
                    size=r.size,
                    area=r.size / plan.scale**2,
                    thickness=2.0 * float(dist.max()) / plan.scale,
                    rel=None if rel is None else (rel[0] / plan.scale, rel[1] / plan.scale),
                    contrast=ring_contrast(canvas, r, foreground),
                    shape=shape,
                )
            )

    # ------------------------------------------------------------------ steps
    def _measure(self, video: Path, info: VideoInfo) -> tuple[CameraPath | None, np.ndarray | None]:
        """One read: the camera path, and the frames the plain segmenter would sample for its background."""
        est = CameraMotionEstimator(self.camera_cfg)
        wanted = set(_sample_indices(0, max(info.num_frames, 1), self.cfg.bg_samples))
        sample = []
        path_ok = True
        for t, frame in enumerate(iter_frames(video)):
            if t in wanted:
                sample.append(frame)
            if path_ok and frame.shape[:2] == (info.height, info.width):
                est.add(frame)
            else:
                path_ok = False
        stack = np.stack(sample) if sample else None
        return (est.path() if path_ok and est.path().frames else None), stack

    def _plain(self, video: Path, info: VideoInfo, sample: np.ndarray | None) -> Iterator[SegmentedFrame]:
        seg = ClassicalSegmenter(self.cfg)
        if sample is not None:
            seg._sample_frames = lambda _video, _info: sample  # type: ignore[method-assign]
        self._parts.append((0, 0, seg))
        yield from seg.segment(video, info)

    def _samples_for(self, plan: _Plan) -> int:
        """Background samples of a segment: fewer for a canvas over twice the frame area, so the sample holds at
        most about twice the bytes of the static path's (never fewer than ``min_canvas_samples``)."""
        if plan.identity:
            return self.cfg.bg_samples
        share = 2.0 * self._frame_area / max(plan.width * plan.height, 1)
        return min(self.cfg.bg_samples, max(self.stab.min_canvas_samples, round(self.cfg.bg_samples * share)))

    def _write_samples(self, video: Path, plans: list[_Plan], tmp: Path) -> None:
        """Each segment's background sample, re-projected into its canvas, saved as ``tmp/<k>.npz``."""
        wanted = {t: k for k, p in enumerate(plans) for t in _sample_indices(p.start, p.end, self._samples_for(p))}
        current, frames, valids = -1, [], []

        def flush() -> None:
            if current >= 0 and frames:
                np.savez(tmp / f"{current}.npz", frames=np.stack(frames), valid=np.stack(valids))

        for t, frame in enumerate(iter_frames(video)):
            k = wanted.get(t)
            if k is None:
                continue
            if k != current:
                flush()
                current, frames, valids = k, [], []
            plan = plans[k]
            if plan.identity:
                frames.append(frame)
                valids.append(np.ones(frame.shape[:2], bool))
            else:
                out, valid = _project(frame, plan.to_canvas[t - plan.start], plan, self.stab.border_px)
                frames.append(out)
                valids.append(valid)
        flush()

    def _run_plan(
        self,
        seg: ClassicalSegmenter,
        plan: _Plan,
        frames: Iterator[np.ndarray],
        sample_file: Path,
        info: VideoInfo,
        offset: int,
    ) -> Iterator[SegmentedFrame]:
        data = np.load(sample_file)
        stack, valid = data["frames"], data["valid"]
        seen = np.ones((plan.height, plan.width), bool)
        spread = None
        if not plan.identity:
            med, seen = masked_median(stack, valid)
            for sample, ok in zip(stack, valid, strict=True):  # in place: no second copy of the sample
                sample[~ok] = med[~ok]
            if self.stab.spread_k > 0:  # per-pixel background spread (median absolute deviation of the sample)
                dev = np.abs(stack.astype(np.int16) - med[None].astype(np.int16)).astype(np.uint8)
                spread, _ = masked_median(dev, valid)
        originals: list[np.ndarray] = []
        greys: list[np.ndarray] = []  # canvas frames (grey) not yet matched with the segmenter's output
        canvases: list[np.ndarray] = []  # the same canvas frames in colour
        band: tuple[np.ndarray, np.ndarray] | None = None

        def canvas_frames() -> Iterator[np.ndarray]:
            for t in range(plan.start, plan.end):
                frame = next(frames)
                originals.append(frame)
                if plan.identity:
                    yield frame
                    continue
                out, ok = _project(frame, plan.to_canvas[t - plan.start], plan, self.stab.border_px)
                ok &= seen
                model = seg.model
                assert model is not None
                nonlocal band
                if band is None:
                    band = background_band(model.background, self.stab.tolerance_px, spread, self.stab.spread_k)
                out[~ok] = band[0][~ok]
                # the background this frame is compared with: per pixel the value within ``tolerance_px`` of
                # the model closest to the frame, so residual misregistration along edges is not foreground
                model.background = np.clip(out, band[0], band[1])
                greys.append(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY))
                canvases.append(out)
                yield out

        seg._sample_frames = lambda _video, _info: stack  # type: ignore[method-assign]
        seg._iter_frames = lambda _video: canvas_frames()  # type: ignore[method-assign]
        sub = VideoInfo(
            path=info.path, fps=info.fps, width=plan.width, height=plan.height, num_frames=plan.end - plan.start
        )
        prev: np.ndarray | None = None
        for out in seg.segment(Path(info.path), sub):
            frame = originals.pop(0) if originals else None
            grey = greys.pop(0) if greys else None
            canvas = canvases.pop(0) if canvases else None
            t = plan.start + out.t
            if frame is None:
                continue
            if plan.identity:
                labels = out.label_map
            else:
                assert grey is not None and canvas is not None
                self._observe(out.regions, out.label_map > 0, canvas, grey, prev, plan, t, offset)
                prev = grey
                m = plan.to_canvas[out.t]
                labels = cv2.warpPerspective(
                    out.label_map,
                    m,
                    (info.width, info.height),
                    flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                    borderMode=cv2.BORDER_CONSTANT,
                )
            if offset:
                labels = np.where(labels > 0, labels + offset, 0).astype(np.uint16)
            yield SegmentedFrame(t=t, frame=frame, label_map=labels, regions=regions_from_label_map(labels))
