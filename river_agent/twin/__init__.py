"""The digital twin: schema, folder I/O, compact view, edit ops, validation (R_dt) and diff."""

from river_agent.twin.diff import ObjectChange, TwinDiff, diff_twins, ops_from_diff
from river_agent.twin.io import instance_mask, label_map, load_twin, parse_twin, save_twin
from river_agent.twin.ops import (
    EditOp,
    Move,
    Recolor,
    Remove,
    Replace,
    Resize,
    Restyle,
    SetAttribute,
    apply_ops,
    parse_op,
    parse_ops,
)
from river_agent.twin.schema import Frame, Instance, Spatial, Twin, VideoMeta
from river_agent.twin.validate import ValidationResult, validate_edited_twin

__all__ = [
    "EditOp",
    "Frame",
    "Instance",
    "Move",
    "ObjectChange",
    "Recolor",
    "Remove",
    "Replace",
    "Resize",
    "Restyle",
    "SetAttribute",
    "Spatial",
    "Twin",
    "TwinDiff",
    "ValidationResult",
    "VideoMeta",
    "apply_ops",
    "diff_twins",
    "instance_mask",
    "label_map",
    "load_twin",
    "ops_from_diff",
    "parse_op",
    "parse_ops",
    "parse_twin",
    "save_twin",
    "validate_edited_twin",
]
