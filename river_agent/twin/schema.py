"""Pydantic models of the digital twin (format ``river-twin/1``, see docs/twin-format.md).

A twin is one record per frame; each frame lists the instances visible in it. Extra keys anywhere are
kept (``extra="allow"``) so tools that rewrite a twin preserve what they do not understand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

TWIN_FORMAT = "river-twin/1"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Spatial(_Open):
    """Where an instance is in one frame."""

    x: float = Field(description="Mask centroid x in pixels (to the right).")
    y: float = Field(description="Mask centroid y in pixels (down).")
    depth: float = Field(description="Relative distance from the camera in [0, 1]; larger = farther.")
    size: int = Field(description="Visible mask area in pixels.")
    bbox: list[int] | None = Field(default=None, description="[x0, y0, x1, y1], inclusive-exclusive.")


class Instance(_Open):
    """One object as seen in one frame."""

    id: int = Field(ge=1, description="Names the same physical object in every frame where it is visible.")
    category: str = Field(description="A noun; 'object' when the backend cannot tell.")
    attributes: dict[str, str] = Field(default_factory=dict)
    mask: str = Field(description="'masks/<frame>.png#<id>'.")
    spatial: Spatial

    @property
    def mask_file(self) -> str:
        return self.mask.split("#", 1)[0]

    @property
    def mask_label(self) -> int:
        _, _, label = self.mask.partition("#")
        return int(label) if label else self.id


class Frame(_Open):
    """The instances visible in frame ``t``."""

    t: int = Field(ge=0)
    mask: str | None = Field(default=None, description="Label-map PNG of this frame, relative to the twin folder.")
    instances: list[Instance] = Field(default_factory=list)

    def instance(self, obj_id: int) -> Instance | None:
        return next((i for i in self.instances if i.id == obj_id), None)


class VideoMeta(_Open):
    path: str
    fps: float = Field(gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    num_frames: int = Field(ge=0)


class Twin(_Open):
    """A video's digital twin: video metadata plus one record per frame."""

    format: str = TWIN_FORMAT
    video: VideoMeta
    frames: list[Frame] = Field(default_factory=list)

    _root: Path | None = PrivateAttr(default=None)

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != TWIN_FORMAT:
            raise ValueError(f"unsupported twin format {value!r}; expected {TWIN_FORMAT!r}")
        return value

    @property
    def root(self) -> Path | None:
        """Folder the twin was loaded from (mask paths are relative to it), if any."""
        return self._root

    def with_root(self, root: str | Path | None) -> Twin:
        self._root = Path(root) if root is not None else None
        return self

    def copy_twin(self) -> Twin:
        """A deep copy that keeps the mask folder."""
        return self.model_copy(deep=True).with_root(self._root)

    def object_ids(self) -> list[int]:
        return sorted({inst.id for frame in self.frames for inst in frame.instances})

    def frames_of(self, obj_id: int) -> list[int]:
        return [f.t for f in self.frames if f.instance(obj_id) is not None]

    def track(self, obj_id: int) -> list[tuple[int, Instance]]:
        """(t, instance) for every frame where ``obj_id`` is visible."""
        out = []
        for frame in self.frames:
            inst = frame.instance(obj_id)
            if inst is not None:
                out.append((frame.t, inst))
        return out

    def __eq__(self, other: object) -> bool:
        """Twins are equal when their content is; where they were loaded from does not count."""
        if not isinstance(other, Twin):
            return NotImplemented
        return self.to_json_dict() == other.to_json_dict()

    __hash__ = None  # type: ignore[assignment]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
