"""Read and write a twin folder: ``twin.json`` plus ``masks/`` (label maps), as in docs/twin-format.md."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from river_agent.errors import TwinError
from river_agent.fsutil import atomic_dir
from river_agent.twin.masks import mask_filename, read_label_map, write_label_map
from river_agent.twin.schema import Twin

TWIN_FILE = "twin.json"


def twin_json_path(path: str | Path) -> Path:
    """Accept a twin folder or its ``twin.json``; return the json path."""
    path = Path(path)
    return path / TWIN_FILE if path.is_dir() else path


def parse_twin(text: str | bytes | dict, root: str | Path | None = None) -> Twin:
    """Parse twin JSON (text or an already-decoded dict); errors say what is wrong."""
    try:
        data = json.loads(text) if isinstance(text, str | bytes) else text
    except json.JSONDecodeError as exc:
        raise TwinError(f"twin is not valid JSON: {exc}") from exc
    try:
        twin = Twin.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise TwinError(f"twin does not match river-twin/1 at {where}: {first['msg']}") from exc
    return twin.with_root(root)


def load_twin(path: str | Path) -> Twin:
    """Load a twin from its folder or its ``twin.json``."""
    json_path = twin_json_path(path)
    if not json_path.exists():
        raise TwinError(f"{json_path}: no such twin file")
    try:
        text = json_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TwinError(f"{json_path}: cannot read: {exc}") from exc
    try:
        return parse_twin(text, root=json_path.parent)
    except TwinError as exc:
        raise TwinError(f"{json_path}: {exc}") from exc


def save_twin(
    twin: Twin,
    out_dir: str | Path,
    label_maps: Iterable[tuple[int, np.ndarray]] | None = None,
) -> Path:
    """Write ``twin.json`` and ``masks/`` to ``out_dir`` atomically; returns the json path.

    ``label_maps`` yields ``(t, label_map)`` for new masks; without it, the mask files the twin references are
    copied from the folder it was loaded from (if any).
    """
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        written: set[str] = set()
        if label_maps is not None:
            for t, label_map in label_maps:
                rel = mask_filename(t)
                write_label_map(tmp / rel, label_map)
                written.add(rel)
        elif twin.root is not None:
            for rel in sorted(referenced_mask_files(twin)):
                src = twin.root / rel
                if src.exists():
                    (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, tmp / rel)
        (tmp / TWIN_FILE).write_text(dump_twin_json(twin), encoding="utf-8")
    return out_dir / TWIN_FILE


def dump_twin_json(twin: Twin, indent: int | None = 1) -> str:
    return json.dumps(twin.to_json_dict(), indent=indent, ensure_ascii=False)


def referenced_mask_files(twin: Twin) -> set[str]:
    files = {f.mask for f in twin.frames if f.mask}
    files |= {inst.mask_file for f in twin.frames for inst in f.instances}
    return files


@lru_cache(maxsize=64)
def _cached_label_map(path: str, mtime: float) -> np.ndarray:
    arr = read_label_map(path)
    arr.setflags(write=False)
    return arr


def label_map(twin: Twin, t: int) -> np.ndarray:
    """The label map of frame ``t`` (read lazily, cached); all zeros when the frame has no mask file."""
    frame = next((f for f in twin.frames if f.t == t), None)
    if frame is None:
        raise TwinError(f"twin has no frame t={t}")
    rel = frame.mask or (frame.instances[0].mask_file if frame.instances else None)
    if rel is None:
        return np.zeros((twin.video.height, twin.video.width), np.uint16)
    if twin.root is None:
        raise TwinError("twin was not loaded from a folder, so its masks cannot be read")
    path = twin.root / rel
    if not path.exists():
        raise TwinError(f"{path}: mask file referenced by frame {t} is missing")
    return _cached_label_map(str(path), path.stat().st_mtime)


def instance_mask(twin: Twin, t: int, obj_id: int) -> np.ndarray:
    """Boolean mask of object ``obj_id`` in frame ``t`` (all False when it is not visible)."""
    frame = next((f for f in twin.frames if f.t == t), None)
    inst = frame.instance(obj_id) if frame else None
    if inst is None:
        return np.zeros((twin.video.height, twin.video.width), bool)
    if twin.root is None:
        raise TwinError("twin was not loaded from a folder, so its masks cannot be read")
    path = twin.root / inst.mask_file
    if not path.exists():
        raise TwinError(f"{path}: mask file of object {obj_id} in frame {t} is missing")
    return _cached_label_map(str(path), path.stat().st_mtime) == inst.mask_label
