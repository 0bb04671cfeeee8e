"""Object silhouettes of RVE-Synth: one recognisable binary shape per kind, drawn with OpenCV primitives.

Every silhouette is defined in a unit box (x, y in [0, 1], y down, facing right) and rasterised at a
given pixel size; ``facing=-1`` mirrors it. Masks are cached, so a scene renders fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class KindSpec:
    """A kind of object: its aspect ratio (width / height), nominal height (fraction of frame height at
    depth 0.5) and the concepts it belongs to (used by level-2/3 queries)."""

    aspect: float
    height: float
    concepts: tuple[str, ...]


KINDS: dict[str, KindSpec] = {
    "car": KindSpec(2.1, 0.15, ("vehicle", "ride")),
    "truck": KindSpec(2.3, 0.24, ("vehicle", "ride", "cargo")),
    "person": KindSpec(0.42, 0.27, ("living", "walker")),
    "dog": KindSpec(1.55, 0.12, ("living", "animal", "walker")),
    "ball": KindSpec(1.0, 0.085, ("toy", "round")),
    "tree": KindSpec(0.72, 0.46, ("plant", "living")),
    "box": KindSpec(1.0, 0.13, ("container", "cargo")),
}


def _pts(coords: list[tuple[float, float]], w: int, h: int) -> np.ndarray:
    return np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in coords], np.int32)


def _circle(img: np.ndarray, cx: float, cy: float, r: float) -> None:
    h, w = img.shape
    cv2.circle(img, (round(cx * (w - 1)), round(cy * (h - 1))), max(1, round(r * min(w, h))), 1, -1, cv2.LINE_8)


def _ellipse(img: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> None:
    h, w = img.shape
    cv2.ellipse(
        img,
        (round(cx * (w - 1)), round(cy * (h - 1))),
        (max(1, round(rx * w)), max(1, round(ry * h))),
        0,
        0,
        360,
        1,
        -1,
    )


def _poly(img: np.ndarray, coords: list[tuple[float, float]]) -> None:
    h, w = img.shape
    cv2.fillPoly(img, [_pts(coords, w, h)], 1)


def _rect(img: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> None:
    _poly(img, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def _draw_car(m: np.ndarray) -> None:
    _poly(
        m,
        [
            (0.02, 0.45),
            (0.22, 0.42),
            (0.34, 0.12),
            (0.68, 0.12),
            (0.82, 0.42),
            (0.98, 0.5),
            (0.98, 0.8),
            (0.02, 0.8),
        ],
    )
    _circle(m, 0.23, 0.8, 0.19)
    _circle(m, 0.77, 0.8, 0.19)


def _draw_truck(m: np.ndarray) -> None:
    _rect(m, 0.0, 0.02, 0.66, 0.78)  # cargo box
    _poly(m, [(0.68, 0.28), (0.86, 0.28), (1.0, 0.52), (1.0, 0.82), (0.68, 0.82)])  # cab
    _rect(m, 0.0, 0.74, 1.0, 0.84)  # chassis
    for cx in (0.14, 0.42, 0.86):
        _circle(m, cx, 0.86, 0.13)


def _draw_person(m: np.ndarray) -> None:
    _circle(m, 0.5, 0.09, 0.09 * 2.2)  # head (radius relative to min side = width)
    _poly(m, [(0.2, 0.2), (0.8, 0.2), (0.74, 0.56), (0.26, 0.56)])  # torso
    _poly(m, [(0.14, 0.22), (0.24, 0.22), (0.1, 0.5), (0.0, 0.5)])  # arms
    _poly(m, [(0.76, 0.22), (0.86, 0.22), (1.0, 0.5), (0.9, 0.5)])
    _poly(m, [(0.28, 0.55), (0.48, 0.55), (0.42, 1.0), (0.22, 1.0)])  # legs
    _poly(m, [(0.52, 0.55), (0.72, 0.55), (0.78, 1.0), (0.58, 1.0)])


def _draw_dog(m: np.ndarray) -> None:
    _ellipse(m, 0.47, 0.45, 0.3, 0.17)  # body
    _circle(m, 0.82, 0.25, 0.17)  # head
    _poly(m, [(0.86, 0.24), (1.0, 0.3), (0.98, 0.4), (0.84, 0.38)])  # snout
    _poly(m, [(0.72, 0.12), (0.78, 0.0), (0.82, 0.16)])  # ear
    for x in (0.22, 0.32, 0.6, 0.7):
        _rect(m, x - 0.04, 0.5, x + 0.04, 1.0)  # legs
    _poly(m, [(0.18, 0.38), (0.0, 0.12), (0.04, 0.08), (0.22, 0.33)])  # tail


def _draw_ball(m: np.ndarray) -> None:
    _circle(m, 0.5, 0.5, 0.5)


def _draw_tree(m: np.ndarray) -> None:
    _rect(m, 0.42, 0.55, 0.58, 1.0)  # trunk
    _ellipse(m, 0.5, 0.34, 0.48, 0.3)  # crown
    _ellipse(m, 0.3, 0.45, 0.28, 0.16)
    _ellipse(m, 0.7, 0.45, 0.28, 0.16)
    _ellipse(m, 0.5, 0.12, 0.3, 0.12)


def _draw_box(m: np.ndarray) -> None:
    _rect(m, 0.0, 0.16, 1.0, 1.0)
    _poly(m, [(0.0, 0.16), (0.18, 0.0), (1.0, 0.0), (1.0, 0.16)])  # lid in perspective


_DRAW = {
    "car": _draw_car,
    "truck": _draw_truck,
    "person": _draw_person,
    "dog": _draw_dog,
    "ball": _draw_ball,
    "tree": _draw_tree,
    "box": _draw_box,
}


def shape_size(kind: str, height_px: float) -> tuple[int, int]:
    """(width, height) in pixels of a ``kind`` silhouette of the given height."""
    spec = KINDS[kind]
    h = max(4, round(height_px))
    return max(4, round(h * spec.aspect)), h


@lru_cache(maxsize=512)
def silhouette(kind: str, width: int, height: int, facing: int = 1) -> np.ndarray:
    """Boolean ``height x width`` mask of ``kind`` (read-only, cached); ``facing=-1`` mirrors it."""
    if kind not in _DRAW:
        raise KeyError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    # draw at 4x and downsample: smoother, size-stable outlines
    big = np.zeros((height * 4, width * 4), np.uint8)
    _DRAW[kind](big)
    small = cv2.resize(big.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA) >= 0.5
    if facing < 0:
        small = small[:, ::-1]
    small = np.ascontiguousarray(small)
    small.setflags(write=False)
    return small
