"""Conditioning for renderers, parsed from (D, D') or from target masks + one edit.

The paper's last stage turns D' into text conditioning (per modified object: "In frame t, object i with
category c has attributes a") and spatial guidance (masks of the regions to change). Here a ``Conditioning``
holds one ``ObjectEdit`` per modified object and answers, per frame, which pixels change (the old place, and the
new place of moved or resized objects) and which must be preserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import ValidationError

from river_agent.errors import EditError
from river_agent.tools.render.base import MaskInput
from river_agent.tools.render.mask_source import TARGET_ID, MaskSource, TargetMasks, TwinMasks
from river_agent.twin.diff import diff_twins, ops_from_diff
from river_agent.twin.ops import EditOp, Move, Recolor, Remove, Replace, Resize, Restyle, SetAttribute, parse_op
from river_agent.twin.schema import Twin

GEOMETRIC = (Move, Resize)


@dataclass
class ObjectEdit:
    """All changes of one object, with what it is (before) and what it becomes (after)."""

    obj_id: int
    category: str
    ops: list[EditOp]
    attributes: dict[str, str] = field(default_factory=dict)  # before
    new_attributes: dict[str, str] = field(default_factory=dict)  # after
    new_category: str | None = None
    # frame -> the whole object's centroid where the frame edge cuts it (filled by a renderer; see extent.py)
    centres: dict[int, tuple[float, float]] = field(default_factory=dict)
    boxes: dict[int, tuple[int, int, int, int]] = field(default_factory=dict)  # same, whole box (x0, y0, w, h)

    def active_ops(self, t: int) -> list[EditOp]:
        return [op for op in self.ops if op.covers(t)]

    @property
    def removed(self) -> bool:
        return any(isinstance(op, Remove) for op in self.ops)

    def phrase(self) -> str:
        """What the object looks like after the edit, as a short noun phrase for a text prompt."""
        cat = self.new_category or self.category
        if self.removed:
            return f"empty background where the {self.category} was"
        adj = [self.new_attributes[k] for k in ("color", "style", "pattern") if self.new_attributes.get(k)]
        return " ".join(["a", *adj, cat])

    def describe(self, frames: list[int]) -> str:
        """The paper's per-object text, over a frame range: "In frames a-b, object i with category c has ..."."""
        span = f"frame {frames[0]}" if len(frames) == 1 else f"frames {frames[0]}-{frames[-1]}"
        if not frames:
            span = "no frame"
        if self.removed:
            return f"In {span}, object {self.obj_id} with category {self.category} is removed."
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(self.new_attributes.items()) if k != "rgb")
        cat = self.new_category or self.category
        text = f"In {span}, object {self.obj_id} with category {cat} has attributes {attrs or 'none'}."
        for op in self.ops:
            if isinstance(op, Move):
                text += f" It is moved by ({op.dx:+.3f} W, {op.dy:+.3f} H)."
            elif isinstance(op, Resize):
                text += f" It is scaled by {op.scale:g}."
        return text


def affine_for(
    op: EditOp, mask: np.ndarray, width: int, height: int, centre: tuple[float, float] | None = None
) -> np.ndarray | None:
    """2x3 matrix taking the object's pixels to their new place (move: shift; resize: scale about the
    object's centroid: ``centre`` when given, e.g. the whole object's when the frame edge cuts it, else the
    mask's)."""
    if isinstance(op, Move):
        return np.array([[1.0, 0.0, round(op.dx * width)], [0.0, 1.0, round(op.dy * height)]])
    if isinstance(op, Resize):
        ys, xs = np.nonzero(mask)
        if xs.size == 0:
            return None
        cx, cy = centre if centre is not None else (xs.mean(), ys.mean())
        s = op.scale
        return np.array([[s, 0.0, cx * (1 - s)], [0.0, s, cy * (1 - s)]])
    return None


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Affine ``b`` after ``a`` (both 2x3)."""
    a3 = np.vstack([a, [0, 0, 1]])
    b3 = np.vstack([b, [0, 0, 1]])
    return (b3 @ a3)[:2]


def object_affine(edit: ObjectEdit, t: int, mask: np.ndarray, width: int, height: int) -> np.ndarray | None:
    """Combined move/resize of an object in frame ``t`` (None when it stays in place)."""
    total = None
    current = mask
    centre = edit.centres.get(t)
    for op in edit.active_ops(t):
        m = affine_for(op, current, width, height, centre)
        if m is None:
            continue
        total = m if total is None else compose(total, m)
        current = warp_mask(mask, total, width, height)
        if centre is not None:
            centre = (float(m[0] @ [centre[0], centre[1], 1.0]), float(m[1] @ [centre[0], centre[1], 1.0]))
    return total


def warp_mask(mask: np.ndarray, affine: np.ndarray, width: int, height: int) -> np.ndarray:
    out = cv2.warpAffine(mask.astype(np.uint8), affine, (width, height), flags=cv2.INTER_NEAREST)
    return out.astype(bool)


@dataclass
class Conditioning:
    """Text and spatial conditioning of one render."""

    edits: list[ObjectEdit]
    masks: MaskSource
    width: int
    height: int
    num_frames: int

    def active(self, t: int) -> list[tuple[ObjectEdit, np.ndarray]]:
        """Edits that apply in frame ``t`` with the object's mask there (objects not visible are skipped)."""
        out = []
        for edit in self.edits:
            if not edit.active_ops(t):
                continue
            m = self.masks.mask(t, edit.obj_id)
            if m.any():
                out.append((edit, m))
        return out

    def change_mask(self, t: int) -> np.ndarray:
        """Pixels frame ``t`` may change: each edited object's place, and its new place when it moves/resizes."""
        region = np.zeros((self.height, self.width), bool)
        for edit, m in self.active(t):
            region |= m
            if edit.removed:
                continue
            aff = object_affine(edit, t, m, self.width, self.height)
            if aff is not None:
                region |= warp_mask(m, aff, self.width, self.height)
        return region

    def preserve_mask(self, t: int) -> np.ndarray:
        return ~self.change_mask(t)

    def needs_fill(self) -> bool:
        """Whether some old place must be filled with background (remove, move, resize)."""
        return any(isinstance(op, Remove | Move | Resize) for e in self.edits for op in e.ops)

    def frame_texts(self, t: int) -> list[str]:
        """The paper's text conditioning of frame ``t``: one sentence per modified object visible there."""
        return [e.describe([t]) for e, _ in self.active(t)]

    def descriptions(self) -> list[str]:
        """One sentence per modified object over the frames where its edit applies."""
        out = []
        for e in self.edits:
            frames = [t for t in range(self.num_frames) if e.active_ops(t)]
            out.append(e.describe(frames))
        return out

    def prompt(self) -> str:
        """A text prompt for a diffusion renderer, describing the edited regions."""
        return ". ".join(e.phrase() for e in self.edits) + "."


