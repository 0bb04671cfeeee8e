"""The RVE-Synth scene model and its rasteriser.

A scene is a textured background (or a real clip, :mod:`river_agent.bench.backdrop`) plus objects, each with a
kind, attributes (colour, size class, pattern), a constant depth and a per-frame track (centre position, facing,
visibility). Objects are painted far to near (painter's order by depth).

Rendering convention (the renderers and the perception helper rely on it): an object's pixels are
``clip(base_rgb * shading(x, y), 0, 255)`` where ``shading`` is a smooth per-object lighting field times its
pattern (plain / striped / dotted), in the object's own coordinates, with mean 1 over the silhouette. Edits
are applied to the scene model and rendered the same way: recolor = same shading with a new ``base_rgb``;
remove = the scene without the object; move / resize = the object drawn at its new place / scale with the same
depth order; restyle = a new pattern; replace = a new kind with the same colour and pattern.

Over a real clip (``Scene.backdrop``) the tracks are screen positions (the scene positions seen through the
backdrop's camera, ``with_backdrop``), boxes scale with the camera's per-frame ``zoom``, and object pixels get a
mild brightness change over time and sensor noise: ``clip(base_rgb * shading(x, y) * gain(t) + noise)`` with
``gain(t) = 1 + a sin(2 pi t / period + phase)`` (``SceneObject.flicker``) and Gaussian noise of ``Scene.noise``
drawn per (``noise_seed``, frame, object) over the object's box, so a recoloured object keeps its noise.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import cv2
import numpy as np
from pydantic import BaseModel, Field

from river_agent.bench.backdrop import Backdrop, backdrop_frame
from river_agent.bench.shapes import KINDS, shape_size, silhouette

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (205, 35, 35),
    "orange": (235, 125, 25),
    "yellow": (225, 205, 40),
    "green": (40, 160, 55),
    "blue": (35, 75, 210),
    "purple": (130, 50, 170),
    "pink": (235, 120, 175),
    "white": (215, 215, 215),
    "black": (40, 40, 45),
    "brown": (120, 75, 40),
}
PATTERNS = ("plain", "striped", "dotted")
SIZE_CLASSES: dict[str, float] = {"small": 0.78, "medium": 1.0, "large": 1.28}
HORIZON = 0.36  # fraction of the frame height where the ground starts


class SceneObject(BaseModel):
    """One object: identity, appearance and its track (one entry per frame)."""

    id: int = Field(ge=1)
    kind: str
    color: str
    rgb: tuple[int, int, int]
    size: str = Field(description="size class: small / medium / large")
    pattern: str = "plain"
    depth: float = Field(description="distance from the camera, (0, 1]; painter's order uses it")
    height_px: float = Field(description="silhouette height in pixels")
    motion: str = "static"
    xs: list[float] = Field(description="per-frame centre x of the silhouette box, pixels")
    ys: list[float] = Field(description="per-frame centre y of the silhouette box, pixels")
    facing: list[int] = Field(description="per-frame 1 = facing right, -1 = left")
    light: tuple[float, float, float] = Field(default=(0.0, 0.0, 0.0), description="lighting gradient + phase")
    scale: float = Field(default=1.0, description="size multiplier applied by resize edits")
    zoom: list[float] | None = Field(default=None, description="per-frame size factor of the camera (real clips)")
    flicker: tuple[float, float, float] | None = Field(
        default=None, description="brightness change over time: (amplitude, period in frames, phase)"
    )


class Scene(BaseModel):
    """A whole synthetic clip."""

    width: int
    height: int
    num_frames: int
    fps: float = 24.0
    background_seed: int = 0
    objects: list[SceneObject] = Field(default_factory=list)
    backdrop: Backdrop | None = Field(
        default=None, description="a real clip behind the objects, else the flat one"
    )
    noise: float | None = Field(default=None, description="sensor noise (std, 0-255 levels) on object pixels")
    noise_seed: int | None = Field(default=None, description="seed of that noise")

    def obj(self, obj_id: int) -> SceneObject:
        for o in self.objects:
            if o.id == obj_id:
                return o
        raise KeyError(obj_id)


# ----------------------------------------------------------------------------------------------------------
# appearance


@lru_cache(maxsize=8)
def background(width: int, height: int, seed: int) -> np.ndarray:
    """A textured background: sky gradient above the horizon, a noisy ground with stripes below (read-only)."""
    rng = np.random.default_rng(seed)
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    horizon = HORIZON
    sky_top = np.array([120, 165, 215], np.float32) + rng.uniform(-15, 15, 3)
    sky_bot = np.array([185, 205, 225], np.float32) + rng.uniform(-10, 10, 3)
    ground_near = np.array([105, 120, 80], np.float32) + rng.uniform(-15, 15, 3)
    ground_far = np.array([140, 150, 110], np.float32) + rng.uniform(-10, 10, 3)
    img = np.empty((height, width, 3), np.float32)
    s = np.clip(yy / horizon, 0, 1)[..., None]
    g = np.clip((yy - horizon) / (1 - horizon), 0, 1)[..., None]
    sky = sky_top * (1 - s) + sky_bot * s
    ground = ground_far * (1 - g) + ground_near * g
    img[:] = np.where((yy < horizon)[..., None], sky, ground)
    noise = rng.normal(0, 1, (height // 8 + 2, width // 8 + 2)).astype(np.float32)
    noise = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, 1, (height, width)).astype(np.float32)
    fine = cv2.GaussianBlur(fine, (0, 0), 1.2)
    tex = 6.0 * noise + 5.0 * fine
    img += (tex * np.where(yy < horizon, 0.5, 1.0))[..., None]
    # a road band with dashes makes the ground recognisable and textured
    y0, y1 = int(height * 0.70), int(height * 0.80)
    img[y0:y1] = img[y0:y1] * 0.55 + np.array([70, 70, 75], np.float32) * 0.45
    ym = (y0 + y1) // 2
    dash = max(2, height // 160)
    for x in range(0, width, max(8, width // 14)):
        img[ym - dash : ym + dash, x : x + max(4, width // 28)] = (200, 200, 190)
    out = np.clip(img, 0, 255).astype(np.uint8)
    out.setflags(write=False)
    return out


@lru_cache(maxsize=512)
def shading_field(
    kind: str, width: int, height: int, facing: int, pattern: str, light: tuple[float, float, float]
) -> np.ndarray:
    """The object's lighting x pattern field, float32 ``height x width``, mean 1 over its silhouette."""
    mask = silhouette(kind, width, height, facing)
    u = (np.arange(width, dtype=np.float32) + 0.5)[None, :] / width
    v = (np.arange(height, dtype=np.float32) + 0.5)[:, None] / height
    gx, gy, phase = light
    field = 1.0 + 0.22 * (0.5 - v) + gx * (u - 0.5) * facing + gy * np.sin(6.0 * u + 4.0 * v + phase) * 0.5
    if pattern == "striped":
        period = max(6.0, min(width, height) / 4.0)
        px = np.arange(width, dtype=np.float32)[None, :]
        py = np.arange(height, dtype=np.float32)[:, None]
        stripes = np.sin(2 * np.pi * (px + py) / period)
        field = field * np.where(stripes > 0, 1.3, 0.65)
    elif pattern == "dotted":
        period = max(6.0, min(width, height) / 4.0)
        px = np.arange(width, dtype=np.float32)[None, :]
        py = np.arange(height, dtype=np.float32)[:, None]
        dx = (px % period) - period / 2
        dy = (py % period) - period / 2
        dots = (dx * dx + dy * dy) < (period * 0.28) ** 2
        field = field * np.where(dots, 0.45, 1.12)
    m = float(field[mask].mean()) if mask.any() else 1.0
    field = (field / m).astype(np.float32)
    field.setflags(write=False)
    return field


