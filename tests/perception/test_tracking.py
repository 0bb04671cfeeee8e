"""Track colour models: the dominant-colour palette must not depend on process-wide random state."""

from __future__ import annotations

import cv2
import numpy as np

from river_agent.tools.perception.classical.tracking import palette_of


def _two_colour_pixels() -> np.ndarray:
    rng = np.random.default_rng(0)
    red = np.array([200, 40, 30]) + rng.normal(0, 12, (300, 3))
    blue = np.array([30, 60, 190]) + rng.normal(0, 12, (200, 3))
    mixed = np.concatenate([red, blue])[rng.permutation(500)]
    return np.clip(mixed, 0, 255).astype(np.uint8)


def test_palette_is_the_same_whatever_ran_before():
    # no clear clusters: where k-means starts decides where it ends
    pixels = np.random.default_rng(1).integers(0, 256, (400, 3)).astype(np.uint8)
    palettes = []
    for seed in (1, 2, 12345):
        cv2.setRNGSeed(seed)  # what earlier OpenCV calls in the process leave behind
        palettes.append(palette_of(pixels))
    for p in palettes[1:]:
        assert np.array_equal(p, palettes[0])


def test_palette_finds_both_colours():
    palette = palette_of(_two_colour_pixels())
    assert len(palette) == 2
    reds = palette[np.argmax(palette[:, 0])]
    blues = palette[np.argmax(palette[:, 2])]
    assert np.abs(reds - [200, 40, 30]).max() < 10
    assert np.abs(blues - [30, 60, 190]).max() < 10
