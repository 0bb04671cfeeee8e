"""A perception pipeline: stream the video once through the stages, then write the twin."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from river_agent.tools.perception.base import Categoriser, DepthEstimator, Describer, Segmenter
from river_agent.tools.perception.classical.attributes import AttributeAccumulator
from river_agent.twin.io import save_twin
from river_agent.twin.masks import mask_filename
from river_agent.twin.schema import Frame, Instance, Spatial, Twin, VideoMeta
from river_agent.video.io import probe_video


@dataclass
class _Seen:
    raw_id: int
    x: float
    y: float
    size: int
    bbox: tuple[int, int, int, int]


def _joined(frame_seen: list[_Seen], objects: dict[int, tuple]) -> list[_Seen]:
    """One entry per output object: entries of raw ids that map to the same object are combined."""
    by_fid: dict[int, _Seen] = {}
    for s in frame_seen:
        if s.raw_id not in objects:
            continue
        fid = objects[s.raw_id][0]
        o = by_fid.get(fid)
        if o is None:
            by_fid[fid] = s
            continue
        n = o.size + s.size
        bbox = (
            min(o.bbox[0], s.bbox[0]),
            min(o.bbox[1], s.bbox[1]),
            max(o.bbox[2], s.bbox[2]),
            max(o.bbox[3], s.bbox[3]),
        )
        x, y = (o.x * o.size + s.x * s.size) / n, (o.y * o.size + s.y * s.size) / n
        by_fid[fid] = _Seen(o.raw_id if o.size >= s.size else s.raw_id, x, y, n, bbox)
    return list(by_fid.values())


class Perception:
    """Video -> digital twin, from one backend per stage (any mix)."""

    def __init__(
        self,
        segmenter: Segmenter,
        categoriser: Categoriser,
        depth: DepthEstimator,
        describer: Describer | None = None,
    ) -> None:
        self.segmenter, self.categoriser, self.depth, self.describer = segmenter, categoriser, depth, describer

    @property
    def name(self) -> str:
        parts = [self.segmenter.name, self.categoriser.name, self.depth.name]
        parts.append(self.describer.name if self.describer else "none")
        return "+".join(parts)

    def run(self, video: str | Path, out_dir: str | Path, progress: bool = True) -> Twin:
        """Build the twin of ``video`` and write it (twin.json + masks/) to ``out_dir``; returns the twin."""
        video, out_dir = Path(video), Path(out_dir)
        info = probe_video(video, count_frames=False)
        if not info.num_frames:  # no count in the header: count by decoding
            info = probe_video(video)
        attrs = AttributeAccumulator()
        seen: list[list[_Seen]] = []
        with tempfile.TemporaryDirectory(prefix="river-perception-") as tmp:
            tmpdir = Path(tmp)
            for seg in self._progress(self.segmenter.segment(video, info), info.num_frames, progress):
                np.save(tmpdir / f"{seg.t:05d}.npy", seg.label_map)
                self.categoriser.observe(seg)
                self.depth.observe(seg)
                attrs.observe(seg)
                while len(seen) < seg.t:
                    seen.append([])
                seen.append([_Seen(oid, r.x, r.y, r.size, r.bbox) for oid, r in sorted(seg.regions.items())])
            result = self.segmenter.result()
            id_map = result.id_map
            categories = self.categoriser.categories()
            # optional: how sure the categoriser is of each track, and its best guess where it said 'object'
            confidences = getattr(self.categoriser, "confidences", dict)()
            guesses = getattr(self.categoriser, "guesses", dict)()
            depths = self.depth.depths(result.occlusions, id_map)
            objects = {}
            # several raw ids may form one object (pieces the segmenter joined later): the most seen one speaks
            weight: dict[int, int] = {}
            for frame_seen in seen:
                for s in frame_seen:
                    weight[s.raw_id] = weight.get(s.raw_id, 0) + s.size
            speaker: dict[int, int] = {}
            for raw in sorted(weight, key=lambda r: -weight[r]):
                speaker.setdefault(id_map.get(raw, raw), raw)
            for raw in weight:
                fid = id_map.get(raw, raw)
                if not fid:
                    continue
                if speaker[fid] != raw:
                    continue
                category = categories.get(raw, "object")
                attributes = attrs.attributes(raw)
                if self.describer is not None and raw in attrs.best:
                    view = attrs.best[raw]
                    text = self.describer.describe(view.rgb, view.mask, category, attributes)
                    if text:
                        attributes["description"] = text
                sure: dict[str, object] = {}
                if raw in confidences:
                    sure["category_confidence"] = confidences[raw]
                    if category == "object" and guesses.get(raw, "object") != "object":
                        sure["category_guess"] = guesses[raw]
                objects[raw] = (fid, category, attributes, sure)
            for raw in weight:
                fid = id_map.get(raw, raw)
                if fid and raw not in objects:
                    objects[raw] = objects[speaker[fid]]
            frames = []
            for t, frame_seen in enumerate(seen):
                instances = []
                for s in _joined(frame_seen, objects):
                    fid, category, attributes, sure = objects[s.raw_id]
                    spatial = Spatial(
                        x=round(s.x, 2),
                        y=round(s.y, 2),
                        depth=round(depths.get((t, fid), 0.5), 4),
                        size=s.size,
                        bbox=list(s.bbox),
                    )
                    instances.append(
                        Instance(
                            id=fid,
                            category=category,
                            attributes=dict(attributes),
                            mask=f"{mask_filename(t)}#{fid}",
                            spatial=spatial,
                            **sure,
                        )
                    )
                frames.append(Frame(t=t, mask=mask_filename(t), instances=sorted(instances, key=lambda i: i.id)))
            twin = Twin(
                video=VideoMeta(
                    path=str(video), fps=info.fps, width=info.width, height=info.height, num_frames=len(frames)
                ),
                frames=frames,
                perception=self.name,
            )
            lut = np.zeros(max([0, *id_map.keys(), *(s.raw_id for f in seen for s in f)]) + 1, np.uint16)
            for raw, (fid, *_) in objects.items():
                lut[raw] = fid
            save_twin(
                twin, out_dir, label_maps=self._remapped(tmpdir, len(frames), lut, (info.height, info.width))
            )
        return twin.with_root(out_dir)

    @staticmethod
    def _remapped(
        tmpdir: Path, n: int, lut: np.ndarray, shape: tuple[int, int]
    ) -> Iterator[tuple[int, np.ndarray]]:
        for t in range(n):
            path = tmpdir / f"{t:05d}.npy"
            yield t, lut[np.load(path)] if path.exists() else np.zeros(shape, np.uint16)

    @staticmethod
    def _progress(it: Iterator, total: int, enabled: bool) -> Iterator:
        if not enabled:
            yield from it
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("perception"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=False) as bar:
            task = bar.add_task("frames", total=total)
            for item in it:
                yield item
                bar.advance(task)
