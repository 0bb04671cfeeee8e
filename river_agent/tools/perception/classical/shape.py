"""Shape of a binary silhouette (global descriptors and a normalised template) and a classifier over both.

A crop is scored against each kind by ``(1 - soft IoU with the kind's nearest template)
+ aspect_weight * |log aspect - kind's log aspect| + moment_weight * (nearest moment-prototype distance)``;
the template term sees the outline (a dog's legs, a truck's cab), the aspect term separates kinds whose
outlines stretch into each other once normalised to a square, the moment term breaks near ties.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from pydantic import BaseModel

PROTOTYPES_FILE = Path(__file__).with_name("shape_prototypes.json")
# per-dimension scale: log aspect, extent, solidity, circularity, hu1..hu3 (log)
_SCALE = np.array([0.2, 0.08, 0.06, 0.08, 0.15, 0.8, 1.0])
TEMPLATE_SIZE = 32
_MIN_SIDE = 16  # example masks smaller than this make blurry templates; they still give moment prototypes
_SAME_TEMPLATE = 0.97  # soft IoU above which two example templates are one


def filled(mask: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """``mask`` as uint8 with holes inside its outline filled, and its outer contours; None if tiny."""
    m = mask.astype(np.uint8)
    if m.sum() < 30:
        return None
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    # the outline is the shape: holes (a pattern's dark dots the background difference missed) are filled
    cv2.drawContours(m, contours, -1, 1, thickness=cv2.FILLED)
    return m, list(contours)


def _descriptors_of(m: np.ndarray, contours: list[np.ndarray]) -> np.ndarray:
    area = float(m.sum())
    hull = cv2.convexHull(np.concatenate(contours))
    hull_area = max(cv2.contourArea(hull), 1.0)
    perim = sum(cv2.arcLength(c, True) for c in contours)
    h, w = m.shape
    hu = cv2.HuMoments(cv2.moments(m, binaryImage=True)).ravel()[:3]
    hu_log = -np.log10(np.abs(hu) + 1e-7)
    return np.array(
        [
            np.log(w / h),
            area / (w * h),
            min(1.0, area / hull_area),
            min(1.0, 4 * np.pi * area / max(perim, 1.0) ** 2),
            *np.clip(hu_log, 0, 7),
        ]
    )


def _template_of(m: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(m)
    m = m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    return cv2.resize(m, (TEMPLATE_SIZE, TEMPLATE_SIZE), interpolation=cv2.INTER_AREA)


def descriptors(mask: np.ndarray) -> np.ndarray | None:
    """[log(w/h), extent, solidity, circularity, log|hu1|, log|hu2|, log|hu3|] of a bool mask, or None if tiny."""
    f = filled(mask)
    return None if f is None else _descriptors_of(*f)


def template(mask: np.ndarray) -> np.ndarray | None:
    """The filled mask cut to its bounding box and resized to TEMPLATE_SIZE^2 (float in [0, 1]); None if tiny."""
    f = filled(mask)
    return None if f is None else _template_of(f[0])


def shape_of(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(descriptors, template) of a bool mask from one hole filling; None if tiny."""
    f = filled(mask)
    return None if f is None else (_descriptors_of(*f), _template_of(f[0]))


def log_aspect(mask: np.ndarray) -> float:
    """log(width / height) of the mask's bounding box."""
    ys, xs = np.nonzero(mask)
    return float(np.log((xs.max() - xs.min() + 1) / (ys.max() - ys.min() + 1)))


def soft_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Soft IoU of two templates over their last two axes (``b`` may be a stack: one value per template)."""
    return np.minimum(a, b).sum((-2, -1)) / np.maximum(np.maximum(a, b).sum((-2, -1)), 1e-6)


class KindShape(BaseModel):
    """What the classifier knows of one kind: moment prototypes, outline templates (hex rows), log aspect."""

    descriptors: list[list[float]]
    templates: list[list[str]]
    log_aspect: float

    def template_arrays(self) -> list[np.ndarray]:
        return [np.array([list(bytes.fromhex(row)) for row in t], np.float32) / 255.0 for t in self.templates]


def _encode(t: np.ndarray) -> list[str]:
    return [bytes(row).hex() for row in np.round(t * 255).astype(np.uint8)]


def as_segmented(mask: np.ndarray) -> np.ndarray:
    """``mask`` opened by a 3x3 square, as the classical segmenter opens its foreground: a drawn silhouette's
    one-pixel tips (a small disc's poles) are lost there, so an example must lose them too."""
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)


