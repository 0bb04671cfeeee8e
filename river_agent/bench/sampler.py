"""Random RVE-Synth scenes: objects of several kinds with attributes, depths and motions.

Motions: static, linear, accelerating, stopping, turning (a U-turn), bouncing; objects may enter, leave, and
leave-then-reappear (a U-turn beyond the frame edge). Everything is drawn from one ``numpy`` Generator, so a
seed fixes the scene.
"""

from __future__ import annotations

import math

import numpy as np

from river_agent.bench.scene import HORIZON, PALETTE, PATTERNS, SIZE_CLASSES, Scene, SceneObject
from river_agent.bench.shapes import KINDS, shape_size

MOTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    "car": ("linear", "linear", "accelerating", "stopping", "turning", "static"),
    "truck": ("linear", "accelerating", "stopping", "static", "linear"),
    "person": ("linear", "stopping", "turning", "static", "bouncing"),
    "dog": ("linear", "turning", "bouncing", "stopping", "static"),
    "ball": ("bouncing", "bouncing", "linear", "static", "stopping"),
    "tree": ("static",),
    "box": ("static", "static", "stopping"),
}
KIND_WEIGHTS: dict[str, float] = {
    "car": 1.6,
    "truck": 1.0,
    "person": 1.2,
    "dog": 1.0,
    "ball": 1.0,
    "tree": 0.7,
    "box": 0.8,
}


def _choice(rng: np.random.Generator, seq: list | tuple, p: list[float] | None = None):
    return seq[int(rng.choice(len(seq), p=p))]


def _baseline_y(depth: float, height: int) -> float:
    """Screen y of the ground contact point at a given depth (far = higher up)."""
    return height * (HORIZON + (1 - HORIZON) * (1.0 - 0.82 * depth) + 0.01)


def _perspective(depth: float) -> float:
    return 1.3 - 0.8 * depth


