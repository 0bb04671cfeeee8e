"""Where per-frame object masks come from: a twin's label maps, or target masks (arrays or a PNG folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from river_agent.tools.render.base import MaskInput, RenderError
from river_agent.twin.io import instance_mask, label_map
from river_agent.twin.schema import Twin

TARGET_ID = 1


class MaskSource(Protocol):
    """Random access to per-frame boolean masks (read lazily)."""

    width: int
    height: int
    num_frames: int

    def mask(self, t: int, obj_id: int) -> np.ndarray:
        """Where object ``obj_id`` is visible in frame ``t`` (bool HxW)."""
        ...

    def occupied(self, t: int) -> np.ndarray:
        """Pixels of frame ``t`` that belong to any known object (never used as background)."""
        ...

    @property
    def objects_known(self) -> bool:
        """Whether every object of the scene has masks here (else only the edited ones do)."""
        ...

    def id_map(self, t: int) -> np.ndarray | None:
        """Object id per pixel of frame ``t`` (int32, 0 = none) when every object is known, else None."""
        ...

    def depths(self, t: int) -> dict[int, float]:
        """Object id -> depth (larger = farther) of the objects visible in frame ``t``, where known."""
        ...


class TwinMasks:
    """Masks of a twin D (its label maps, read lazily)."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self.width, self.height = twin.video.width, twin.video.height
        self.num_frames = twin.video.num_frames or len(twin.frames)
        self._ts = {f.t for f in twin.frames}

    @property
    def objects_known(self) -> bool:
        return True

    def id_map(self, t: int) -> np.ndarray | None:
        frame = next((f for f in self.twin.frames if f.t == t), None)
        if frame is None or not frame.instances:
            return np.zeros((self.height, self.width), np.int32)
        lm = label_map(self.twin, t)
        lut = np.zeros(max(int(lm.max()), max(i.mask_label for i in frame.instances)) + 1, np.int32)
        for inst in frame.instances:
            lut[inst.mask_label] = inst.id
        return lut[lm]

    def depths(self, t: int) -> dict[int, float]:
        frame = next((f for f in self.twin.frames if f.t == t), None)
        if frame is None:
            return {}
        return {i.id: float(i.spatial.depth) for i in frame.instances if i.spatial.depth is not None}

    def mask(self, t: int, obj_id: int) -> np.ndarray:
        if t not in self._ts:
            return np.zeros((self.height, self.width), bool)
        return instance_mask(self.twin, t, obj_id)

    def occupied(self, t: int) -> np.ndarray:
        if t not in self._ts:
            return np.zeros((self.height, self.width), bool)
        return label_map(self.twin, t) > 0


def _png_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise RenderError(f"{folder}: the mask folder holds no PNG files (expected 00000.png, 00001.png, ...)")
    return files


class TargetMasks:
    """Target masks of one object (id 1): bool HxW arrays, or a folder of binary PNGs (white = target).

    ``context`` (optional): the masks of the scene's other objects (e.g. ``TwinMasks`` of the source's twin D),
    so the renderer knows which pixels are not background.
    """

    def __init__(self, masks: MaskInput, width: int, height: int, context: MaskSource | None = None) -> None:
        self.width, self.height = width, height
        if context is not None and (context.width, context.height) != (width, height):
            raise RenderError(
                f"the scene's masks are {context.width}x{context.height}, the video is {width}x{height}"
            )
        self.context = context
        self._files: list[Path] | None = None
        self._arrays: Sequence[np.ndarray] | None = None
        if isinstance(masks, str | Path):
            folder = Path(masks)
            if not folder.is_dir():
                raise RenderError(f"{folder}: target masks must be a folder of PNGs (00000.png, ...)")
            self._files = _png_files(folder)
            self.num_frames = len(self._files)
        else:
            if isinstance(masks, np.ndarray):
                if masks.ndim != 3:
                    raise RenderError(f"target masks array must be NxHxW, got shape {masks.shape}")
            elif not isinstance(masks, Sequence):
                masks = list(masks)
            self._arrays = masks
            self.num_frames = len(masks)
        self._cache: tuple[int, np.ndarray] | None = None

    def _load(self, t: int) -> np.ndarray:
        if self._cache is not None and self._cache[0] == t:
            return self._cache[1]
        if t < 0 or t >= self.num_frames:
            return np.zeros((self.height, self.width), bool)
        if self._files is not None:
            img = cv2.imread(str(self._files[t]), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise RenderError(f"{self._files[t]}: mask PNG is not readable")
            if img.ndim == 3:
                img = img[..., :3].max(axis=2)
            thresh = 32767 if img.dtype == np.uint16 else 127
            m = img > thresh
            where = str(self._files[t])
        else:
            m = np.asarray(self._arrays[t])  # type: ignore[index]
            m = m.astype(bool) if m.dtype == bool else m > (127 if m.dtype == np.uint8 and m.max() > 1 else 0)
            where = f"target mask {t}"
        if m.shape != (self.height, self.width):
            raise RenderError(
                f"{where}: mask is {m.shape[1]}x{m.shape[0]}, the video is {self.width}x{self.height}"
            )
        self._cache = (t, m)
        return m

    def mask(self, t: int, obj_id: int) -> np.ndarray:
        m = self._load(t)
        return m if obj_id == TARGET_ID else np.zeros_like(m)

    def occupied(self, t: int) -> np.ndarray:
        if self.context is None:
            return self._load(t)
        return self._load(t) | self.context.occupied(t)

    @property
    def objects_known(self) -> bool:
        return self.context is not None

    def id_map(self, t: int) -> np.ndarray | None:
        return None if self.context is None else self.context.id_map(t)

    def depths(self, t: int) -> dict[int, float]:
        return {} if self.context is None else self.context.depths(t)