def _op_error(edit: dict, exc: ValidationError) -> EditError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"][1:]) or "op"
    return EditError(f"edit {edit!r} is not a valid case edit at {where}: {first['msg']}")


def parse_case_edit(edit: dict) -> EditOp:
    """Parse a case-format edit dict (docs/case-format.md) as an op on the target (id 1)."""
    if not isinstance(edit, dict) or "op" not in edit:
        raise EditError(f"edit must be a dict with an 'op' key, got {edit!r}")
    data = {k: v for k, v in edit.items() if k != "id"}
    if data.get("frames") is not None:
        data["frames"] = tuple(data["frames"])
    try:
        op = parse_op({**data, "id": TARGET_ID})
    except ValidationError as exc:
        raise _op_error(edit, exc) from exc
    if op.frames is not None and op.frames[0] > op.frames[1]:
        raise EditError(f"edit has an empty frame range {list(op.frames)}")
    return op


def conditioning_from_masks(
    masks: MaskInput, edit: dict, width: int, height: int, num_frames: int, scene: Twin | None = None
) -> Conditioning:
    """Conditioning of a case: one target object (the union of the target masks) and one edit.

    ``scene``: the source's twin D, if known: its object masks tell what is not background."""
    op = parse_case_edit(edit)
    source = TargetMasks(masks, width, height, TwinMasks(scene) if scene is not None else None)
    if source.num_frames != num_frames:
        raise EditError(f"there are {source.num_frames} target masks but the video has {num_frames} frames")
    new_attrs: dict[str, str] = {}
    new_cat = None
    if isinstance(op, Recolor):
        new_attrs["color"] = op.color
    elif isinstance(op, Restyle):
        new_attrs["style"] = op.style
    elif isinstance(op, SetAttribute):
        new_attrs[op.key] = op.value
    elif isinstance(op, Replace):
        new_cat = op.category
    obj = ObjectEdit(TARGET_ID, "object", [op], {}, new_attrs, new_cat)
    return Conditioning([obj], source, width, height, num_frames)


def conditioning_from_twins(before: Twin, after: Twin) -> Conditioning:
    """Conditioning of the change D -> D' (via ``diff_twins``): one ObjectEdit per modified object."""
    if (before.video.width, before.video.height) != (after.video.width, after.video.height):
        raise EditError("the edited twin's frame size differs from the source twin's")
    ops = ops_from_diff(before, diff_twins(before, after))
    by_id: dict[int, list[EditOp]] = {}
    for op in ops:
        by_id.setdefault(op.id, []).append(op)
    after_frames = {f.t: f for f in after.frames}
    edits = []
    for obj_id, obj_ops in sorted(by_id.items()):
        track = before.track(obj_id)
        _first_t, inst = track[0]
        new = None
        for t, _ in track:
            f = after_frames.get(t)
            if f is not None and f.instance(obj_id) is not None:
                new = f.instance(obj_id)
                break
        new_attrs = dict(new.attributes) if new else {}
        new_cat = new.category if new is not None and new.category != inst.category else None
        edits.append(ObjectEdit(obj_id, inst.category, obj_ops, dict(inst.attributes), new_attrs, new_cat))
    n = before.video.num_frames or len(before.frames)
    return Conditioning(edits, TwinMasks(before), before.video.width, before.video.height, n)
