"""Attribute descriptions from any vision model litellm can reach (image sent as a base64 data URL)."""

from __future__ import annotations

import base64
from typing import Any

import cv2
import numpy as np

from river_agent.errors import RiverError
from river_agent.tools.perception.foundation.common import masked_crop
from river_agent.tools.perception.foundation.qwen_describer import PROMPT


def data_url(rgb: np.ndarray) -> str:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RiverError("could not encode an object crop as PNG")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


class LitellmDescriber:
    """``litellm.completion`` with the masked crop; extra keyword arguments are passed through."""

    name = "litellm"

    def __init__(self, model: str, api_base: str | None = None, max_tokens: int = 40, **completion_kwargs: Any):
        self.model, self.api_base, self.max_tokens, self.kwargs = model, api_base, max_tokens, completion_kwargs

    def describe(
        self, crop_rgb: np.ndarray, crop_mask: np.ndarray, category: str, attributes: dict[str, str]
    ) -> str:
        import os

        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": PROMPT.format(category=category)},
                    {"type": "image_url", "image_url": {"url": data_url(masked_crop(crop_rgb, crop_mask))}},
                ],
            }
        ]
        try:
            resp = litellm.completion(
                model=self.model,
                messages=messages,
                api_base=self.api_base,
                max_tokens=self.max_tokens,
                **self.kwargs,
            )
        except Exception as exc:
            raise RiverError(f"describer {self.model!r} failed: {exc.__class__.__name__}: {exc}") from exc
        return (resp.choices[0].message.content or "").strip()
