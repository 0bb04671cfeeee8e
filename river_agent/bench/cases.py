"""Reading cases in the shared format (rve-case/1): case.json, source video, target masks (+ expected, twin)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from river_agent.errors import RiverError

CASE_FORMAT = "rve-case/1"
CATEGORIES = ("semantic", "spatial", "temporal")
EDIT_OPS = ("recolor", "remove", "move", "resize", "replace", "restyle")


class CaseError(RiverError):
    """A case folder is missing a file or its case.json does not match the format."""


class Case(BaseModel):
    """One benchmark case; paths are relative to ``root`` (the case folder)."""

    model_config = ConfigDict(extra="allow")

    format: str = CASE_FORMAT
    id: str
    query: str
    level: int = Field(ge=1, le=3)
    category: str
    video: str = "video.mp4"
    target_masks: str = "target_masks"
    edit: dict[str, Any]
    expected_video: str | None = None
    twin: str | None = None
    source: str = "unknown"
    root: Path = Field(default=Path("."), exclude=True)

    @field_validator("category")
    @classmethod
    def _cat(cls, v: str) -> str:
        if v not in CATEGORIES:
            raise ValueError(f"category must be one of {CATEGORIES}")
        return v

    @field_validator("edit")
    @classmethod
    def _edit(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("op") not in EDIT_OPS:
            raise ValueError(f"edit.op must be one of {EDIT_OPS}")
        return v

    @property
    def video_path(self) -> Path:
        return self.root / self.video

    @property
    def masks_path(self) -> Path:
        return self.root / self.target_masks

    @property
    def expected_path(self) -> Path | None:
        if not self.expected_video:
            return None
        p = self.root / self.expected_video
        return p if p.exists() else None

    @property
    def twin_path(self) -> Path | None:
        if not self.twin:
            return None
        p = self.root / self.twin
        return p if p.exists() else None

    @property
    def cell(self) -> str:
        return f"L{self.level}/{self.category}"


def load_case(case_dir: str | Path) -> Case:
    """Load and check one case folder."""
    case_dir = Path(case_dir)
    path = case_dir / "case.json"
    if not path.exists():
        raise CaseError(f"{case_dir}: no case.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        case = Case.model_validate(data)
    except json.JSONDecodeError as exc:
        raise CaseError(f"{path}: not valid JSON: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CaseError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
    case.root = case_dir
    if not case.video_path.exists():
        raise CaseError(f"{case_dir}: source video {case.video!r} is missing")
    if not case.masks_path.is_dir():
        raise CaseError(f"{case_dir}: target mask folder {case.target_masks!r} is missing")
    return case


def list_cases(suite: str | Path) -> list[Case]:
    """Every case of a suite folder (sorted by folder name); a case folder itself gives one case."""
    suite = Path(suite)
    if not suite.exists():
        raise CaseError(f"{suite}: no such suite folder")
    if (suite / "case.json").exists():
        return [load_case(suite)]
    dirs = sorted(p for p in suite.iterdir() if p.is_dir() and (p / "case.json").exists())
    if not dirs:
        raise CaseError(f"{suite}: no case folders (sub-folders with a case.json)")
    return [load_case(d) for d in dirs]


def read_target_masks(case: Case, num_frames: int, height: int, width: int) -> np.ndarray:
    """N x H x W bool target masks; a missing frame file counts as an all-black frame."""
    files = sorted(p for p in case.masks_path.iterdir() if p.suffix.lower() == ".png")
    by_index = {}
    for p in files:
        try:
            by_index[int(p.stem)] = p
        except ValueError:
            continue
    out = np.zeros((num_frames, height, width), bool)
    for t in range(num_frames):
        p = by_index.get(t)
        if p is None:
            continue
        m = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        if m is None:
            raise CaseError(f"{p}: unreadable mask")
        if m.shape != (height, width):
            raise CaseError(f"{p}: mask is {m.shape[1]}x{m.shape[0]}, video is {width}x{height}")
        out[t] = m > 127
    return out
