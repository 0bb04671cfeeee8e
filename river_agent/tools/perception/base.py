"""The per-stage interfaces every perception backend implements, and the data they pass along.

A perception run streams the video once through a segmenter (instance masks with persistent ids), feeding each
frame's masks to a categoriser, a depth estimator and the attribute accumulator; a describer then writes one
free-text description per object. Any backend of one stage can be combined with any backend of another.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from river_agent.video.io import VideoInfo


@dataclass
class Region:
    """One instance in one frame: its mask as a crop plus its geometry."""

    obj_id: int
    x: float
    y: float
    size: int
    bbox: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    crop: np.ndarray  # bool mask of bbox

    @classmethod
    def from_crop(cls, obj_id: int, crop: np.ndarray, x0: int, y0: int) -> Region | None:
        ys, xs = np.nonzero(crop)
        if ys.size == 0:
            return None
        y_lo, y_hi, x_lo, x_hi = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        return cls(
            obj_id=obj_id,
            x=float(xs.mean() + x0),
            y=float(ys.mean() + y0),
            size=int(ys.size),
            bbox=(int(x0 + x_lo), int(y0 + y_lo), int(x0 + x_hi), int(y0 + y_hi)),
            crop=crop[y_lo:y_hi, x_lo:x_hi],
        )

    def window(self, pad: int, width: int, height: int) -> tuple[int, int, int, int]:
        """The region's box grown by ``pad`` px on every side, clipped to a ``width`` x ``height`` frame."""
        x0, y0, x1, y1 = self.bbox
        return max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, width), min(y1 + pad, height)

    def mask_in(self, box: tuple[int, int, int, int]) -> np.ndarray:
        """The region's bool mask placed in ``box`` (x0, y0, x1, y1), which must hold its own box."""
        wx0, wy0, wx1, wy1 = box
        bx0, by0, bx1, by1 = self.bbox
        out = np.zeros((wy1 - wy0, wx1 - wx0), bool)
        out[by0 - wy0 : by1 - wy0, bx0 - wx0 : bx1 - wx0] = self.crop
        return out


def regions_from_label_map(label_map: np.ndarray) -> dict[int, Region]:
    """Regions of every non-zero id in a label map."""
    from scipy import ndimage

    out: dict[int, Region] = {}
    if not label_map.any():
        return out
    labels = label_map.astype(np.int32)
    for idx, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        region = Region.from_crop(idx, labels[sl] == idx, sl[1].start, sl[0].start)
        if region is not None:
            out[idx] = region
    return out


@dataclass
class SegmentedFrame:
    """What a segmenter yields per frame: the RGB frame, the label map (persistent ids) and its regions."""

    t: int
    frame: np.ndarray
    label_map: np.ndarray
    regions: dict[int, Region]


@dataclass
class Occlusion:
    """Evidence that ``front`` hid part of ``back`` in frame ``t`` (``pixels`` of ``back``'s expected area)."""

    t: int
    front: int
    back: int
    pixels: int


@dataclass
class SegmentationResult:
    """Extra knowledge a segmenter gathered, read after the stream ends."""

    id_map: dict[int, int] = field(default_factory=dict)  # raw id -> final id (0 drops it); missing = keep
    occlusions: list[Occlusion] = field(default_factory=list)


class Segmenter(Protocol):
    """Instance masks tracked across frames."""

    name: str

    def segment(self, video: Path, info: VideoInfo) -> Iterator[SegmentedFrame]: ...

    def result(self) -> SegmentationResult: ...


class Categoriser(Protocol):
    """One category noun per object, from what it saw while the video streamed."""

    name: str

    def observe(self, seg: SegmentedFrame) -> None: ...

    def categories(self) -> dict[int, str]: ...


class DepthEstimator(Protocol):
    """Per-instance relative depth, normalised to [0, 1] over the video (larger = farther)."""

    name: str

    def observe(self, seg: SegmentedFrame) -> None: ...

    def depths(self, occlusions: list[Occlusion], id_map: dict[int, int]) -> dict[tuple[int, int], float]:
        """(t, final id) -> depth in [0, 1]."""
        ...


class Describer(Protocol):
    """A free-text description of one object from its best view."""

    name: str

    def describe(
        self, crop_rgb: np.ndarray, crop_mask: np.ndarray, category: str, attributes: dict[str, str]
    ) -> str: ...
