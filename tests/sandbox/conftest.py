"""A small twin (a red car overtaking a blue truck; a person appearing later) and one shared sandbox."""

from __future__ import annotations

import pytest

from river_agent.tools.sandbox import Sandbox, SandboxLimits
from river_agent.twin import Frame, Instance, Spatial, Twin, VideoMeta

NUM_FRAMES = 6


def _inst(oid: int, category: str, attrs: dict[str, str], t: int, x: float, y: float, depth: float) -> Instance:
    return Instance(
        id=oid,
        category=category,
        attributes=attrs,
        mask=f"masks/{t:05d}.png#{oid}",
        spatial=Spatial(
            x=x, y=y, depth=depth, size=400, bbox=[int(x) - 10, int(y) - 10, int(x) + 10, int(y) + 10]
        ),
    )


def make_twin() -> Twin:
    frames = []
    for t in range(NUM_FRAMES):
        insts = [
            _inst(1, "car", {"color": "red"}, t, 10.0 + 20.0 * t, 100.0, 0.3),  # fast, starts behind the truck
            _inst(2, "truck", {"color": "blue"}, t, 50.0 + 5.0 * t, 110.0, 0.6),  # slow
        ]
        if t >= 3:
            insts.append(_inst(3, "person", {"color": "green"}, t, 150.0, 40.0, 0.8))  # appears at t=3, still
        frames.append(Frame(t=t, mask=f"masks/{t:05d}.png", instances=insts))
    video = VideoMeta(path="video.mp4", fps=24.0, width=200, height=160, num_frames=NUM_FRAMES)
    return Twin(video=video, frames=frames)


@pytest.fixture(scope="session")
def small_twin() -> Twin:
    return make_twin()


@pytest.fixture(scope="session")
def sandbox(small_twin: Twin):
    limits = SandboxLimits(cpu_seconds=1.0, wall_seconds=3.0, memory_mb=256, max_output_chars=2000)
    with Sandbox(small_twin, limits) as sb:
        yield sb
