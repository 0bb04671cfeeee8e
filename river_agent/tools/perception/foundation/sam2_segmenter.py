"""SAM 2 video segmentation (the ``sam2`` package), prompted by detector boxes.

The video is processed in windows of ``detect_every`` frames. At the start of each window the detector runs;
objects already tracked are re-prompted with their last mask, detections that match no tracked object become
new objects (so objects entering later are picked up), and SAM 2 propagates all of them through the window.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from river_agent.errors import RiverError
from river_agent.tools.perception.base import Region, SegmentationResult, SegmentedFrame
from river_agent.tools.perception.foundation.common import box_iou
from river_agent.tools.perception.foundation.detectors import Detector
from river_agent.video.io import VideoInfo, iter_frames


def build_predictor(config: str, checkpoint: str | None, device: str = "cpu", image_size: int | None = None):
    """A SAM 2 video predictor from a config shipped by ``sam2`` and a checkpoint (None: random weights)."""
    from hydra import initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from sam2.build_sam import build_sam2_video_predictor

    if not GlobalHydra.instance().is_initialized():
        initialize_config_module("sam2", version_base="1.2")
    elif "sam2" not in str(GlobalHydra.instance().config_loader().get_sources()):
        GlobalHydra.instance().clear()
        initialize_config_module("sam2", version_base="1.2")
    extra = [f"++model.image_size={image_size}"] if image_size else []
    try:
        return build_sam2_video_predictor(
            config, ckpt_path=checkpoint, device=device, hydra_overrides_extra=extra, apply_postprocessing=False
        )
    except Exception as exc:
        raise RiverError(
            f"cannot build SAM 2 from {config!r} / {checkpoint!r}: {exc.__class__.__name__}: {exc}"
        ) from exc


class Sam2Segmenter:
    """SAM 2 masks with persistent ids; a detector finds objects every ``detect_every`` frames."""

    name = "sam2"

    def __init__(
        self, predictor, detector: Detector, detect_every: int = 8, match_iou: float = 0.3, min_area: int = 16
    ) -> None:
        self.predictor, self.detector = predictor, detector
        self.detect_every, self.match_iou, self.min_area = max(1, detect_every), match_iou, min_area
        self._next_id = 1

    @classmethod
    def from_config(cls, cfg, detector: Detector) -> Sam2Segmenter:
        predictor = build_predictor(cfg.sam2_config, cfg.sam2_checkpoint, device=cfg.device)
        return cls(predictor, detector, detect_every=cfg.detect_every)

    def result(self) -> SegmentationResult:
        return SegmentationResult()

    def segment(self, video: Path, info: VideoInfo) -> Iterator[SegmentedFrame]:
        import torch

        self.detector.prepare(video, info)
        with tempfile.TemporaryDirectory(prefix="river-sam2-") as tmp:
            n = 0  # frames actually decoded (a header's count can be wrong)
            for t, frame in enumerate(iter_frames(video)):
                cv2.imwrite(str(Path(tmp) / f"{t}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
                n = t + 1
            with torch.inference_mode():
                state = self.predictor.init_state(video_path=tmp, offload_video_to_cpu=True)
                frames = iter_frames(video)
                carried: dict[int, np.ndarray] = {}  # obj id -> bool mask at the window start
                for start in range(0, n, self.detect_every):
                    end = min(n - 1, start + self.detect_every)  # last frame propagated (overlaps next window)
                    first = next(frames)
                    prompts = dict(carried)
                    new_boxes = self._new_objects(first, prompts)
                    masks_by_t: dict[int, dict[int, np.ndarray]] = {}
                    if prompts or new_boxes:
                        self.predictor.reset_state(state)
                        for oid, m in prompts.items():
                            self.predictor.add_new_mask(state, frame_idx=start, obj_id=oid, mask=m)
                        for oid, box in new_boxes.items():
                            self.predictor.add_new_points_or_box(
                                state, frame_idx=start, obj_id=oid, box=np.array(box, np.float32)
                            )
                        for t, obj_ids, logits in self.predictor.propagate_in_video(
                            state, start_frame_idx=start, max_frame_num_to_track=end - start
                        ):
                            masks_by_t[t] = self._resolve(obj_ids, logits)
                    window_frames = [first] + [
                        next(frames) for _ in range(start + 1, min(n, start + self.detect_every))
                    ]
                    for k, frame in enumerate(window_frames):
                        yield self._emit(start + k, frame, masks_by_t.get(start + k, {}))
                    carried = {oid: m for oid, m in masks_by_t.get(end, {}).items() if m.sum() >= self.min_area}

    def _new_objects(self, frame: np.ndarray, tracked: dict[int, np.ndarray]) -> dict[int, tuple]:
        boxes = {}
        for oid, m in tracked.items():
            ys, xs = np.nonzero(m)
            boxes[oid] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        new = {}
        for det in self.detector.detect(frame):
            if all(box_iou(det.box, b) < self.match_iou for b in [*boxes.values(), *new.values()]):
                new[self._next_id] = det.box
                self._next_id += 1
        return new

    @staticmethod
    def _resolve(obj_ids, logits) -> dict[int, np.ndarray]:
        """Per-object bool masks without overlaps (each pixel to the highest logit)."""
        arr = logits[:, 0].float().cpu().numpy()  # N x H x W
        if arr.shape[0] == 0:
            return {}
        best = arr.argmax(0)
        fg = arr.max(0) > 0
        return {int(oid): fg & (best == k) for k, oid in enumerate(obj_ids)}

    def _emit(self, t: int, frame: np.ndarray, masks: dict[int, np.ndarray]) -> SegmentedFrame:
        h, w = frame.shape[:2]
        label_map = np.zeros((h, w), np.uint16)
        regions = {}
        for oid, m in masks.items():
            if m.shape != (h, w):
                m = cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
            region = Region.from_crop(oid, m, 0, 0)
            if region is None or region.size < self.min_area:
                continue
            regions[oid] = region
            label_map[m] = oid
        return SegmentedFrame(t=t, frame=frame, label_map=label_map, regions=regions)
