"""What every renderer shares: the result record, the renderer protocol, and the renderer errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from river_agent.errors import RiverError
from river_agent.twin.schema import Twin


class RenderError(RiverError):
    """A render cannot be done with the given inputs (bad masks, sizes that do not match, ...)."""


class RenderUnsupportedError(RenderError):
    """The chosen renderer cannot render this edit honestly; the message names one that can."""


class RenderResult(BaseModel):
    """What a render produced: the edited video and the files people look at."""

    model_config = ConfigDict(frozen=True)

    output: Path = Field(description="The edited video (same size, frame count and fps as the input).")
    comparison: Path | None = Field(default=None, description="Side-by-side video: source | output.")
    overlay: Path | None = Field(default=None, description="Output with the changed regions tinted and outlined.")
    num_frames: int = Field(description="Frames written.")
    seconds: float = Field(description="Wall-clock seconds the render took.")
    renderer: str = Field(default="", description="Name of the renderer that produced it.")
    prompt: str = Field(default="", description="Text conditioning built from the edit (diffusion renderers).")

    @property
    def fps(self) -> float:
        return self.num_frames / self.seconds if self.seconds > 0 else float("inf")


MaskInput = Sequence[np.ndarray] | np.ndarray | str | Path


@runtime_checkable
class Renderer(Protocol):
    """Turns a source video and an edit into an edited video."""

    name: str

    def render_twin(self, video: str | Path, before: Twin, after: Twin, out: str | Path) -> RenderResult:
        """Render the change from twin D (``before``) to D' (``after``)."""
        ...

    def render_masks(
        self, video: str | Path, masks: MaskInput, edit: dict, out: str | Path, scene: Twin | None = None
    ) -> RenderResult:
        """Apply one case-format ``edit`` to the region given by per-frame target ``masks`` (``scene``: the
        source's twin D, whose other objects' masks tell what is not background)."""
        ...