def sample_object(
    rng: np.random.Generator,
    obj_id: int,
    width: int,
    height: int,
    num_frames: int,
    kind: str | None = None,
    motion: str | None = None,
    depth: float | None = None,
) -> SceneObject:
    """One random object with its whole track."""
    kinds = list(KINDS)
    if kind is None:
        w = np.array([KIND_WEIGHTS[k] for k in kinds])
        kind = _choice(rng, kinds, list(w / w.sum()))
    color = _choice(rng, list(PALETTE))
    size = _choice(rng, list(SIZE_CLASSES), [0.3, 0.4, 0.3])
    pattern = _choice(rng, list(PATTERNS), [0.5, 0.25, 0.25])
    if depth is None:
        depth = float(rng.uniform(0.1, 1.0))
    height_px = KINDS[kind].height * height * SIZE_CLASSES[size] * _perspective(depth)
    bw, bh = shape_size(kind, height_px)
    motion = motion or _choice(rng, MOTIONS_BY_KIND[kind])
    T = num_frames
    t = np.arange(T, dtype=np.float64)
    base_y = _baseline_y(depth, height) - bh / 2
    direction = 1 if rng.random() < 0.5 else -1
    travel = float(rng.uniform(0.35, 0.75)) * width  # path length over the clip
    v = travel / max(1, T - 1)
    ys = np.full(T, base_y)
    entering = motion in ("linear", "accelerating", "stopping") and rng.random() < 0.35
    if motion == "static":
        x0 = float(rng.uniform(0.1, 0.9)) * width
        xs = np.full(T, x0)
    elif motion == "linear":
        x0 = (
            (-bw / 2 - 2 if direction > 0 else width + bw / 2 + 2)
            if entering
            else float(rng.uniform(0.15, 0.55) if direction > 0 else rng.uniform(0.45, 0.85)) * width
        )
        xs = x0 + direction * v * t
    elif motion == "accelerating":
        x0 = (
            (-bw / 2 - 2 if direction > 0 else width + bw / 2 + 2)
            if entering
            else float(rng.uniform(0.05, 0.35) if direction > 0 else rng.uniform(0.65, 0.95)) * width
        )
        # speed rises from v0 to 4 v0; total = travel
        v0 = travel / (T - 1) / 2.5
        a = 3 * v0 / (T - 1)
        xs = x0 + direction * (v0 * t + 0.5 * a * t * t)
    elif motion == "stopping":
        ts = float(rng.uniform(0.4, 0.6)) * (T - 1)
        vmax = 2 * travel * 0.8 / ts
        x0 = (
            (-bw / 2 - 2 if direction > 0 else width + bw / 2 + 2)
            if entering
            else float(rng.uniform(0.05, 0.3) if direction > 0 else rng.uniform(0.7, 0.95)) * width
        )
        tc = np.minimum(t, ts)
        xs = x0 + direction * (vmax * tc - 0.5 * vmax / ts * tc * tc)
    elif motion == "turning":
        tt = float(rng.uniform(0.35, 0.6)) * (T - 1)
        reappear = rng.random() < 0.5
        if reappear:  # heads out of the frame, turns beyond the edge, comes back
            edge_gap = bw * 0.9
            x_turn = (width + bw / 2 + edge_gap) if direction > 0 else (-bw / 2 - edge_gap)
            v = max(v, (bw + edge_gap) * 2.2 / max(1.0, tt))
            x0 = x_turn - direction * v * tt
        else:
            x0 = float(rng.uniform(0.3, 0.7)) * width - direction * v * tt * 0.5
        xs = np.where(t <= tt, x0 + direction * v * t, x0 + direction * v * tt - direction * v * (t - tt))
    elif motion == "bouncing":
        x0 = float(rng.uniform(0.15, 0.85)) * width
        vx = direction * v * 0.35
        xs = x0 + vx * t
        period = max(4.0, T / float(rng.uniform(2.2, 3.5)))
        amp = float(rng.uniform(0.6, 1.1)) * bh + 0.04 * height
        ys = base_y - amp * np.abs(np.sin(math.pi * t / period))
    else:
        raise ValueError(motion)
    vx = np.gradient(xs) if T > 1 else np.zeros(T)
    facing = np.where(vx > 1e-6, 1, np.where(vx < -1e-6, -1, direction)).astype(int)
    if motion == "turning":
        facing = np.where(t <= tt, direction, -direction).astype(int)
    light = (float(rng.uniform(-0.25, 0.25)), float(rng.uniform(0.0, 0.12)), float(rng.uniform(0, 6.28)))
    return SceneObject(
        id=obj_id,
        kind=kind,
        color=color,
        rgb=PALETTE[color],
        size=size,
        pattern=pattern,
        depth=round(depth, 4),
        height_px=round(height_px, 2),
        motion=motion,
        xs=[round(float(x), 2) for x in xs],
        ys=[round(float(y), 2) for y in ys],
        facing=[int(f) for f in facing],
        light=light,
    )


def sample_scene(
    rng: np.random.Generator,
    width: int = 832,
    height: int = 480,
    num_frames: int = 48,
    min_objects: int = 4,
    max_objects: int = 7,
    fps: float = 24.0,
) -> Scene:
    """A random scene with ``min_objects..max_objects`` objects."""
    n = int(rng.integers(min_objects, max_objects + 1))
    objects = []
    # spread depths so painter's order is strict and occlusions happen
    depths = np.sort(rng.uniform(0.08, 1.0, n))
    perm = rng.permutation(n)
    for i in range(n):
        objects.append(sample_object(rng, i + 1, width, height, num_frames, depth=float(depths[perm[i]])))
    # make sure depths are distinct (ties would make "in front of" undefined)
    seen: set[float] = set()
    for o in objects:
        while o.depth in seen:
            o.depth = round(o.depth + 0.0013, 4)
        seen.add(o.depth)
    return Scene(
        width=width,
        height=height,
        num_frames=num_frames,
        fps=fps,
        background_seed=int(rng.integers(0, 2**31 - 1)),
        objects=objects,
    )
