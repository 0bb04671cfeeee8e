"""Depth Anything v2 (transformers): relative depth sampled inside each object's mask."""

from __future__ import annotations

import numpy as np

from river_agent.tools.perception.base import Occlusion, SegmentedFrame
from river_agent.tools.perception.foundation.common import load_error, torch_dtype


class DepthAnythingDepth:
    """Median predicted disparity inside each mask (larger = nearer), mapped to [0, 1] distance over the video."""

    name = "depth-anything"

    def __init__(self, model, processor, device: str = "cpu") -> None:
        self.model, self.processor, self.device = model.eval(), processor, device
        self.raw: dict[tuple[int, int], float] = {}

    @classmethod
    def from_pretrained(cls, path: str | None, device: str = "cpu", dtype: str = "float32") -> DepthAnythingDepth:
        from transformers import AutoImageProcessor, DepthAnythingForDepthEstimation

        try:
            processor = AutoImageProcessor.from_pretrained(path)
            model = DepthAnythingForDepthEstimation.from_pretrained(path, dtype=torch_dtype(dtype)).to(device)
        except Exception as exc:
            raise load_error("Depth Anything", path, exc) from exc
        return cls(model, processor, device)

    def disparity(self, frame: np.ndarray) -> np.ndarray:
        """HxW relative inverse depth of one RGB frame."""
        import torch

        inputs = self.processor(images=frame, return_tensors="pt")
        dtype = next(self.model.parameters()).dtype
        pixel_values = inputs["pixel_values"].to(self.device, dtype)
        with torch.inference_mode():
            pred = self.model(pixel_values=pixel_values).predicted_depth
        pred = torch.nn.functional.interpolate(pred[:, None].float(), size=frame.shape[:2], mode="bilinear")
        return pred[0, 0].cpu().numpy()

    def observe(self, seg: SegmentedFrame) -> None:
        if not seg.regions:
            return
        disp = self.disparity(seg.frame)
        for oid, r in seg.regions.items():
            x0, y0, x1, y1 = r.bbox
            self.raw[(seg.t, oid)] = float(np.median(disp[y0:y1, x0:x1][r.crop]))

    def depths(self, occlusions: list[Occlusion], id_map: dict[int, int]) -> dict[tuple[int, int], float]:
        vals = {(t, id_map.get(o, o)): v for (t, o), v in self.raw.items() if id_map.get(o, o)}
        if not vals:
            return {}
        lo, hi = min(vals.values()), max(vals.values())
        if hi <= lo:
            return dict.fromkeys(vals, 0.5)
        return {k: float(1.0 - (v - lo) / (hi - lo)) for k, v in vals.items()}
