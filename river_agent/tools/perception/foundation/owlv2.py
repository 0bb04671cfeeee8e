"""OWLv2 open-vocabulary detection (transformers): boxes for SAM 2 and categories for tracked objects."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from river_agent.tools.perception.base import SegmentedFrame
from river_agent.tools.perception.foundation.common import box_iou, load_error, torch_dtype
from river_agent.tools.perception.foundation.detectors import Detection
from river_agent.video.io import VideoInfo


class Owlv2Detector:
    """Text-queried detector: ``detect(frame)`` -> boxes labelled with one of ``labels``."""

    name = "owlv2"

    def __init__(
        self, model, processor, labels: tuple[str, ...], threshold: float = 0.2, device: str = "cpu"
    ) -> None:
        self.model, self.processor = model.eval(), processor
        self.labels, self.threshold, self.device = tuple(labels), threshold, device
        self._text = None

    @classmethod
    def from_pretrained(
        cls,
        path: str | None,
        labels: tuple[str, ...],
        threshold: float,
        device: str = "cpu",
        dtype: str = "float32",
    ) -> Owlv2Detector:
        from transformers import Owlv2ForObjectDetection, Owlv2Processor

        try:
            processor = Owlv2Processor.from_pretrained(path)
            model = Owlv2ForObjectDetection.from_pretrained(path, dtype=torch_dtype(dtype)).to(device)
        except Exception as exc:  # missing files, no hub access, wrong model
            raise load_error("OWLv2", path, exc) from exc
        return cls(model, processor, labels, threshold, device)

    def prepare(self, video: Path, info: VideoInfo) -> None:
        pass

    def detect(self, frame: np.ndarray) -> list[Detection]:
        import torch

        h, w = frame.shape[:2]
        inputs = self.processor(
            text=[list(self.labels)], images=[frame], return_tensors="pt", padding="max_length", truncation=True
        )
        dtype = next(self.model.parameters()).dtype
        inputs = {
            k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device))
            for k, v in inputs.items()
        }
        with torch.inference_mode():
            outputs = self.model(**inputs)
        # OWLv2 pads images to a square: boxes are relative to the padded size
        side = max(h, w)
        res = self.processor.post_process_grounded_object_detection(
            outputs=outputs, threshold=self.threshold, target_sizes=torch.tensor([[side, side]])
        )[0]
        dets = []
        for box, score, label in zip(
            res["boxes"].tolist(), res["scores"].tolist(), res["labels"].tolist(), strict=True
        ):
            x0, y0, x1, y1 = max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])
            if x1 - x0 >= 2 and y1 - y0 >= 2:
                dets.append(Detection((x0, y0, x1, y1), self.labels[int(label)], float(score)))
        return _nms(dets)


def _nms(dets: list[Detection], iou: float = 0.5) -> list[Detection]:
    keep: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(box_iou(d.box, k.box) < iou for k in keep):
            keep.append(d)
    return keep


class Owlv2Categoriser:
    """Every ``every`` frames, detect and give each tracked region the label of the best-overlapping box."""

    name = "owlv2"

    def __init__(self, detector: Owlv2Detector, every: int = 8, min_iou: float = 0.3) -> None:
        self.detector, self.every, self.min_iou = detector, every, min_iou
        self.votes: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.looks: dict[int, int] = defaultdict(int)  # detector runs that saw the track
        self.seen: set[int] = set()

    def observe(self, seg: SegmentedFrame) -> None:
        fresh = [oid for oid in seg.regions if oid not in self.seen]
        if not seg.regions or (seg.t % self.every and not fresh):
            return
        self.seen.update(seg.regions)
        dets = self.detector.detect(seg.frame)
        for oid, r in seg.regions.items():
            self.looks[oid] += 1
            best = max(dets, key=lambda d: box_iou(d.box, r.bbox), default=None)
            if best is not None and box_iou(best.box, r.bbox) >= self.min_iou:
                self.votes[oid][best.label] += best.score

    def categories(self) -> dict[int, str]:
        return {oid: max(v, key=v.get) for oid, v in self.votes.items() if v}

    def confidences(self) -> dict[int, float]:
        """Per track, the winning label's detection score averaged over every look (a look without a matching
        box counts 0)."""
        return {oid: round(max(v.values()) / max(self.looks[oid], 1), 3) for oid, v in self.votes.items() if v}
