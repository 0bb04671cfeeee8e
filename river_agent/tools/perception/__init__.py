"""Perception: from a video to its digital twin.

``get_perception("classical")`` (embedded, CPU, no weights) or a :class:`PerceptionConfig` naming one backend per
stage (segmenter: classical | sam2; categoriser: classical | owlv2; depth: classical | depth-anything;
describer: none | template | qwen2.5-vl | litellm); ``perception.run(video, out_dir)`` writes and returns the twin.
"""

from __future__ import annotations

from river_agent.tools.perception.config import PRESETS, PerceptionConfig, resolve_config
from river_agent.tools.perception.pipeline import Perception

__all__ = ["PRESETS", "Perception", "PerceptionConfig", "get_perception", "resolve_config"]


def get_perception(name_or_config: str | PerceptionConfig = "classical", **overrides: object) -> Perception:
    """Build a perception pipeline from a preset name or a config (model backends load their weights here)."""
    from river_agent.tools.perception.registry import build

    return build(resolve_config(name_or_config, **overrides))
