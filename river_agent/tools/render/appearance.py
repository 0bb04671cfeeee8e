"""Appearance edits on an object's pixels that keep its shading and texture: recolour and simple restyles."""

from __future__ import annotations

import numpy as np

from river_agent.tools.render.background import dilate
from river_agent.tools.render.palette import PALETTE

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


def _contrast(mean: np.ndarray) -> np.ndarray:
    lum = 0.299 * mean[0] + 0.587 * mean[1] + 0.114 * mean[2]
    return np.array([30.0, 30.0, 30.0] if lum > 110 else [235.0, 235.0, 235.0], np.float32)


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


def restyle(
    out: np.ndarray, source: np.ndarray, mask: np.ndarray, style: str, anchor: tuple[float, float]
) -> None:
    """Restyle the object's pixels in ``out`` (HxWx3 uint8, edited in place); patterns are anchored at the
    object's centroid ``anchor`` so they move with it."""
    kind = style_kind(style)
    ys, xs = np.nonzero(mask)
    if ys.size == 0 or kind is None:
        return
    px = source[ys, xs].astype(np.float32)
    mean = px.mean(axis=0)
    s = shading(px, mean)[:, None]
    other = _style_colour(style)
    other = _contrast(mean) if other is None else other
    period = max(6.0, np.sqrt(ys.size) / 3.0)
    u, v = xs - anchor[0], ys - anchor[1]
    if kind == "striped":
        sel = np.floor((u + v) / period) % 2 == 1
    elif kind == "dotted":
        cu = (np.mod(u, period) - period / 2) ** 2 + (np.mod(v, period) - period / 2) ** 2
        sel = cu < (period * 0.3) ** 2
    elif kind == "checkered":
        sel = (np.floor(u / period) + np.floor(v / period)) % 2 == 1
    elif kind == "grayscale":
        lum = px @ np.array([0.299, 0.587, 0.114], np.float32)
        out[ys, xs] = np.clip(np.rint(lum), 0, 255).astype(np.uint8)[:, None]
        return
    elif kind == "inverted":
        out[ys, xs] = (255 - source[ys, xs]).astype(np.uint8)
        return
    else:  # glowing: brighter object + a soft halo of its colour around it
        glow = np.clip(px * 0.6 + 110.0, 0, 255)
        out[ys, xs] = np.rint(glow).astype(np.uint8)
        radius = max(3, int(np.sqrt(ys.size) / 6))
        ring = dilate(mask, radius) & ~mask
        ry, rx = np.nonzero(ring)
        if ry.size:
            import cv2

            dist = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)[ry, rx]
            a = np.clip(1.0 - dist / (radius + 1), 0, 1)[:, None] * 0.7
            colour = np.clip(mean * 0.6 + 110.0, 0, 255)
            base = out[ry, rx].astype(np.float32)
            out[ry, rx] = np.rint(base * (1 - a) + colour * a).astype(np.uint8)
        return
    colours = np.where(sel[:, None], other[None, :], mean[None, :])
    out[ys, xs] = np.clip(np.rint(colours * s), 0, 255).astype(np.uint8)
