"""The two entry forms every renderer offers, turned into one ``render(video, conditioning, out, info)`` call."""

from __future__ import annotations

from pathlib import Path

from river_agent.errors import VideoError
from river_agent.tools.render.base import MaskInput, RenderError, RenderResult
from river_agent.tools.render.conditioning import Conditioning, conditioning_from_masks, conditioning_from_twins
from river_agent.twin.schema import Twin
from river_agent.video.io import VideoInfo, probe_video


def probe(video: str | Path) -> VideoInfo:
    """Video metadata, trusting the container's frame count when it has one (saves a decode pass)."""
    try:
        return probe_video(video, count_frames=False)
    except VideoError:  # no count in the header: count by decoding (raises again for a bad file)
        return probe_video(video)


class ConditionedRenderer:
    """Base of the renderers: builds the conditioning from (D, D') or (masks, edit); subclasses render it."""

    name = "renderer"

    def render(
        self, video: str | Path, cond: Conditioning, out: str | Path, info: VideoInfo | None = None
    ) -> RenderResult:
        raise NotImplementedError

    def render_twin(self, video: str | Path, before: Twin, after: Twin, out: str | Path) -> RenderResult:
        """Render the change from D (``before``) to D' (``after``) on ``video``."""
        info = probe(video)
        if (info.width, info.height) != (before.video.width, before.video.height):
            raise RenderError(
                f"{video} is {info.width}x{info.height} but the twin says "
                f"{before.video.width}x{before.video.height}"
            )
        cond = conditioning_from_twins(before, after)
        cond.num_frames = info.num_frames
        return self.render(video, cond, out, info)

    def render_masks(
        self, video: str | Path, masks: MaskInput, edit: dict, out: str | Path, scene: Twin | None = None
    ) -> RenderResult:
        """Apply the case-format ``edit`` to the target ``masks`` (bool arrays or a folder of binary PNGs).

        ``scene`` (optional): the source's twin D; its other objects' masks tell the renderer what is not
        background (what the (D, D') form knows), e.g. an object passing behind a removed one."""
        info = probe(video)
        cond = conditioning_from_masks(masks, edit, info.width, info.height, info.num_frames, scene)
        return self.render(video, cond, out, info)
