"""Twin-guided rendering (issue #6): turn (video, D, D') or (video, target masks, edit) into the edited video.

``get_renderer("classical")`` is the embedded CPU default; ``get_renderer("wan-vace", model=...)`` repaints the
changed regions with Wan2.1-VACE (diffusers ``WanVACEPipeline``).
"""

from __future__ import annotations

from river_agent.tools.render.base import (
    MaskInput,
    Renderer,
    RenderError,
    RenderResult,
    RenderUnsupportedError,
)
from river_agent.tools.render.conditioning import (
    Conditioning,
    ObjectEdit,
    conditioning_from_masks,
    conditioning_from_twins,
)

RENDERERS = ("classical", "wan-vace")

__all__ = [
    "RENDERERS",
    "Conditioning",
    "MaskInput",
    "ObjectEdit",
    "RenderError",
    "RenderResult",
    "RenderUnsupportedError",
    "Renderer",
    "conditioning_from_masks",
    "conditioning_from_twins",
    "get_renderer",
]


def get_renderer(name: str, **config: object) -> Renderer:
    """A renderer by name ("classical" or "wan-vace"); ``config`` sets fields of its config dataclass."""
    key = name.strip().lower().replace("_", "-")
    if key == "classical":
        from river_agent.tools.render.classical import ClassicalRenderer

        return ClassicalRenderer(**config)
    if key in ("wan-vace", "wan", "vace"):
        from river_agent.tools.render.wan_vace import WanVaceRenderer

        return WanVaceRenderer(**config)
    raise RenderError(f"unknown renderer {name!r}; choose one of: {', '.join(RENDERERS)}")
