"""Attribute descriptions from Qwen2.5-VL (transformers), one per object from its best view."""

from __future__ import annotations

import numpy as np

from river_agent.tools.perception.foundation.common import load_error, masked_crop, torch_dtype

PROMPT = (
    "Describe this {category} in one short phrase: its colour, pattern, material and any distinctive parts. "
    "Answer with the phrase only."
)


class QwenVLDescriber:
    """Greedy one-phrase description of the masked object crop."""

    name = "qwen2.5-vl"

    def __init__(self, model, processor, device: str = "cpu", max_new_tokens: int = 40) -> None:
        self.model, self.processor, self.device, self.max_new_tokens = (
            model.eval(),
            processor,
            device,
            max_new_tokens,
        )

    @classmethod
    def from_pretrained(
        cls, path: str | None, device: str = "cpu", dtype: str = "float32", max_new_tokens: int = 40
    ) -> QwenVLDescriber:
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        try:
            processor = AutoProcessor.from_pretrained(path)
            model = Qwen2_5_VLForConditionalGeneration.from_pretrained(path, dtype=torch_dtype(dtype)).to(device)
        except Exception as exc:
            raise load_error("Qwen2.5-VL", path, exc) from exc
        return cls(model, processor, device, max_new_tokens)

    def describe(
        self, crop_rgb: np.ndarray, crop_mask: np.ndarray, category: str, attributes: dict[str, str]
    ) -> str:
        import torch
        from PIL import Image

        image = Image.fromarray(masked_crop(crop_rgb, crop_mask))
        messages = [
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "text", "text": PROMPT.format(category=category)}],
            }
        ]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(text=[text], images=[image], return_tensors="pt").to(self.device)
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new = out[0, inputs["input_ids"].shape[1] :]
        return self.processor.decode(new, skip_special_tokens=True).strip()