def object_pixels(
    kind: str,
    width: int,
    height: int,
    facing: int,
    pattern: str,
    light: tuple[float, float, float],
    rgb: tuple[int, int, int],
) -> np.ndarray:
    """``clip(base_rgb * shading)`` as uint8 ``height x width x 3``."""
    field = shading_field(kind, width, height, facing, pattern, light)
    return np.clip(field[..., None] * np.asarray(rgb, np.float32) + 0.5, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------------------
# rasterisation


def object_box(o: SceneObject, t: int) -> tuple[int, int, int, int]:
    """(x0, y0, w, h) of object ``o``'s silhouette box in frame ``t`` (may lie partly outside the frame)."""
    w, h = shape_size(o.kind, o.height_px * o.scale * (o.zoom[t] if o.zoom else 1.0))
    x0 = round(o.xs[t] - w / 2)
    y0 = round(o.ys[t] - h / 2)
    return x0, y0, w, h


def _finished_pixels(scene: Scene, o: SceneObject, t: int, w: int, h: int, facing: int) -> np.ndarray:
    """Object pixels with the real-background finish: brightness change over time and sensor noise."""
    field = shading_field(o.kind, w, h, facing, o.pattern, tuple(o.light))
    gain = 1.0
    if o.flicker:
        amp, period, phase = o.flicker
        gain = 1.0 + amp * float(np.sin(2 * np.pi * t / max(period, 1e-6) + phase))
    pix = field[..., None] * (np.asarray(o.rgb, np.float32) * np.float32(gain))
    if scene.noise:
        rng = np.random.default_rng([scene.noise_seed or 0, t, o.id])
        pix = pix + rng.standard_normal((h, w, 3), dtype=np.float32) * np.float32(scene.noise)
    return np.clip(pix + 0.5, 0, 255).astype(np.uint8)


def _paste(
    frame: np.ndarray,
    labels: np.ndarray,
    o: SceneObject,
    t: int,
    draw_pixels: bool = True,
    scene: Scene | None = None,
) -> None:
    x0, y0, w, h = object_box(o, t)
    H, W = labels.shape
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    facing = 1 if o.facing[t] >= 0 else -1
    mask = silhouette(o.kind, w, h, facing)[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    labels[fy0:fy1, fx0:fx1][mask] = o.id
    if draw_pixels:
        if scene is not None and (scene.noise or o.flicker):
            pix = _finished_pixels(scene, o, t, w, h, facing)
        else:
            pix = object_pixels(o.kind, w, h, facing, o.pattern, tuple(o.light), tuple(o.rgb))
        frame[fy0:fy1, fx0:fx1][mask] = pix[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0][mask]


def scene_background(scene: Scene, t: int) -> np.ndarray:
    """What lies behind the objects in frame ``t``: the real clip seen by the camera, else the flat background."""
    if scene.backdrop is not None:
        return backdrop_frame(scene.backdrop, t, scene.width, scene.height)
    return background(scene.width, scene.height, scene.background_seed)


def render_frame(scene: Scene, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t`` as (RGB uint8 HxWx3, label map uint16 HxW with the id of the visible object per pixel)."""
    frame = scene_background(scene, t).copy()
    labels = np.zeros((scene.height, scene.width), np.uint16)
    for o in sorted(scene.objects, key=lambda o: (-o.depth, o.id)):
        _paste(frame, labels, o, t, scene=scene)
    return frame, labels


def label_map_of(scene: Scene, t: int) -> np.ndarray:
    """Frame ``t``'s label map alone (no pixels drawn; the same as ``render_frame(scene, t)[1]``)."""
    labels = np.zeros((scene.height, scene.width), np.uint16)
    empty = np.empty((0, 0, 3), np.uint8)
    for o in sorted(scene.objects, key=lambda o: (-o.depth, o.id)):
        _paste(empty, labels, o, t, draw_pixels=False)
    return labels


def render(scene: Scene) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (t, frame, label map) for every frame."""
    for t in range(scene.num_frames):
        frame, labels = render_frame(scene, t)
        yield t, frame, labels


def full_mask(scene: Scene, obj_id: int, t: int) -> np.ndarray:
    """The object's whole silhouette in frame ``t`` (ignoring occlusion), clipped to the frame."""
    labels = np.zeros((scene.height, scene.width), np.uint16)
    _paste(np.empty((0, 0, 3), np.uint8), labels, scene.obj(obj_id), t, draw_pixels=False)
    return labels == obj_id


def with_backdrop(scene: Scene, backdrop: Backdrop, noise: float = 0.0, noise_seed: int = 0) -> Scene:
    """``scene`` (positions in scene coordinates) seen through ``backdrop``'s camera, over its clip.

    Tracks become screen positions and boxes scale with the camera's zoom, exactly as the clip is warped, so an
    object keeps its place on the background; ``noise`` is the sensor noise of the object pixels.
    """
    out = scene.model_copy(deep=True)
    cam = backdrop.camera
    if len(cam.cx) != scene.num_frames or len(backdrop.clip_frames) != scene.num_frames:
        raise ValueError("the backdrop's camera path and clip frames must have one entry per frame")
    zoomed = any(z != 1.0 for z in cam.zoom)
    for o in out.objects:
        pts = [
            cam.to_screen(t, x, y, scene.width, scene.height)
            for t, (x, y) in enumerate(zip(o.xs, o.ys, strict=True))
        ]
        o.xs = [round(p[0], 3) for p in pts]
        o.ys = [round(p[1], 3) for p in pts]
        o.zoom = list(cam.zoom) if zoomed else None
    out.backdrop = backdrop
    out.noise = float(noise) if noise else None
    out.noise_seed = int(noise_seed) if noise else None
    return out


# ----------------------------------------------------------------------------------------------------------
# edits on the scene model (the generator's ground truth for expected.mp4)


def _centroid_offset(kind: str, height_px: float) -> tuple[float, float]:
    """Silhouette centroid minus box centre (facing right), pixels."""
    w, h = shape_size(kind, height_px)
    ys_, xs_ = np.nonzero(silhouette(kind, w, h, 1))
    off_x = float(xs_.mean() + 0.5 - w / 2) if xs_.size else 0.0
    off_y = float(ys_.mean() + 0.5 - h / 2) if ys_.size else 0.0
    return off_x, off_y


def apply_edit(
    scene: Scene, target_ids: list[int], edit: dict, active: dict[int, list[bool]] | None = None
) -> Scene:
    """A new scene with ``edit`` (the case's ``edit`` dict) applied to ``target_ids``.

    ``active[id][t]`` says where a move applies (the frames where the object is visible, as the case format
    says); without it a move applies on every frame.
    """
    out = scene.model_copy(deep=True)
    op = edit["op"]
    ids = set(target_ids)
    if op == "remove":
        out.objects = [o for o in out.objects if o.id not in ids]
        return out
    for o in out.objects:
        if o.id not in ids:
            continue
        if op == "recolor":
            o.rgb = tuple(int(c) for c in edit["rgb"])
            o.color = edit.get("color", o.color)
        elif op == "move":
            # whole pixels, as a renderer shifting the object's pixels would
            dx, dy = (
                round(float(edit.get("dx", 0.0)) * scene.width),
                round(float(edit.get("dy", 0.0)) * scene.height),
            )
            on = active.get(o.id) if active else None
            o.xs = [x + dx if on is None or on[t] else x for t, x in enumerate(o.xs)]
            o.ys = [y + dy if on is None or on[t] else y for t, y in enumerate(o.ys)]
        elif op == "resize":
            # scale about the silhouette's centroid, so the object stays in place
            s = float(edit["scale"])
            zooms = o.zoom or [1.0] * len(o.xs)
            offs = [_centroid_offset(o.kind, o.height_px * o.scale * z) for z in zooms]
            o.xs = [
                x + (off[0] if f >= 0 else -off[0]) * (1 - s)
                for x, f, off in zip(o.xs, o.facing, offs, strict=True)
            ]
            o.ys = [y + off[1] * (1 - s) for y, off in zip(o.ys, offs, strict=True)]
            o.scale = o.scale * s
        elif op == "restyle":
            o.pattern = str(edit["style"])
        elif op == "replace":
            o.kind = str(edit["category"])
        else:
            raise ValueError(f"unknown edit op {op!r}")
    return out


__all__ = [
    "KINDS",
    "PALETTE",
    "PATTERNS",
    "SIZE_CLASSES",
    "Scene",
    "SceneObject",
    "apply_edit",
    "background",
    "full_mask",
    "label_map_of",
    "object_box",
    "render",
    "render_frame",
    "scene_background",
    "shading_field",
    "with_backdrop",
]
