"""Classical instance segmentation + tracking: background difference, connected components, colour-guided
splitting of merged blobs, Hungarian matching on mask IoU / centroid distance / colour histogram, and
re-identification of objects that come back after occlusion or leaving the frame."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from river_agent.tools.perception.base import Occlusion, Region, SegmentationResult, SegmentedFrame
from river_agent.tools.perception.classical.background import (
    BackgroundModel,
    build_background,
    chroma_close,
    join_lookalikes,
    max_abs_diff,
    sample_frames,
)
from river_agent.tools.perception.classical.tracking import (
    Track,
    color_hist,
    crop_overlap,
    hist_distance,
    palette_of,
    paste,
    union_regions,
)
from river_agent.video.io import VideoInfo, iter_frames


@dataclass
class ClassicalSegmenterConfig:
    """Settings of the classical segmenter/tracker."""

    bg_samples: int = field(default=41, metadata={"help": "Frames sampled (evenly) for the median background."})
    threshold: int = field(default=28, metadata={"help": "Max-channel difference (0-255) that marks foreground."})
    min_area_frac: float = field(default=0.0003, metadata={"help": "Smallest object, as a fraction of the frame."})
    static_objects: bool = field(default=True, metadata={"help": "Also find objects that never move."})
    static_max_area_frac: float = field(
        default=0.2, metadata={"help": "Largest standing object (frame fraction)."}
    )
    static_min_solidity: float = field(default=0.5, metadata={"help": "Standing objects must be this compact."})
    max_coast: int = field(default=12, metadata={"help": "Frames a hidden track is predicted by motion."})
    reid_distance: float = field(default=0.35, metadata={"help": "Max colour-histogram distance to re-identify."})
    min_track_frames: int = field(default=4, metadata={"help": "Tracks seen in fewer frames are noise."})
    min_track_share: float = field(default=0.3, metadata={"help": "...or in fewer than this share of frames."})
    split_by_hue: bool = field(default=True, metadata={"help": "Cut moving blobs where their hue changes."})
    max_hue_pieces: int = field(default=6, metadata={"help": "Blobs with more hue pieces stay whole."})
    max_objects: int = field(default=16, metadata={"help": "Keep at most this many (largest) blobs per frame."})
    max_split: int = field(default=5, metadata={"help": "Blobs claimed by more tracks than this are not split."})
    max_split_frac: float = field(
        default=0.25, metadata={"help": "Blobs larger than this frame share stay whole."}
    )
    max_object_frac: float = field(default=0.35, metadata={"help": "Larger blobs are background failures."})
    join_pieces: bool = field(
        default=True, metadata={"help": "Join tracks that touch and move together (pieces of one object)."}
    )
    stitch: bool = field(
        default=True, metadata={"help": "Join a track to an earlier one it continues (lost identity)."}
    )
    stitch_overlap: int = field(
        default=8, metadata={"help": "Frames a continuing track may overlap the one it continues."}
    )
    join_frames: int = field(default=5, metadata={"help": "Frames two tracks must touch in a row to be joined."})
    still_frames: int = field(
        default=8,
        metadata={
            "help": "A track seen this often with its box unchanged has not moved: it is re-identified only near "
            "its place (a ghost of ground the background got wrong is not a look-alike elsewhere)."
        },
    )
    join_drift_share: float = field(
        default=0.5,
        metadata={
            "help": "A moving track joins a standing object only if their offset drifted by at most this share "
            "of how far it moved (+3 px): an object passing a standing one of its colour is not a piece of it."
        },
    )
    join_chroma: float = field(
        default=0.12, metadata={"help": "Max chromaticity difference of joined pieces (brightness-free colour)."}
    )
    ghost_share: float = field(
        default=0.6,
        metadata={
            "help": "Drop a moving track when on average this share of its pixels looks like the ground "
            "(background the median got wrong, e.g. lane gaps under a long object that covered them)."
        },
    )


JOIN_GAP = 6  # px: pieces this close count as touching (a head above a body, a seam)


def _grow(crop: np.ndarray, r: int) -> np.ndarray:
    """``crop`` padded by ``r`` and dilated by ``r`` px (origin moves by -r, -r)."""
    return cv2.dilate(np.pad(crop, r).astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)


class ClassicalSegmenter:
    """Background-difference segmentation with a multi-object tracker (see module doc)."""

    name = "classical"

    def __init__(self, config: ClassicalSegmenterConfig | None = None) -> None:
        self.cfg = config or ClassicalSegmenterConfig()
        self.tracks: dict[int, Track] = {}
        self.occlusions: list[Occlusion] = []
        self._next_id = 1
        self.model: BackgroundModel | None = None
        self._alias: dict[int, int] = {}  # track id -> the track it was joined to (pieces of one object)
        # (a, b) -> (run, a's and b's centroids when the run started)
        self._pairs: dict[tuple[int, int], tuple[int, tuple[float, float, float, float]]] = {}
        self._birth: dict[int, tuple[int, float, float]] = {}  # moving track id -> (t, x, y) when first seen
        self._box_first: dict[int, tuple[int, int, int, int]] = {}  # moving track id -> its first bbox
        self._box_span: dict[int, tuple[int, int, int, int]] = {}  # ... and the union of its bboxes
        self._ground_like: dict[int, list[float]] = {}  # track id -> [sum of ground-like shares, frames]

    # ---------------------------------------------------------------- stream
    def segment(self, video: Path, info: VideoInfo) -> Iterator[SegmentedFrame]:
        cfg = self.cfg
        h, w = info.height, info.width
        self.min_area = max(12, int(cfg.min_area_frac * h * w))
        self._min_hits = max(cfg.min_track_frames, int(cfg.min_track_share * info.num_frames))
        sample = self._sample_frames(video, info)
        self.model = build_background(
            sample,
            cfg.static_objects,
            cfg.threshold,
            self.min_area,
            cfg.static_max_area_frac,
            cfg.static_min_solidity,
        )
        del sample
        self._static: list[tuple[int, int, int, np.ndarray]] = []  # (tid, x0, y0, crop)
        # standing object -> its mean colour in the background model (its regions hold whatever stops in front)
        self._static_rgb: dict[int, np.ndarray] = {}
        if self.model.num_static:
            from scipy import ndimage

            for k, sl in enumerate(ndimage.find_objects(self.model.static_labels), start=1):
                if sl is None:
                    continue
                crop = self.model.static_labels[sl] == k
                tid = self._new_id()
                self._static.append((tid, sl[1].start, sl[0].start, crop))
                self._static_rgb[tid] = self.model.background[sl][crop].reshape(-1, 3).astype(np.float64).mean(0)
        static_zone = self.model.static_labels > 0
        kernel = np.ones((3, 3), np.uint8)
        for t, frame in enumerate(self._iter_frames(video)):
            if frame.shape[:2] != (h, w):
                continue
            d_bg = max_abs_diff(frame, self.model.background)
            moving = d_bg > cfg.threshold
            d_gr = None
            if self._static:
                d_gr = self.model.ground_distance(frame)
                moving &= ~(static_zone & (d_gr <= cfg.threshold))
            mov8 = cv2.morphologyEx(moving.astype(np.uint8), cv2.MORPH_OPEN, kernel)
            mov8 = cv2.morphologyEx(mov8, cv2.MORPH_CLOSE, kernel)
            regions = self._static_regions(t, frame, mov8, d_gr) if self._static else {}
            regions.update(self._moving_regions(t, frame, mov8, regions))
            self._record_occlusions(t, regions)
            if cfg.join_pieces:
                regions = self._join_pieces(regions, frame)
            label_map = np.zeros((h, w), np.uint16)
            for tid, r in regions.items():
                x0, y0, x1, y1 = r.bbox
                label_map[y0:y1, x0:x1][r.crop] = tid
                if tid in self._birth:
                    self._count_ground_like(tid, frame, r)
            yield SegmentedFrame(t=t, frame=frame, label_map=label_map, regions=regions)

    def result(self) -> SegmentationResult:
        if self.cfg.stitch:
            self._stitch()
        hits: dict[int, int] = {}
        for tr in self.tracks.values():  # a joined object is seen when any of its pieces is
            root = self._root(tr.tid)
            hits[root] = max(hits.get(root, 0), tr.hits)
        joined = set(self._alias) | set(self._alias.values())
        for r in list(hits):  # a moving-path track whose box never changed: ground the background got wrong
            if r not in joined and self._still(r):
                hits[r] = 0
        for r, share in self._ground_shares().items():
            if share > self.cfg.ghost_share:
                hits[r] = 0
        keep = sorted(
            (self.tracks[r] for r, n in hits.items() if n >= self._min_hits),
            key=lambda tr: (tr.first_t, tr.tid),
        )
        final = {tr.tid: i for i, tr in enumerate(keep, start=1)}
        id_map = {tid: final.get(self._root(tid), 0) for tid in self.tracks}
        return SegmentationResult(id_map=id_map, occlusions=self.occlusions)

    def _stitch(self) -> None:
        """Join a track that starts where an earlier one of the same colours was heading as it ended (or was cut
        in two by an occluder and lost its other half): one object whose identity the tracker lost."""
        cfg = self.cfg
        tracks = sorted(
            (tr for tr in self.tracks.values() if not tr.static and tr.tid in self._birth),
            key=lambda tr: (tr.first_t, tr.tid),
        )
        for b in tracks:
            if b.tid in self._alias:
                continue
            bt, bx, by = self._birth[b.tid]
            best, best_d = None, float("inf")
            for a in tracks:
                if a is b or (a.first_t, a.tid) >= (b.first_t, b.tid) or self._root(a.tid) == self._root(b.tid):
                    continue
                gap = bt - a.last_t
                if gap < -cfg.stitch_overlap or gap > 2 * cfg.max_coast:
                    continue
                if a.last_t >= b.last_t:  # b lies inside a's life: a piece, not a continuation
                    continue
                ratio = min(a.ref_area, b.ref_area) / max(a.ref_area, b.ref_area, 1.0)
                if ratio < 0.25 or hist_distance(a.hist, b.hist) > cfg.reid_distance:
                    continue
                px, py = a.cx + a.vx * max(gap, 0), a.cy + a.vy * max(gap, 0)
                reach = 0.75 * np.sqrt(max(a.ref_area, b.ref_area)) + 2.0 * abs(gap)
                d = float(np.hypot(bx - px, by - py))
                if d <= reach and d < best_d:
                    best, best_d = a, d
            if best is not None:
                self._alias[b.tid] = self._root(best.tid)

    def _count_ground_like(self, tid: int, frame: np.ndarray, r: Region) -> None:
        assert self.model is not None
        d = self.model.ground_distance(frame, r.bbox)[r.crop]
        acc = self._ground_like.setdefault(tid, [0.0, 0])
        acc[0] += float(np.count_nonzero(d <= self.cfg.threshold)) / max(d.size, 1)
        acc[1] += 1

    def _ground_shares(self) -> dict[int, float]:
        """Per object (root id): the mean share of its pixels that match the ground model, over its frames."""
        acc: dict[int, list[float]] = {}
        for tid, (total, n) in self._ground_like.items():
            a = acc.setdefault(self._root(tid), [0.0, 0])
            a[0] += total
            a[1] += n
        return {r: total / n for r, (total, n) in acc.items() if n}

    def _root(self, tid: int) -> int:
        while tid in self._alias:
            tid = self._alias[tid]
        return tid

    def _join_pieces(self, regions: dict[int, Region], frame: np.ndarray) -> dict[int, Region]:
        """Regions keyed by object: tracks that touched for ``join_frames`` frames in a row without drifting apart
        and have the same brightness-free colour are pieces of one object (a patterned or partly hidden object cut
        up by the background difference) and are joined from then on."""
        cfg = self.cfg
        ids = sorted(regions)
        seen_pairs = set()
        chroma: dict[int, np.ndarray] = {}
        for i, a in enumerate(ids):
            ra = regions[a]
            grown = None
            for b in ids[i + 1 :]:
                rb = regions[b]
                if self._root(a) == self._root(b):
                    continue
                gap = max(ra.bbox[0] - rb.bbox[2], rb.bbox[0] - ra.bbox[2], ra.bbox[1] - rb.bbox[3])
                if max(gap, rb.bbox[1] - ra.bbox[3]) > JOIN_GAP:
                    continue
                if grown is None:
                    grown = _grow(ra.crop, JOIN_GAP)
                if not crop_overlap(
                    grown, ra.bbox[0] - JOIN_GAP, ra.bbox[1] - JOIN_GAP, rb.crop, rb.bbox[0], rb.bbox[1]
                ):
                    continue
                for r in (a, b):
                    if r not in chroma:
                        standing_rgb = self._static_rgb.get(r)
                        chroma[r] = _mean_rgb(frame, regions[r]) if standing_rgb is None else standing_rgb
                if not chroma_close(chroma[a], chroma[b], cfg.join_chroma):
                    continue
                key = (a, b)
                seen_pairs.add(key)
                now = (ra.x, ra.y, rb.x, rb.y)
                run, start = self._pairs.get(key, (0, now))
                if _at_border(ra, frame.shape) or _at_border(rb, frame.shape):
                    start = now  # a region cut by the frame edge moves its centroid: count from inside
                run += 1
                self._pairs[key] = (run, start)
                ax, ay, bx, by = (c - c0 for c, c0 in zip(now, start, strict=True))
                drift = np.hypot(ax - bx, ay - by)
                moved = max(np.hypot(ax, ay), np.hypot(bx, by))
                standing = a in self._static_rgb or b in self._static_rgb
                small = min(ra.size, rb.size, self.tracks[a].ref_area, self.tracks[b].ref_area)
                if (
                    run >= cfg.join_frames
                    and drift <= 0.3 * np.sqrt(small) + 3
                    and (not standing or drift <= cfg.join_drift_share * moved + 3)
                ):
                    ta, tb = self.tracks[self._root(a)], self.tracks[self._root(b)]
                    old, new = (ta, tb) if (ta.first_t, ta.tid) <= (tb.first_t, tb.tid) else (tb, ta)
                    self._alias[new.tid] = old.tid
        for key in [k for k in self._pairs if k not in seen_pairs]:
            del self._pairs[key]
        if not self._alias:
            return regions
        out: dict[int, Region] = {}
        for tid, r in regions.items():
            root = self._root(tid)
            if root in out:
                out[root] = union_regions(out[root], r)
            else:
                out[root] = Region(root, r.x, r.y, r.size, r.bbox, r.crop)
            out[root].obj_id = root
        return out

    # frame sources: camera-motion compensation (classical/stabilise.py) feeds re-projected frames through these
    def _sample_frames(self, video: Path, info: VideoInfo) -> np.ndarray:
        return sample_frames(video, info.num_frames, self.cfg.bg_samples)

    def _iter_frames(self, video: Path) -> Iterator[np.ndarray]:
        return iter_frames(video)

    # ---------------------------------------------------------------- pieces
    def _new_id(self) -> int:
        tid = self._next_id
        self._next_id += 1
        return tid

    def _new_track(self, t: int, region: Region, frame: np.ndarray, static: bool = False) -> Track:
        tid = region.obj_id if static else self._new_id()
        x0, y0, x1, y1 = region.bbox
        pixels = frame[y0:y1, x0:x1][region.crop]
        tr = Track(
            tid=tid,
            first_t=t,
            last_t=t,
            cx=region.x,
            cy=region.y,
            shape=region.crop,
            shape_off=(region.x - x0, region.y - y0),
            ref_area=float(region.size),
            hist=color_hist(pixels),
            palette=palette_of(pixels),
            static=static,
        )
        self.tracks[tid] = tr
        if not static:
            self._birth[tid] = (t, region.x, region.y)
        region.obj_id = tid
        return tr

    def _static_regions(self, t: int, frame: np.ndarray, mov8: np.ndarray, d_gr: np.ndarray) -> dict[int, Region]:
        out: dict[int, Region] = {}
        for tid, x0, y0, crop in self._static:
            y1, x1 = y0 + crop.shape[0], x0 + crop.shape[1]
            vis = crop & (d_gr[y0:y1, x0:x1] > self.cfg.threshold) & (mov8[y0:y1, x0:x1] == 0)
            region = Region.from_crop(tid, vis, x0, y0)
            if region is None or region.size < self.min_area // 2:
                continue
            tr = self.tracks.get(tid)
            if tr is None:
                full = Region.from_crop(tid, crop, x0, y0)
                assert full is not None
                tr = self._new_track(t, full, frame, static=True)
                tr.hits = 0
            tr.update(t, region, frame, occluded=region.size < 0.75 * tr.ref_area)
            out[tid] = region
        return out

    def _moving_regions(
        self, t: int, frame: np.ndarray, mov8: np.ndarray, static: dict[int, Region]
    ) -> dict[int, Region]:
        cfg = self.cfg
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mov8, connectivity=8)
        comps: list[Region] = []
        top = cfg.max_object_frac * mov8.size
        big = [i for i in range(1, n) if self.min_area <= stats[i, cv2.CC_STAT_AREA] <= top]
        big = sorted(big, key=lambda i: -stats[i, cv2.CC_STAT_AREA])[: cfg.max_objects]
        for i in big:
            x, y, bw, bh = (int(v) for v in stats[i, :4])
            crop = labels[y : y + bh, x : x + bw] == i
            for piece in self._hue_pieces(crop, frame[y : y + bh, x : x + bw]):
                region = Region.from_crop(0, piece, x, y)
                if region is not None and not self._absorbed_by_static(region, static, frame):
                    comps.append(region)
        active = [tr for tr in self.tracks.values() if not tr.static and t - tr.last_t <= cfg.max_coast]
        preds = {tr.tid: tr.predicted(t) for tr in active}
        assigned: dict[int, Region] = {}
        detections: list[Region] = []
        for comp in comps:
            claims = []
            for tr in active:
                px, py, pcrop, _, _ = preds[tr.tid]
                ov = crop_overlap(pcrop, px, py, comp.crop, comp.bbox[0], comp.bbox[1])
                if ov >= max(20, 0.15 * min(pcrop.sum(), tr.ref_area)):
                    claims.append(tr)
            splittable = len(claims) <= cfg.max_split and comp.size <= cfg.max_split_frac * mov8.size
            if len(claims) >= 2 and splittable:
                for tid, part in self._split(comp, claims, preds, frame).items():
                    if tid in assigned:
                        assigned[tid] = union_regions(assigned[tid], part)
                    else:
                        assigned[tid] = part
            else:
                detections.append(comp)
        free = [tr for tr in active if tr.tid not in assigned]
        matched = self._hungarian(t, detections, free, preds, frame)
        leftovers = [d for k, d in enumerate(detections) if k not in matched]
        for k, tid in matched.items():
            assigned[tid] = detections[k]
        for det in leftovers:
            owner = self._owner_of_fragment(det, assigned, preds)
            if owner is None:
                owner = self._touching_lookalike(det, assigned, frame)
            if owner is not None:
                assigned[owner] = union_regions(assigned[owner], det)
                continue
            tr = self._reidentify(t, det, frame, exclude=set(assigned))
            if tr is None:
                tr = self._new_track(t, det, frame)
                tr.hits = 0
            else:
                tr.vx = tr.vy = 0.0
                tr.cx, tr.cy = det.x, det.y
                tr.last_t = t - 1
            assigned[tr.tid] = det
        out: dict[int, Region] = {}
        for tid, region in assigned.items():
            tr = self.tracks[tid]
            region.obj_id = tid
            touches = region.bbox[0] == 0 or region.bbox[1] == 0
            touches |= region.bbox[2] >= mov8.shape[1] or region.bbox[3] >= mov8.shape[0]
            occluded = region.size < 0.75 * tr.ref_area
            tr.update(t, region, frame, occluded=occluded and not (touches and tr.hits < 2))
            box = self._box_span.get(tid)
            self._box_first.setdefault(tid, region.bbox)
            self._box_span[tid] = region.bbox if box is None else _span(box, region.bbox)
            out[tid] = region
        return out

    def _split(self, comp: Region, claims: list[Track], preds: dict, frame: np.ndarray) -> dict[int, Region]:
        """Divide a blob several tracks claim: each pixel goes to the track whose colours and shape fit best."""
        x0, y0, x1, y1 = comp.bbox
        pix = frame[y0:y1, x0:x1].astype(np.float32)
        shape = comp.crop.shape
        yy, xx = np.mgrid[y0:y1, x0:x1]
        costs = []
        kernel = np.ones((7, 7), np.uint8)
        for tr in claims:
            px, py, pcrop, pcx, pcy = preds[tr.tid]
            inside = cv2.dilate(paste(pcrop, px, py, shape, x0, y0).astype(np.uint8), kernel).astype(bool)
            dcol = np.min(
                [np.sqrt(((pix - c[None, None]) ** 2).sum(-1)) for c in tr.palette.astype(np.float32)], axis=0
            )
            scale = np.sqrt(max(tr.ref_area, 1.0))
            dpos = np.hypot(xx - pcx, yy - pcy) / scale
            costs.append(dcol / 60.0 + np.where(inside, 0.0, 1.5) + 0.15 * dpos)
        choice = np.argmin(np.stack(costs), axis=0)
        out: dict[int, Region] = {}
        for k, tr in enumerate(claims):
            part = Region.from_crop(tr.tid, comp.crop & (choice == k), x0, y0)
            if part is not None and part.size >= max(8, self.min_area // 3):
                out[tr.tid] = part
        return out

    def _hungarian(
        self, t: int, dets: list[Region], tracks: list[Track], preds: dict, frame: np.ndarray
    ) -> dict[int, int]:
        if not dets or not tracks:
            return {}
        big = 1e6
        cost = np.full((len(dets), len(tracks)), big)
        det_hists = []
        for d in dets:
            x0, y0, x1, y1 = d.bbox
            det_hists.append(color_hist(frame[y0:y1, x0:x1][d.crop]))
        for i, d in enumerate(dets):
            for j, tr in enumerate(tracks):
                px, py, pcrop, pcx, pcy = preds[tr.tid]
                ov = crop_overlap(pcrop, px, py, d.crop, d.bbox[0], d.bbox[1])
                iou = ov / max(1.0, pcrop.sum() + d.size - ov)
                dist = np.hypot(d.x - pcx, d.y - pcy) / (np.sqrt(max(tr.ref_area, d.size)) + 10.0)
                app = hist_distance(tr.hist, det_hists[i])
                if (iou > 0.05 or dist < 1.5) and app < 0.7:
                    cost[i, j] = (1.0 - iou) + 0.5 * min(dist, 3.0) + app
        rows, cols = linear_sum_assignment(cost)
        return {int(r): tracks[c].tid for r, c in zip(rows, cols, strict=True) if cost[r, c] < big}

    def _owner_of_fragment(self, det: Region, assigned: dict[int, Region], preds: dict) -> int | None:
        """A leftover piece inside a matched track's predicted shape (an object cut in two by an occluder)."""
        for tid in assigned:
            if tid not in preds:
                continue
            px, py, pcrop, _, _ = preds[tid]
            if crop_overlap(pcrop, px, py, det.crop, det.bbox[0], det.bbox[1]) >= 0.5 * det.size:
                return tid
        return None

    def _hue_pieces(self, crop: np.ndarray, rgb: np.ndarray) -> list[np.ndarray]:
        """A blob cut where its colour (hue) changes: touching objects of different colours come apart."""
        if not self.cfg.split_by_hue:
            return [crop]
        labels, stats, n = join_lookalikes(crop.astype(np.uint8), rgb, follow_below=self.min_area)
        pieces = [labels == i for i in range(1, n) if stats[i, 4] >= self.min_area]
        if len(pieces) > self.cfg.max_hue_pieces:  # a many-coloured thing (real footage), not touching objects
            return [crop]
        return pieces or [crop]

    def _absorbed_by_static(self, comp: Region, static: dict[int, Region], frame: np.ndarray) -> bool:
        """A moving piece touching a standing object of its colours is that object moving off its resting place."""
        if not static:
            return False
        x0, y0, x1, y1 = comp.bbox
        hist = color_hist(frame[y0:y1, x0:x1][comp.crop])
        grown = cv2.dilate(np.pad(comp.crop, 3).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
        for tid, r in static.items():
            if crop_overlap(grown, x0 - 3, y0 - 3, r.crop, r.bbox[0], r.bbox[1]) == 0:
                continue
            if hist_distance(self.tracks[tid].hist, hist) < 0.35:
                static[tid] = union_regions(r, comp)
                static[tid].obj_id = tid
                return True
        return False

    def _touching_lookalike(self, det: Region, assigned: dict[int, Region], frame: np.ndarray) -> int | None:
        """A region this frame's piece touches (or nearly) and resembles, by colour histogram or by
        brightness-free colour: a part of that object, not a new one."""
        x0, y0, x1, y1 = det.bbox
        pixels = frame[y0:y1, x0:x1][det.crop]
        hist = color_hist(pixels)
        mean = pixels.reshape(-1, 3).astype(np.float64).mean(0)
        grown = _grow(det.crop, JOIN_GAP)
        best, best_d = None, 0.3
        for tid, r in assigned.items():
            if crop_overlap(grown, x0 - JOIN_GAP, y0 - JOIN_GAP, r.crop, r.bbox[0], r.bbox[1]) == 0:
                continue
            d = hist_distance(self.tracks[tid].hist, hist)
            if d >= best_d and chroma_close(_mean_rgb(frame, r), mean, self.cfg.join_chroma):
                d = best_d - 1e-6
            if d < best_d:
                best, best_d = tid, d
        return best

    def _still(self, tid: int) -> bool:
        """A moving-path track whose box never changed by more than 1 px (so far): it has not moved."""
        first, span = self._box_first.get(tid), self._box_span.get(tid)
        if first is None or span is None:
            return False
        return max(abs(a - b) for a, b in zip(first, span, strict=True)) <= 1

    def _reidentify(self, t: int, det: Region, frame: np.ndarray, exclude: set[int]) -> Track | None:
        x0, y0, x1, y1 = det.bbox
        hist = color_hist(frame[y0:y1, x0:x1][det.crop])
        best, best_d = None, self.cfg.reid_distance
        for tr in self.tracks.values():
            if tr.tid in exclude or tr.last_t >= t or tr.hits < 2:
                continue
            # a track that never moved returns where it was: a look-alike elsewhere (another lane dash the
            # background got wrong, uncovered while this one was covered) is not it
            if (
                tr.hits >= self.cfg.still_frames
                and self._still(tr.tid)
                and np.hypot(det.x - tr.cx, det.y - tr.cy) > 0.5 * np.sqrt(tr.ref_area) + 4
            ):
                continue
            ratio = min(det.size, tr.ref_area) / max(det.size, tr.ref_area, 1)
            if ratio < 0.3:
                continue
            d = hist_distance(tr.hist, hist) + 0.1 * (1 - ratio)
            if d < best_d:
                best, best_d = tr, d
        return best

    def _record_occlusions(self, t: int, regions: dict[int, Region]) -> None:
        for tr in self.tracks.values():
            if t - tr.last_t > self.cfg.max_coast and tr.tid not in regions:
                continue
            vis = regions.get(tr.tid)
            if vis is not None and vis.size >= 0.85 * tr.ref_area:
                continue
            px, py, pcrop, _, _ = tr.predicted(t) if vis is None else (*self._last_shape(tr), 0, 0)
            expected = pcrop.sum()
            for oid, other in regions.items():
                if oid == tr.tid:
                    continue
                ov = crop_overlap(pcrop, px, py, other.crop, other.bbox[0], other.bbox[1])
                if ov >= max(15, 0.08 * expected):
                    self.occlusions.append(Occlusion(t=t, front=oid, back=tr.tid, pixels=ov))

    @staticmethod
    def _last_shape(tr: Track) -> tuple[int, int, np.ndarray]:
        return round(tr.cx - tr.shape_off[0]), round(tr.cy - tr.shape_off[1]), tr.shape


def _mean_rgb(frame: np.ndarray, r: Region) -> np.ndarray:
    x0, y0, x1, y1 = r.bbox
    return frame[y0:y1, x0:x1][r.crop].reshape(-1, 3).astype(np.float64).mean(0)


def _at_border(r: Region, shape: tuple[int, ...]) -> bool:
    return r.bbox[0] <= 0 or r.bbox[1] <= 0 or r.bbox[2] >= shape[1] or r.bbox[3] >= shape[0]


def _span(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])
