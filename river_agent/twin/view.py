"""The compact, track-level view of a twin that an LLM reads (instead of the per-frame JSON).

One block per object: id, category, attributes, the frames it is visible in, a few keyframes of
x/y/depth/size, and a motion summary. The number of keyframes shrinks until the text fits the caller's token
budget. The same twin always gives the same text.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from river_agent.twin.schema import Instance, Twin

TokenCounter = Callable[[str], int]
_KEYFRAME_STEPS = (8, 5, 3, 2, 1, 0)
STATIC_PX = 4.0


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 3.2 characters per token for this dense text)."""
    return int(len(text) / 3.2) + 1


def frame_runs(frames: list[int]) -> list[tuple[int, int]]:
    """[0,1,2,5,6] -> [(0,2),(5,6)]."""
    runs: list[tuple[int, int]] = []
    for t in frames:
        if runs and t == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], t)
        else:
            runs.append((t, t))
    return runs


def _runs_text(runs: list[tuple[int, int]]) -> str:
    return ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs)


def _direction(dx: float, dy: float) -> str:
    parts = []
    if abs(dx) >= STATIC_PX and abs(dx) >= 0.4 * abs(dy):
        parts.append("right" if dx > 0 else "left")
    if abs(dy) >= STATIC_PX and abs(dy) >= 0.4 * abs(dx):
        parts.append("down" if dy > 0 else "up")
    return "-".join(parts) or "in place"


def motion_summary(track: list[tuple[int, Instance]]) -> str:
    """A few words on how an object moves: static, direction, speed and its trend, stops, turns."""
    if len(track) < 2:
        return "seen once"
    ts = np.array([t for t, _ in track], float)
    xy = np.array([[i.spatial.x, i.spatial.y] for _, i in track])
    steps = np.diff(xy, axis=0) / np.maximum(np.diff(ts), 1)[:, None]
    speeds = np.linalg.norm(steps, axis=1)
    path = float(np.sum(np.linalg.norm(np.diff(xy, axis=0), axis=1)))
    if path < STATIC_PX:
        return "static"
    dx, dy = xy[-1] - xy[0]
    words = [f"moves {_direction(dx, dy)} {abs(dx):.0f}px,{abs(dy):.0f}px", f"{speeds.mean():.1f}px/f"]
    half = len(speeds) // 2
    if half >= 2:
        a, b = speeds[:half].mean(), speeds[half:].mean()
        if b > 1.3 * a + 0.5:
            words.append("speeding up")
        elif a > 1.3 * b + 0.5:
            words.append("slowing down")
    if len(speeds) >= 4 and speeds[-2:].max() < 0.3 and speeds.max() > 1.0:
        words.append("stops")
    moving = speeds > 0.5
    if moving.sum() >= 2:
        sx = np.sign(steps[moving, 0][np.abs(steps[moving, 0]) > 0.3])
        sy = np.sign(steps[moving, 1][np.abs(steps[moving, 1]) > 0.3])
        if (sx.size and np.any(sx != sx[0])) or (sy.size and np.any(sy != sy[0])):
            words.append("changes direction")
    return ", ".join(words)


def _keyframe_indices(n: int, k: int) -> list[int]:
    if k <= 0 or n == 0:
        return []
    if k >= n:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]


def _kf(t: int, inst: Instance) -> str:
    s = inst.spatial
    return f"t{t}:({s.x:.0f},{s.y:.0f}) d{s.depth:.2f} s{s.size}"


def _object_block(twin: Twin, obj_id: int, keyframes: int, with_attrs: bool) -> str:
    track = twin.track(obj_id)
    last = track[-1][1]
    attrs = ""
    if with_attrs and last.attributes:
        attrs = " {" + ",".join(f"{k}={v}" for k, v in sorted(last.attributes.items())) + "}"
    lines = [f"#{obj_id} {last.category}{attrs} frames {_runs_text(frame_runs([t for t, _ in track]))}"]
    idx = _keyframe_indices(len(track), keyframes)
    if idx:
        lines.append("  " + "; ".join(_kf(*track[i]) for i in idx))
    lines.append(f"  motion: {motion_summary(track)}")
    return "\n".join(lines)


def compact_view(twin: Twin, budget_tokens: int | None = None, count_tokens: TokenCounter | None = None) -> str:
    """The track-level text of ``twin``, within ``budget_tokens`` when one is given (fewest keyframes last)."""
    count = count_tokens or approx_tokens
    v = twin.video
    header = (
        f"video {v.width}x{v.height}, {v.num_frames} frames at {v.fps:g} fps. x,y = pixel centroid "
        f"(origin top-left, y down); d = depth 0 near..1 far; s = area px.\nobjects:"
    )
    ids = twin.object_ids()
    text = header
    for with_attrs in (True, False):
        for k in _KEYFRAME_STEPS:
            text = "\n".join([header, *(_object_block(twin, i, k, with_attrs) for i in ids)])
            if budget_tokens is None or count(text) <= budget_tokens:
                return text
    return text
