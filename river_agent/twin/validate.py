"""Validation of an edited twin D' against the original D, as the paper's R_dt states it:
parseable JSON, every required field present for each instance, and field types as in D."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from river_agent.errors import TwinError
from river_agent.twin.io import parse_twin
from river_agent.twin.schema import Twin

_INTEGER, _NUMBER, _STRING, _OBJECT = "integer", "number", "string", "object"
REQUIRED_INSTANCE_FIELDS: dict[str, str] = {
    "id": _INTEGER,
    "category": _STRING,
    "attributes": _OBJECT,
    "mask": _STRING,
    "spatial": _OBJECT,
}
REQUIRED_SPATIAL_FIELDS: dict[str, str] = {"x": _NUMBER, "y": _NUMBER, "depth": _NUMBER, "size": _INTEGER}


def _is(kind: str, value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if kind == _INTEGER:
        return isinstance(value, int)
    if kind == _NUMBER:
        return isinstance(value, int | float)
    if kind == _STRING:
        return isinstance(value, str)
    return isinstance(value, dict)


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of validating D'; ``twin`` is the parsed D' when ``ok``."""

    ok: bool
    reason: str = ""
    twin: Twin | None = None


def _fail(reason: str) -> ValidationResult:
    return ValidationResult(ok=False, reason=reason)


def validate_edited_twin(edited: str | bytes | dict | Twin, original: Twin) -> ValidationResult:
    """Check D' (JSON text, a decoded dict or a Twin) against D; the reason says the first problem found."""
    if isinstance(edited, Twin):
        data: Any = edited.to_json_dict()
    elif isinstance(edited, str | bytes):
        try:
            data = json.loads(edited)
        except json.JSONDecodeError as exc:
            return _fail(f"not parseable JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    else:
        data = edited
    if not isinstance(data, dict):
        return _fail(f"the edited twin must be a JSON object, got {type(data).__name__}")
    frames = data.get("frames")
    if not isinstance(frames, list):
        return _fail("missing field 'frames' (a list of per-frame records)")
    known_ids = set(original.object_ids())
    known_t = {f.t for f in original.frames}
    for fi, frame in enumerate(frames):
        if not isinstance(frame, dict):
            return _fail(f"frames[{fi}] must be an object")
        t = frame.get("t")
        if not _is(_INTEGER, t):
            return _fail(f"frames[{fi}]: field 't' missing or not an integer")
        if t not in known_t:
            return _fail(f"frames[{fi}]: frame t={t} is not in the original twin")
        instances = frame.get("instances")
        if not isinstance(instances, list):
            return _fail(f"frame t={t}: field 'instances' missing or not a list")
        for ii, inst in enumerate(instances):
            where = f"frame t={t}, instance {ii}"
            if not isinstance(inst, dict):
                return _fail(f"{where}: must be an object")
            for name, kind in REQUIRED_INSTANCE_FIELDS.items():
                if name not in inst:
                    return _fail(f"{where}: missing required field '{name}'")
                if not _is(kind, inst[name]):
                    return _fail(f"{where}: field '{name}' should be {kind}, got {type(inst[name]).__name__}")
            where = f"frame t={t}, object {inst['id']}"
            if inst["id"] not in known_ids:
                return _fail(f"{where}: unknown id {inst['id']} (the original twin has {sorted(known_ids)})")
            for key, value in inst["attributes"].items():
                if not isinstance(value, str):
                    return _fail(f"{where}: attribute '{key}' should be string, got {type(value).__name__}")
            spatial = inst["spatial"]
            for name, kind in REQUIRED_SPATIAL_FIELDS.items():
                if name not in spatial:
                    return _fail(f"{where}: missing required field 'spatial.{name}'")
                if not _is(kind, spatial[name]):
                    return _fail(
                        f"{where}: field 'spatial.{name}' should be {kind}, got {type(spatial[name]).__name__}"
                    )
    full = dict(data)
    full.setdefault("format", original.format)
    full.setdefault("video", original.video.model_dump(mode="json"))
    try:
        twin = parse_twin(full, root=original.root)
    except TwinError as exc:
        return _fail(str(exc))
    return ValidationResult(ok=True, twin=twin)
