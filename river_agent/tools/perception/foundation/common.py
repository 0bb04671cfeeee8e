"""Helpers shared by the model backends: dtype names, crops, box geometry."""

from __future__ import annotations

import numpy as np

from river_agent.errors import RiverError


def torch_dtype(name: str):
    import torch

    try:
        return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[name]
    except KeyError:
        raise RiverError(f"unknown dtype {name!r}; use float32, float16 or bfloat16") from None


def box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def masked_crop(crop_rgb: np.ndarray, crop_mask: np.ndarray, pad_value: int = 255) -> np.ndarray:
    """The object's crop with the background outside its mask set to ``pad_value`` (for describers)."""
    out = crop_rgb.copy()
    out[~crop_mask] = pad_value
    return out


def load_error(what: str, where: str | None, exc: Exception) -> RiverError:
    return RiverError(f"cannot load {what} from {where!r}: {exc.__class__.__name__}: {exc}")
