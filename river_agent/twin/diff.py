"""Diff of two twins (which objects changed, how, in which frames), and the edit ops that explain it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from river_agent.twin.ops import EditOp, Move, Recolor, Remove, Replace, Resize, Restyle, SetAttribute
from river_agent.twin.schema import Instance, Twin

_POS_TOL = 0.51  # pixels: positions are rounded in bboxes, not in centroids


@dataclass
class ObjectChange:
    """One kind of change of one object, with the frames where it holds."""

    id: int
    kind: str  # removed | category | attribute | moved | resized
    frames: list[int]
    detail: dict = field(default_factory=dict)

    def describe(self) -> str:
        span = f"frames {self.frames[0]}-{self.frames[-1]}" if self.frames else "no frames"
        extra = ", ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"object {self.id}: {self.kind} ({extra}) in {len(self.frames)} {span}".replace(" ()", "")


@dataclass
class TwinDiff:
    changes: list[ObjectChange]

    @property
    def changed_ids(self) -> list[int]:
        return sorted({c.id for c in self.changes})

    def __bool__(self) -> bool:
        return bool(self.changes)


def _instance_changes(a: Instance, b: Instance, width: int, height: int) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    if a.category != b.category:
        out.append(("category", {"category": b.category}))
    for key in sorted(set(a.attributes) | set(b.attributes)):
        if key == "rgb":
            continue
        if a.attributes.get(key) != b.attributes.get(key):
            detail = {"key": key, "value": b.attributes.get(key)}
            if key == "color" and "rgb" in b.attributes:
                detail["rgb"] = b.attributes["rgb"]
            out.append(("attribute", detail))
    dx, dy = b.spatial.x - a.spatial.x, b.spatial.y - a.spatial.y
    if abs(dx) > _POS_TOL or abs(dy) > _POS_TOL:
        out.append(("moved", {"dx": round(dx / width, 4), "dy": round(dy / height, 4)}))
    if a.spatial.size != b.spatial.size and a.spatial.size > 0:
        # sizes are whole pixels, so the scale is only known to about 1%: report it to 0.01
        out.append(("resized", {"scale": round(math.sqrt(b.spatial.size / a.spatial.size), 2)}))
    return out


def diff_twins(before: Twin, after: Twin) -> TwinDiff:
    """Changes from ``before`` (D) to ``after`` (D'), grouped per object, kind and detail."""
    after_frames = {f.t: f for f in after.frames}
    grouped: dict[tuple[int, str, tuple], ObjectChange] = {}
    w, h = before.video.width, before.video.height
    for frame in before.frames:
        other = after_frames.get(frame.t)
        for inst in frame.instances:
            new = other.instance(inst.id) if other else None
            found = [("removed", {})] if new is None else _instance_changes(inst, new, w, h)
            for kind, detail in found:
                key = (inst.id, kind, tuple(sorted(detail.items())))
                grouped.setdefault(key, ObjectChange(inst.id, kind, [], detail)).frames.append(frame.t)
    return TwinDiff(sorted(grouped.values(), key=lambda c: (c.id, c.kind, c.frames[0])))


def _frame_range(change: ObjectChange, visible: list[int]) -> tuple[int, int] | None:
    return None if change.frames == visible else (change.frames[0], change.frames[-1])


def ops_from_diff(before: Twin, diff: TwinDiff) -> list[EditOp]:
    """Edit ops that turn ``before`` into the diffed twin (one op per object, kind and frame run)."""
    ops: list[EditOp] = []
    for ch in diff.changes:
        frames = _frame_range(ch, before.frames_of(ch.id))
        d = ch.detail
        if ch.kind == "removed":
            ops.append(Remove(id=ch.id, frames=frames))
        elif ch.kind == "category":
            ops.append(Replace(id=ch.id, category=d["category"], frames=frames))
        elif ch.kind == "moved":
            ops.append(Move(id=ch.id, dx=d["dx"], dy=d["dy"], frames=frames))
        elif ch.kind == "resized":
            ops.append(Resize(id=ch.id, scale=d["scale"], frames=frames))
        elif d["key"] == "color" and d["value"] is not None:
            rgb = d.get("rgb")
            rgb_t = tuple(int(rgb[i : i + 2], 16) for i in (1, 3, 5)) if rgb else None
            ops.append(Recolor(id=ch.id, color=d["value"], rgb=rgb_t, frames=frames))
        elif d["key"] == "style" and d["value"] is not None:
            ops.append(Restyle(id=ch.id, style=d["value"], frames=frames))
        else:
            ops.append(SetAttribute(id=ch.id, key=d["key"], value=d["value"] or "", frames=frames))
    return ops