def kind_shape(masks: list[np.ndarray]) -> KindShape:
    """A kind's shape from example silhouettes (several sizes and facings), each seen as the segmenter sees it."""
    descs, temps = [], []
    aspects = []
    seen = [m for m in map(as_segmented, masks) if m.any()]
    for m in seen:
        shape = shape_of(m)
        if shape is None:
            continue
        d, t = shape
        descs.append([round(float(v), 4) for v in d])
        aspects.append(log_aspect(m))
        if min(m.shape) >= _MIN_SIDE and (not temps or soft_iou(t, np.stack(temps)).max() < _SAME_TEMPLATE):
            temps.append(t)
    if not descs:
        raise ValueError("no usable example silhouette (all too small)")
    if not temps:  # only small examples: use the largest anyway
        temps.append(template(max(seen, key=lambda m: int(m.sum()))))
    return KindShape(
        descriptors=descs, templates=[_encode(t) for t in temps], log_aspect=round(float(np.mean(aspects)), 4)
    )


class ShapeClassifier:
    """Best kind by the combined template/aspect/moment score; 'object' when no kind is close enough."""

    def __init__(
        self,
        kinds: dict[str, KindShape] | None = None,
        *,
        aspect_weight: float = 0.5,
        moment_weight: float = 0.05,
        max_distance: float = 4.0,
        max_template_miss: float = 0.6,
    ) -> None:
        if kinds is None:
            raw = json.loads(PROTOTYPES_FILE.read_text()) if PROTOTYPES_FILE.exists() else {}
            kinds = {k: KindShape.model_validate(v) for k, v in raw.items()}
        self.labels = list(kinds)
        self.protos = [np.array(kinds[k].descriptors, np.float64) for k in self.labels]
        self.templates = [np.stack(kinds[k].template_arrays()) for k in self.labels]
        self.aspects = np.array([kinds[k].log_aspect for k in self.labels])
        self.aspect_weight = aspect_weight
        self.moment_weight = moment_weight
        self.max_distance = max_distance
        self.max_template_miss = max_template_miss

    @classmethod
    def from_examples(cls, examples: dict[str, list[np.ndarray]], **kw: float) -> ShapeClassifier:
        """A classifier for the given kinds, each from example silhouettes."""
        return cls({k: kind_shape(v) for k, v in examples.items()}, **kw)

    def classify(self, mask: np.ndarray) -> tuple[str, float]:
        """(label, score) of a bool silhouette: 'object' when the nearest kind is too far, score inf if tiny."""
        label, score, _ = self.classify_with_miss(mask)
        return label, score

    def classify_with_miss(self, mask: np.ndarray) -> tuple[str, float, float]:
        """(label, score, template miss) of a bool silhouette; the miss (1 - soft IoU with the best kind's
        nearest template) says how well the outline fits any kind known at all (1.0 if tiny)."""
        shape = shape_of(mask)
        if shape is None or not self.labels:
            return "object", float("inf"), 1.0
        desc, temp = shape
        moment = np.array([np.sqrt((((p - desc[None]) / _SCALE) ** 2).sum(1)).min() for p in self.protos])
        miss = 1.0 - np.array([soft_iou(temp, t).max() for t in self.templates])
        score = miss + self.aspect_weight * np.abs(log_aspect(mask) - self.aspects) + self.moment_weight * moment
        k = int(np.argmin(score))
        if moment[k] > self.max_distance or miss[k] > self.max_template_miss:
            return "object", float(score[k]), float(miss[k])
        return self.labels[k], float(score[k]), float(miss[k])
