"""The embedded describer: a sentence built from the measured attributes (no model)."""

from __future__ import annotations

import numpy as np


class TemplateDescriber:
    """'a large red striped car', from the classical attributes and category."""

    name = "template"

    def describe(
        self, crop_rgb: np.ndarray, crop_mask: np.ndarray, category: str, attributes: dict[str, str]
    ) -> str:
        words = [attributes.get("size"), attributes.get("color")]
        pattern = attributes.get("pattern")
        if pattern and pattern != "plain":
            words.append(pattern)
        words.append(category)
        return "a " + " ".join(w for w in words if w)
