"""Colour names: a small palette matched by perceptual distance in CIE Lab (CIEDE2000)."""

from __future__ import annotations

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

# names and colours of the RVE-Synth palette, plus gray and cyan for real footage
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (205, 35, 35),
    "orange": (235, 125, 25),
    "yellow": (225, 205, 40),
    "green": (40, 160, 55),
    "cyan": (40, 190, 200),
    "blue": (35, 75, 210),
    "purple": (130, 50, 170),
    "pink": (235, 120, 175),
    "white": (215, 215, 215),
    "gray": (128, 128, 128),
    "black": (40, 40, 45),
    "brown": (120, 75, 40),
}

_NAMES = list(PALETTE)
_PALETTE_LAB = rgb2lab(np.array([PALETTE[n] for n in _NAMES], np.float64)[None] / 255.0)[0]


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """Nx3 uint8 RGB -> Nx3 float Lab."""
    arr = np.asarray(rgb, np.float64).reshape(-1, 3) / 255.0
    return rgb2lab(arr[None])[0]


def color_name(rgb: np.ndarray | tuple[int, int, int]) -> str:
    """The palette name nearest to one RGB colour (CIEDE2000)."""
    lab = to_lab(np.asarray(rgb))[0]
    d = deltaE_ciede2000(np.repeat(lab[None], len(_NAMES), 0), _PALETTE_LAB)
    return _NAMES[int(np.argmin(d))]


def dominant_color(pixels: np.ndarray, max_pixels: int = 2000) -> tuple[str, tuple[int, int, int]]:
    """Name and RGB of the most common palette colour among Nx3 RGB pixels (votes per pixel, CIEDE2000)."""
    pixels = np.asarray(pixels, np.uint8).reshape(-1, 3)
    if pixels.shape[0] == 0:
        return "gray", (128, 128, 128)
    if pixels.shape[0] > max_pixels:
        idx = np.linspace(0, pixels.shape[0] - 1, max_pixels).astype(int)
        pixels = pixels[idx]
    lab = to_lab(pixels)
    n, k = lab.shape[0], len(_NAMES)
    d = deltaE_ciede2000(np.repeat(lab, k, 0), np.tile(_PALETTE_LAB, (n, 1))).reshape(n, k)
    votes = np.bincount(np.argmin(d, 1), minlength=k)
    best = int(np.argmax(votes))
    chosen = pixels[np.argmin(d, 1) == best]
    mean = tuple(int(v) for v in np.median(chosen, 0))
    return _NAMES[best], mean  # type: ignore[return-value]
