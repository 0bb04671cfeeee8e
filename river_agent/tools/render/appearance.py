"""Appearance edits on an object's pixels that keep its shading and texture: recolour and simple restyles."""

from __future__ import annotations

import cv2
import numpy as np

from river_agent.tools.render.background import dilate
from river_agent.tools.render.palette import PALETTE

PATTERN_STD = 0.06  # shading that departs this much from its blur carries a pattern
DARK_CHANNEL = 12.0  # channels with a mean below this carry no shading; use the object's overall shading


def shading(pixels: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Per-pixel scalar shading s with pixel ~= s * mean (least squares over channels). pixels: Nx3 float."""
    denom = float(mean @ mean)
    if denom < 1e-6:
        return np.ones(len(pixels), np.float32)
    return (pixels @ mean / denom).astype(np.float32)


def recolor_pixels(pixels: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    """Per channel out = pixel * new / mean(object pixels), clipped; dark channels use the scalar shading.

    pixels: Nx3 uint8 of one object in one frame. Returns Nx3 uint8.
    """
    px = pixels.astype(np.float32)
    mean = px.mean(axis=0)
    new = np.asarray(rgb, np.float32)
    ratio = np.empty_like(px)
    s = None
    for c in range(3):
        if mean[c] >= DARK_CHANNEL:
            ratio[:, c] = px[:, c] / mean[c]
        else:
            s = shading(px, mean) if s is None else s
            ratio[:, c] = s
    return np.clip(np.rint(ratio * new), 0, 255).astype(np.uint8)


def _style_colour(style: str) -> np.ndarray | None:
    words = style.lower().replace("-", " ").split()
    for i in range(len(words) - 1):
        pair = f"{words[i]} {words[i + 1]}"
        if pair in PALETTE:
            return np.asarray(PALETTE[pair], np.float32)
    for w in words:
        if w in PALETTE:
            return np.asarray(PALETTE[w], np.float32)
    return None


PATTERNS = {
    "plain": ("plain", "solid", "uniform", "no pattern", "unpatterned"),
    "striped": ("striped", "stripes", "stripy", "striped pattern"),
    "dotted": ("dotted", "dots", "polka", "polka dot", "polka dots", "spotted", "spots"),
    "checkered": ("checkered", "checked", "checkerboard", "plaid"),
    "glowing": ("glowing", "glow", "luminous", "neon", "shining", "bright"),
    "grayscale": ("grayscale", "greyscale", "monochrome", "black and white", "colorless", "colourless"),
    "inverted": ("inverted", "negative"),
}


def style_kind(style: str) -> str | None:
    """The pattern a free-text style asks for ('red stripes' -> 'striped'), or None when not renderable here."""
    text = " " + " ".join(style.lower().replace("-", " ").split()) + " "
    for kind, words in PATTERNS.items():
        if any(f" {w} " in text for w in words):
            return kind
    return None


def pattern_field(kind: str, w: int, h: int) -> np.ndarray:
    """The project's pattern convention (bench/scene.py) in an object's box: a multiplicative field, h x w."""
    period = max(6.0, min(w, h) / 4.0)
    px = np.arange(w, dtype=np.float32)[None, :]
    py = np.arange(h, dtype=np.float32)[:, None]
    if kind == "striped":
        return np.where(np.sin(2 * np.pi * (px + py) / period) > 0, 1.3, 0.65).astype(np.float32)
    if kind == "dotted":
        dx, dy = (px % period) - period / 2, (py % period) - period / 2
        return np.where(dx * dx + dy * dy < (period * 0.28) ** 2, 0.45, 1.12).astype(np.float32)
    if kind == "checkered":
        return np.where((np.floor(px / period) + np.floor(py / period)) % 2 == 1, 1.3, 0.65).astype(np.float32)
    return np.ones((h, w), np.float32)


def smooth_shading(px: np.ndarray, ys: np.ndarray, xs: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The object's lighting without its pattern: the scalar shading, blurred inside the mask when it carries a
    high-frequency pattern (normalised convolution, so the background does not leak in)."""
    mean = px.mean(axis=0)
    s = shading(px, mean)
    x0, y0, w, h = box
    grid = np.zeros((h, w), np.float32)
    weight = np.zeros((h, w), np.float32)
    grid[ys - y0, xs - x0] = s
    weight[ys - y0, xs - x0] = 1.0
    sigma = max(2.0, min(w, h) / 8.0)
    blurred = cv2.GaussianBlur(grid, (0, 0), sigma) / np.maximum(cv2.GaussianBlur(weight, (0, 0), sigma), 1e-6)
    smooth = blurred[ys - y0, xs - x0]
    if np.std(s - smooth) < PATTERN_STD:  # plain already: keep its exact shading
        return s
    return smooth


def restyle(
    out: np.ndarray,
    source: np.ndarray,
    mask: np.ndarray,
    style: str,
    anchor: tuple[float, float],
    box: tuple[int, int, int, int] | None = None,
) -> None:
    """Restyle the object's pixels in ``out`` (HxWx3 uint8, edited in place).

    Patterns (plain, striped, dotted, checkered) follow the project's rendering convention: pixel = base colour
    x lighting x pattern, pattern fields laid out in the object's box (its mask's bounding box here), mean 1
    over the object; the old pattern is blurred out of the lighting first. ``box`` (x0, y0, w, h): the whole
    object's box where it differs from the mask's (the frame edge cuts the object). ``anchor`` (the centroid)
    anchors nothing else; glowing, grayscale and inverted work on the pixels directly.
    """
    kind = style_kind(style)
    ys, xs = np.nonzero(mask)
    if ys.size == 0 or kind is None:
        return
    px = source[ys, xs].astype(np.float32)
    mean = px.mean(axis=0)
    if kind in ("plain", "striped", "dotted", "checkered"):
        if box is None or not (
            box[0] <= xs.min() and box[1] <= ys.min() and xs.max() < box[0] + box[2] and ys.max() < box[1] + box[3]
        ):
            x0, y0 = int(xs.min()), int(ys.min())
            box = (x0, y0, int(xs.max()) + 1 - x0, int(ys.max()) + 1 - y0)
        x0, y0 = box[0], box[1]
        light = smooth_shading(px, ys, xs, box)
        pattern = pattern_field(kind, box[2], box[3])[ys - y0, xs - x0]
        field = light * pattern
        field /= max(float(field.mean()), 1e-6)
        base = mean / max(float(light.mean()), 1e-6)
        colour = _style_colour(style)
        if colour is not None:
            base = colour
        out[ys, xs] = np.clip(np.rint(field[:, None] * base[None, :]), 0, 255).astype(np.uint8)
        return
    if kind == "grayscale":
        lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
        out[ys, xs] = np.clip(np.rint(lum), 0, 255).astype(np.uint8)[:, None]
        return
    if kind == "inverted":
        out[ys, xs] = (255 - source[ys, xs]).astype(np.uint8)
        return
    # glowing: brighter object + a soft halo of its colour around it
    glow = np.clip(px * 0.6 + 110.0, 0, 255)
    out[ys, xs] = np.rint(glow).astype(np.uint8)
    radius = max(3, int(np.sqrt(ys.size) / 6))
    ring = dilate(mask, radius) & ~mask
    ry, rx = np.nonzero(ring)
    if ry.size:
        dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)[ry, rx]
        a = np.clip(1.0 - dist / (radius + 1), 0, 1)[:, None] * 0.7
        colour = np.clip(mean * 0.6 + 110.0, 0, 255)
        base = out[ry, rx].astype(np.float32)
        out[ry, rx] = np.rint(base * (1 - a) + colour * a).astype(np.uint8)
