"""Edit operations on object ids, and ``apply(D, ops) -> D'``.

Ops change the twin's records the way the edit would change the video: a removed object disappears from its
frames, a recoloured one gets its new colour attribute, a moved one its new position. Masks of D' still point
at D's label maps; renderers derive new regions from the spatial change.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from river_agent.errors import EditError
from river_agent.twin.schema import Instance, Twin

EDIT_OP_NAMES = ("recolor", "set_attribute", "remove", "move", "resize", "replace", "restyle")


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1, description="Object id in the twin.")
    frames: tuple[int, int] | None = Field(
        default=None, description="Inclusive [first, last] frame range; all frames where visible when omitted."
    )

    def covers(self, t: int) -> bool:
        return self.frames is None or self.frames[0] <= t <= self.frames[1]


class Recolor(_Op):
    op: Literal["recolor"] = "recolor"
    color: str = Field(description="Colour name, e.g. 'red'.")
    rgb: tuple[int, int, int] | None = Field(default=None, description="Exact colour, 0-255 per channel.")

    @field_validator("rgb")
    @classmethod
    def _in_range(cls, v: tuple[int, int, int] | None) -> tuple[int, int, int] | None:
        if v is not None and not all(0 <= c <= 255 for c in v):
            raise ValueError("rgb channels must be in 0..255")
        return v


class SetAttribute(_Op):
    op: Literal["set_attribute"] = "set_attribute"
    key: str
    value: str


class Remove(_Op):
    op: Literal["remove"] = "remove"


class Move(_Op):
    op: Literal["move"] = "move"
    dx: float = Field(description="Shift as a fraction of frame width (right positive).")
    dy: float = Field(description="Shift as a fraction of frame height (down positive).")


class Resize(_Op):
    op: Literal["resize"] = "resize"
    scale: float = Field(gt=0, le=10, description="Linear scale factor about the object's centroid.")


class Replace(_Op):
    op: Literal["replace"] = "replace"
    category: str = Field(min_length=1)


class Restyle(_Op):
    op: Literal["restyle"] = "restyle"
    style: str = Field(min_length=1)


EditOp = Annotated[Recolor | SetAttribute | Remove | Move | Resize | Replace | Restyle, Field(discriminator="op")]
_ops_adapter: TypeAdapter[list[EditOp]] = TypeAdapter(list[EditOp])
_op_adapter: TypeAdapter[EditOp] = TypeAdapter(EditOp)


def parse_op(data: dict) -> EditOp:
    return _op_adapter.validate_python(data)


def parse_ops(data: list[dict]) -> list[EditOp]:
    return _ops_adapter.validate_python(data)


def _rgb_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _apply_to_instance(op: EditOp, inst: Instance, width: int, height: int) -> None:
    sp = inst.spatial
    match op:
        case Recolor():
            inst.attributes["color"] = op.color
            if op.rgb is not None:
                inst.attributes["rgb"] = _rgb_hex(op.rgb)
        case SetAttribute():
            inst.attributes[op.key] = op.value
        case Move():
            ddx, ddy = op.dx * width, op.dy * height
            sp.x += ddx
            sp.y += ddy
            if sp.bbox is not None:
                x0, y0, x1, y1 = sp.bbox
                sp.bbox = [round(x0 + ddx), round(y0 + ddy), round(x1 + ddx), round(y1 + ddy)]
        case Resize():
            sp.size = round(sp.size * op.scale**2)
            if sp.bbox is not None:
                x0, y0, x1, y1 = sp.bbox
                sp.bbox = [
                    round(sp.x + (x0 - sp.x) * op.scale),
                    round(sp.y + (y0 - sp.y) * op.scale),
                    round(sp.x + (x1 - sp.x) * op.scale),
                    round(sp.y + (y1 - sp.y) * op.scale),
                ]
        case Replace():
            inst.category = op.category
        case Restyle():
            inst.attributes["style"] = op.style


def apply_ops(twin: Twin, ops: list[EditOp]) -> Twin:
    """Return D' = D with ``ops`` applied in order; D is not modified."""
    known = set(twin.object_ids())
    for op in ops:
        if op.id not in known:
            raise EditError(f"edit names object {op.id}, which is not in the twin (known ids: {sorted(known)})")
        if op.frames is not None and op.frames[0] > op.frames[1]:
            raise EditError(f"edit on object {op.id} has an empty frame range {list(op.frames)}")
    edited = twin.copy_twin()
    w, h = twin.video.width, twin.video.height
    for op in ops:
        for frame in edited.frames:
            if not op.covers(frame.t):
                continue
            inst = frame.instance(op.id)
            if inst is None:
                continue
            if isinstance(op, Remove):
                frame.instances = [i for i in frame.instances if i.id != op.id]
            else:
                _apply_to_instance(op, inst, w, h)
    return edited
