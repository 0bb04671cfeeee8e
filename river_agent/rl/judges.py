"""Judges of R_perf: did the rollout's edit do what the request asked, and keep everything else?

All judges share one interface, ``judge(trace, case) -> JudgeVerdict`` (score +1 or -1, with a reason):

- ``GroundTruthJudge`` (``ground-truth``): the ids the ops act on are the case's target ids and every op is the
  case's edit op (``strict_params``: its parameters point the same way too). No video, no model: microseconds.
- ``TwinVerificationJudge`` (``twin``): the edited video checked against D' (the trace's ops applied to D) with
  the project's classical perception and pixel statistics: removed objects gone, recoloured ones in the new
  colour, moved/resized ones moved/resized the way asked, every other object's pixels kept. Renders the ops
  with the classical renderer when the case has no edited video. No model; a second or so per small video.
- ``MLLMJudge`` (``mllm``): a multimodal LLM behind litellm sees a few source and edited frames and the request
  and answers yes or no. A backend that is down or an unreadable answer gives -1 with the error as reason.

``make_judge(name, **options)`` builds one by name.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ValidationError, field_validator

from river_agent.errors import RiverError
from river_agent.trace import Trace

JUDGES = ("ground-truth", "twin", "mllm")


class CaseInfo(BaseModel):
    """What a judge knows about the case: the request, its answer when known, and the files.

    Paths missing here are read from ``case_dir``'s ``case.json`` (see :meth:`resolved`)."""

    query: str = ""
    target_ids: list[int] | None = None
    edit: dict[str, Any] | None = None
    level: int | None = None
    case_dir: str | None = None
    video: str | None = None
    edited_video: str | None = None
    twin: str | None = None

    @field_validator("edit", mode="before")
    @classmethod
    def _edit_json(cls, v: Any) -> Any:
        if isinstance(v, str):
            return json.loads(v) if v.strip() else None
        return v

    @field_validator("case_dir", "video", "edited_video", "twin", mode="before")
    @classmethod
    def _no_empty(cls, v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        return v or None

    @classmethod
    def coerce(cls, value: Any) -> CaseInfo:
        """A CaseInfo from a CaseInfo, a dict of its fields (unknown keys ignored) or None."""
        if isinstance(value, CaseInfo):
            return value
        if value is None:
            return cls()
        return cls.model_validate({k: v for k, v in dict(value).items() if k in cls.model_fields})

    @classmethod
    def from_case_dir(cls, case_dir: str | Path, **overrides: Any) -> CaseInfo:
        """Everything a case folder (``case.json``) says, with ``overrides`` on top."""
        return cls(case_dir=str(case_dir), **overrides).resolved()

    def resolved(self) -> CaseInfo:
        """A copy with the fields this one lacks filled from ``case_dir/case.json`` (paths made absolute)."""
        if not self.case_dir:
            return self
        root = Path(self.case_dir)
        try:
            data = json.loads((root / "case.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return self
        fill: dict[str, Any] = {}
        for key in ("video", "twin", "edited_video"):
            if getattr(self, key) is None and data.get(key):
                fill[key] = str(root / data[key])
        if self.target_ids is None and isinstance(data.get("target_ids"), list):
            fill["target_ids"] = [int(i) for i in data["target_ids"]]
        if self.edit is None and isinstance(data.get("edit"), dict):
            fill["edit"] = data["edit"]
        if self.level is None and isinstance(data.get("level"), int):
            fill["level"] = data["level"]
        if not self.query and data.get("query"):
            fill["query"] = str(data["query"])
        return self.model_copy(update=fill)


class JudgeVerdict(BaseModel):
    """A judge's answer: ``ok`` (the edit matches the request and keeps the rest), score +1/-1, why."""

    ok: bool
    score: float
    reason: str = ""
    judge: str = ""


@runtime_checkable
class Judge(Protocol):
    """Anything with ``judge(trace, case) -> JudgeVerdict``."""

    def judge(self, trace: Trace, case: CaseInfo) -> JudgeVerdict: ...


def verdict(ok: bool, reason: str, judge: str) -> JudgeVerdict:
    return JudgeVerdict(ok=ok, score=1.0 if ok else -1.0, reason=reason, judge=judge)


def trace_valid(trace: Trace) -> bool:
    return bool(trace.valid) or trace.status == "ok"


def _invalid_reason(trace: Trace) -> str:
    return f"the edit is not valid ({trace.status}): {trace.reason or 'no reason recorded'}"


# ------------------------------------------------------------------------------------------- source twin, D'
def _twin_path(case: CaseInfo, trace: Trace | None = None) -> Path | None:
    for cand in (case.twin, trace.twin_ref if trace is not None else None):
        if cand and Path(cand).exists():
            return Path(cand)
    return None


def load_source_twin(case: CaseInfo, trace: Trace | None = None) -> Any:
    """D: the case's twin (or the trace's ``twin_ref`` when it is a path); RiverError when there is none."""
    from river_agent.twin.io import load_twin

    path = _twin_path(case, trace)
    if path is None:
        raise RiverError("no source twin: the case names none and the trace's twin_ref is not a file")
    return load_twin(path)


def edited_twin(trace: Trace, source: Any) -> Any:
    """D': the trace's ops applied to D, or the whole twin it wrote; RiverError when neither works."""
    from river_agent.twin.ops import apply_ops, parse_ops
    from river_agent.twin.validate import validate_edited_twin

    if trace.ops:
        try:
            return apply_ops(source, parse_ops(trace.ops))
        except ValidationError as exc:
            raise RiverError(f"bad edit ops: {str(exc).splitlines()[0]}") from exc
    if trace.edited_twin:
        result = validate_edited_twin(trace.edited_twin, source)
        if not result.ok or result.twin is None:
            raise RiverError(f"D' is not valid: {result.reason}")
        return result.twin.with_root(source.root)
    raise RiverError("the trace has neither ops nor an edited twin")


def trace_ops(trace: Trace, case: CaseInfo) -> list[dict[str, Any]] | None:
    """The trace's ops; for a trace that wrote a whole twin, the ops that explain D -> D' (needs D)."""
    if trace.ops:
        return [op for op in trace.ops if isinstance(op, dict)]
    if not trace.edited_twin:
        return None
    from river_agent.twin.diff import diff_twins, ops_from_diff

    try:
        source = load_source_twin(case, trace)
        return [
            op.model_dump(exclude_none=True)
            for op in ops_from_diff(source, diff_twins(source, edited_twin(trace, source)))
        ]
    except RiverError:
        return None


def render_edit(trace: Trace, case: CaseInfo, out_dir: Path) -> Path:
    """Render D -> D' on the case's video with the classical renderer; returns the edited video."""
    from river_agent.tools.render import get_renderer

    if not case.video:
        raise RiverError("no source video to render the edit on")
    source = load_source_twin(case, trace)
    renderer = get_renderer("classical", progress=False, comparison=False, overlay=False)
    return Path(
        renderer.render_twin(case.video, source, edited_twin(trace, source), out_dir / "edited.mp4").output
    )


# ------------------------------------------------------------------------------------------------ ground truth
def _sign(x: Any) -> int:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return 0
    return 0 if abs(v) < 1e-9 else (1 if v > 0 else -1)


def param_mismatch(op: dict[str, Any], edit: dict[str, Any]) -> str | None:
    """Why ``op``'s parameters do not do what ``edit`` asks (colour, style, category, move direction, grow or
    shrink); None when they agree (or the edit gives no parameter to compare)."""
    kind = edit.get("op")
    for key in {"recolor": ("color",), "restyle": ("style",), "replace": ("category",)}.get(kind, ()):
        if key in edit and str(op.get(key, "")).strip().lower() != str(edit[key]).strip().lower():
            return f"{key} {op.get(key)!r}, the request wants {edit[key]!r}"
    if kind == "set_attribute":
        for key in ("key", "value"):
            if key in edit and op.get(key) != edit[key]:
                return f"{key} {op.get(key)!r}, the request wants {edit[key]!r}"
    if kind == "move":
        for key in ("dx", "dy"):
            if key in edit and _sign(op.get(key, 0)) != _sign(edit[key]):
                return f"{key}={op.get(key)} points the other way from {edit[key]}"
    if kind == "resize" and "scale" in edit:
        try:
            grow, want = float(op.get("scale", 1.0)) > 1.0, float(edit["scale"]) > 1.0
        except (TypeError, ValueError):
            return f"scale {op.get('scale')!r} is not a number"
        if grow != want:
            return f"scale {op.get('scale')} {'grows' if grow else 'shrinks'}, the request wants the other way"
    return None


@dataclass
class GroundTruthJudge:
    """On target when the ops act on exactly the case's target ids and each op is the case's edit op."""

    strict_params: bool = field(
        default=False,
        metadata={"help": "Also require the op's colour/style/category, move direction and grow/shrink to match."},
    )
    name: str = "ground-truth"

    def judge(self, trace: Trace, case: CaseInfo) -> JudgeVerdict:
        if not trace_valid(trace):
            return verdict(False, _invalid_reason(trace), self.name)
        if case.target_ids is None:
            case = case.resolved()
        if case.target_ids is None:
            return verdict(False, "the case has no target ids to compare with", self.name)
        ops = trace_ops(trace, case)
        if not ops:
            return verdict(False, "the rollout gave no edit ops", self.name)
        ids = {op.get("id") for op in ops}
        problems = []
        want = {int(i) for i in case.target_ids}
        if ids != want:
            problems.append(f"edits ids {sorted(ids, key=str)}, the request is about {sorted(want)}")
        if case.edit and "op" in case.edit:
            kinds = sorted({str(op.get("op")) for op in ops})
            if kinds != [case.edit["op"]]:
                problems.append(f"ops {kinds}, the request wants {case.edit['op']!r}")
            elif self.strict_params:
                problems += [f"object {op.get('id')}: {m}" for op in ops if (m := param_mismatch(op, case.edit))]
        if problems:
            return verdict(False, "; ".join(problems), self.name)
        return verdict(True, f"ops {[op.get('op') for op in ops]} on {sorted(want)} match the case", self.name)


# -------------------------------------------------------------------------------------------- twin verification
@lru_cache(maxsize=4)
def _perceived_labels(path: str, mtime: float, size: int, perception: str) -> np.ndarray:
    """N x H x W label maps of a video seen by ``perception`` (cached: the source video recurs in training)."""
    from river_agent.tools.perception import get_perception
    from river_agent.twin.io import label_map

    with tempfile.TemporaryDirectory(prefix="river-judge-") as tmp:
        twin = get_perception(perception).run(path, Path(tmp) / "twin", progress=False)
        labels = np.stack([np.array(label_map(twin, f.t)) for f in sorted(twin.frames, key=lambda f: f.t)])
    labels.setflags(write=False)
    return labels


def perceive_labels(video: str | Path, perception: str = "classical", cache: bool = True) -> np.ndarray:
    """Per-frame label maps (N x H x W, 0 = background) of ``video`` from the project's perception; ``cache``
    keeps the last few (source videos recur across a GRPO group)."""
    p = Path(video)
    st = p.stat()
    fn = _perceived_labels if cache else _perceived_labels.__wrapped__
    return fn(str(p.resolve()), st.st_mtime, st.st_size, perception)


def _best_match(labels: np.ndarray, mask: np.ndarray) -> tuple[int, float, float]:
    """(label, IoU, share of ``mask`` covered) of the perceived region overlapping ``mask`` most."""
    inside = labels[mask]
    inside = inside[inside > 0]
    if inside.size == 0 or not mask.any():
        return 0, 0.0, 0.0
    values, counts = np.unique(inside, return_counts=True)
    best = int(values[int(np.argmax(counts))])
    region = labels == best
    inter = int((region & mask).sum())
    return best, inter / int((region | mask).sum()), inter / int(mask.sum())


def _shift(mask: np.ndarray, sx: int, sy: int) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros_like(mask)
    ys, xs = slice(max(0, sy), min(h, h + sy)), slice(max(0, sx), min(w, w + sx))
    yd, xd = slice(max(0, -sy), min(h, h - sy)), slice(max(0, -sx), min(w, w - sx))
    out[ys, xs] = mask[yd, xd]
    return out


def _scale(mask: np.ndarray, s: float) -> np.ndarray:
    import cv2

    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return mask.copy()
    cx, cy = float(xs.mean()), float(ys.mean())
    affine = np.array([[s, 0.0, cx * (1 - s)], [0.0, s, cy * (1 - s)]], np.float32)
    h, w = mask.shape
    return cv2.warpAffine(mask.astype(np.uint8), affine, (w, h), flags=cv2.INTER_NEAREST) > 0


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()]) if ys.size else np.array([np.nan, np.nan])


PATTERNS = ("plain", "striped", "dotted")


@dataclass
class TwinVerificationJudge:
    """Checks the edited video against D' with classical perception and pixel statistics (no model).

    Per object of D and frame where it is visible (its mask M from D's label maps):

    - removed: no perceived region matches M (IoU >= ``iou``) and >= ``changed`` of M's pixels changed;
    - recoloured: the dominant palette colour of the edited pixels in M is the new colour (or the palette name
      of its rgb);
    - restyled: the classical pattern of the edited pixels in M is the new style (plain/striped/dotted), other
      styles (and replaced categories, set attributes) only need >= ``appearance_changed`` of M changed;
    - moved: where perception saw the object in the source, the perceived region at M shifted by (dx, dy) has
      its centroid moved >= half the requested shift along it; elsewhere M itself changed and the shifted mask
      changed too;
    - resized: where perception saw it, the perceived area grew (shrank) by >= 30% of the requested change;
      elsewhere the ring between M and the scaled mask changed;
    - every other object (and an edited one outside its edit's frames): <= ``kept_changed`` of its pixels
      changed, away from the edited objects' old and new places.

    A check passes when it holds in >= ``quorum`` of its frames; +1 only when every check passes.
    ``require_ground_truth`` also asks the ground-truth judge (when the case has target ids): this judge alone
    verifies that the video realises D', not that D' is the edit the request wanted.
    """

    iou: float = field(default=0.5, metadata={"help": "IoU at which a perceived region is the object."})
    quorum: float = field(default=0.6, metadata={"help": "Share of its frames in which a check must hold."})
    changed: float = field(default=0.5, metadata={"help": "Share of a removed object's pixels that must change."})
    appearance_changed: float = field(
        default=0.25, metadata={"help": "Share of pixels that must change for an unverifiable appearance edit."}
    )
    kept_changed: float = field(default=0.2, metadata={"help": "Most share of a kept object's pixels changed."})
    min_pixels: int = field(default=16, metadata={"help": "Frames where a mask is smaller are not checked."})
    render_missing: bool = field(
        default=True, metadata={"help": "Render D -> D' (classical) when the case has no edited video."}
    )
    require_ground_truth: bool = field(
        default=False, metadata={"help": "Also require the ground-truth judge to agree (cases with target ids)."}
    )
    perception: str = field(default="classical", metadata={"help": "Perception preset that re-perceives."})
    name: str = "twin"

    def judge(self, trace: Trace, case: CaseInfo) -> JudgeVerdict:
        if not trace_valid(trace):
            return verdict(False, _invalid_reason(trace), self.name)
        case = case.resolved()
        try:
            source = load_source_twin(case, trace)
            after = edited_twin(trace, source)
            case = _with_video(case, trace, source)
            if not case.video:
                raise RiverError("no source video: the case names none and the twin's video.path is missing")
            if case.edited_video:
                failed, passed = self.check(case.video, case.edited_video, source, after)
            elif self.render_missing:
                with tempfile.TemporaryDirectory(prefix="river-judge-render-") as tmp:
                    out = render_edit(trace, case, Path(tmp))
                    failed, passed = self.check(case.video, out, source, after)
            else:
                return verdict(False, "the case has no edited video", self.name)
        except (RiverError, OSError, ValueError) as exc:
            return verdict(False, f"cannot verify: {type(exc).__name__}: {exc}", self.name)
        if self.require_ground_truth and case.target_ids is not None:
            gt = GroundTruthJudge().judge(trace, case)
            if not gt.ok:
                failed.append(f"ground truth: {gt.reason}")
        if failed:
            return verdict(False, "failed: " + "; ".join(failed), self.name)
        return verdict(True, f"all {passed} checks passed", self.name)

    def check(self, video: Any, edited: Any, source: Any, after: Any) -> tuple[list[str], int]:
        """(failed checks, number of checks) of ``edited`` against D -> D'."""
        from river_agent.bench.metrics import dilate, edited_region
        from river_agent.twin.diff import diff_twins
        from river_agent.twin.io import instance_mask
        from river_agent.video.io import read_frames

        src, out = read_frames(video), read_frames(edited)
        if src.shape != out.shape:
            raise RiverError(f"the edited video is {out.shape[:3]} (frames, h, w), the source {src.shape[:3]}")
        n, h, w = src.shape[:3]
        if (w, h) != (source.video.width, source.video.height):
            raise RiverError(f"the video is {w}x{h}, the twin {source.video.width}x{source.video.height}")
        seen = perceive_labels(video, self.perception)
        now = perceive_labels(edited, self.perception, cache=False)
        changes: dict[tuple[int, int], list[Any]] = defaultdict(list)
        for ch in diff_twins(source, after).changes:
            for t in ch.frames:
                changes[(ch.id, t)].append(ch)
        if not changes:
            return ["D' makes no change to D"], 1
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # check -> [passed, frames]
        for t in range(min(n, len(source.frames))):
            diff = edited_region(src[t], out[t])
            masks = {o: instance_mask(source, t, o) for o in source.object_ids()}
            places = np.zeros((h, w), bool)  # where edited objects were or go
            for (o, tt), chs in changes.items():
                if tt == t:
                    places |= masks[o]
                    for ch in chs:
                        places |= self._target_mask(ch, masks[o], w, h)
            places = dilate(places, 3)
            for o, m in masks.items():
                if int(m.sum()) < self.min_pixels:
                    continue
                chs = changes.get((o, t))
                if not chs:
                    keep = m & ~places
                    if int(keep.sum()) >= self.min_pixels:
                        _add(tally, f"object {o} kept", _frac(diff, keep) <= self.kept_changed)
                    continue
                for ch in chs:
                    label, ok = self._check_change(ch, m, t, src, out, diff, seen, now, w, h)
                    if ok is not None:
                        _add(tally, f"object {o} {label}", ok)
        failed = [
            f"{name} in {p}/{k} frames" for name, (p, k) in sorted(tally.items()) if k and p < self.quorum * k
        ]
        return failed, len(tally)

    @staticmethod
    def _target_mask(ch: Any, m: np.ndarray, w: int, h: int) -> np.ndarray:
        if ch.kind == "moved":
            return _shift(m, round(ch.detail["dx"] * w), round(ch.detail["dy"] * h))
        if ch.kind == "resized":
            return _scale(m, float(ch.detail["scale"]))
        return np.zeros_like(m)

    def _check_change(
        self,
        ch: Any,
        m: np.ndarray,
        t: int,
        src: np.ndarray,
        out: np.ndarray,
        diff: np.ndarray,
        seen: np.ndarray,
        now: np.ndarray,
        w: int,
        h: int,
    ) -> tuple[str, bool | None]:
        """(check name, whether it holds in frame ``t``; None: not checkable here)."""
        from river_agent.tools.perception.classical.attributes import pattern_of
        from river_agent.tools.perception.colors import color_name, dominant_color

        if ch.kind == "removed":
            _, iou, _ = _best_match(now[t], m)
            return "removed", iou < self.iou and _frac(diff, m) >= self.changed
        if ch.kind == "category":
            return f"replaced by {ch.detail['category']}", _frac(diff, m) >= self.changed
        if ch.kind == "attribute":
            key, value = ch.detail["key"], str(ch.detail.get("value") or "")
            if key == "color":
                got, _ = dominant_color(out[t][_inner(m)])
                names = {value.lower()}
                if ch.detail.get("rgb"):
                    rgb = ch.detail["rgb"]
                    names.add(color_name(tuple(int(rgb[i : i + 2], 16) for i in (1, 3, 5))))
                return f"recolored {value}", got in names
            if key in ("style", "pattern") and value.lower() in PATTERNS:
                return f"restyled {value}", pattern_of(out[t], m) == value.lower()
            return f"{key} set to {value}", _frac(diff, m) >= self.appearance_changed
        target = self._target_mask(ch, m, w, h)
        _, iou_src, _ = _best_match(seen[t], m)
        if ch.kind == "moved":
            want = np.array([ch.detail["dx"] * w, ch.detail["dy"] * h])
            if float(np.hypot(*want)) < 2.0:
                return "moved", None
            label = "moved " + _direction(want)
            if iou_src >= self.iou and target.any():
                found, _, cover = _best_match(now[t], target)
                if not found or cover < 0.3:
                    return label, False
                got = _centroid(now[t] == found) - _centroid(m)
                return label, float(got @ want) >= 0.5 * float(want @ want)
            old, new = m & ~target, target & ~m
            ok = int(old.sum()) < self.min_pixels or _frac(diff, old) >= self.changed
            if int(new.sum()) >= self.min_pixels:
                ok = ok and _frac(diff, new) >= self.appearance_changed
            return label, ok
        if ch.kind == "resized":
            s = float(ch.detail["scale"])
            if abs(s - 1.0) < 0.05:
                return "resized", None
            label = f"{'enlarged' if s > 1 else 'shrunk'} x{s:g}"
            if iou_src >= self.iou:
                before, _, _ = _best_match(seen[t], m)
                found, _, cover = _best_match(now[t], target if s > 1 else m)
                if not found:
                    return label, False
                ratio = int((now[t] == found).sum()) / max(1, int((seen[t] == before).sum()))
                return label, ratio >= 1 + 0.3 * (s * s - 1) if s > 1 else ratio <= 1 - 0.3 * (1 - s * s)
            ring = (target & ~m) if s > 1 else (m & ~target)
            if int(ring.sum()) < self.min_pixels:
                return label, None
            return label, _frac(diff, ring) >= (self.appearance_changed if s > 1 else self.changed)
        return ch.kind, None


def _add(tally: dict[str, list[int]], name: str, ok: bool) -> None:
    tally[name][0] += int(ok)
    tally[name][1] += 1


def _frac(diff: np.ndarray, mask: np.ndarray) -> float:
    total = int(mask.sum())
    return int((diff & mask).sum()) / total if total else 0.0


def _inner(mask: np.ndarray) -> np.ndarray:
    """The mask without its 2-pixel rim (anti-aliased edges), when enough is left."""
    import cv2

    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return inner if int(inner.sum()) >= 16 else mask


def _direction(v: np.ndarray) -> str:
    parts = []
    if abs(v[0]) >= 1:
        parts.append("right" if v[0] > 0 else "left")
    if abs(v[1]) >= 1:
        parts.append("down" if v[1] > 0 else "up")
    return "/".join(parts)


def _with_video(case: CaseInfo, trace: Trace, source: Any = None) -> CaseInfo:
    """``case`` with its source video filled from the twin's ``video.path`` when it names none."""
    if case.video:
        return case
    try:
        source = source if source is not None else load_source_twin(case, trace)
    except RiverError:
        return case
    return case.model_copy(update={"video": _twin_video(source)})


def _twin_video(source: Any) -> str | None:
    p = Path(source.video.path)
    if not p.is_absolute() and source.root is not None:
        p = source.root / p
    return str(p) if p.exists() else None


# ---------------------------------------------------------------------------------------------------- MLLM
RUBRIC = (
    "You check video edits. You see frames of the source video, then the same moments of the edited video, "
    "and the edit request. Answer yes only if the edited video does what the request asks to the object(s) it "
    "names and leaves everything else as it was; answer no otherwise. Reply with JSON only: "
    '{"verdict": "yes" or "no", "reason": "one short sentence"}'
)

_WORD = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_yes_no(text: str) -> bool | None:
    """True/False from a judge's reply (JSON with verdict/answer/match, or a leading yes/no); None if neither."""
    text = re.sub(r"<think>.*?</think>", "", text or "", flags=re.DOTALL | re.IGNORECASE).strip()
    for m in re.finditer(r"\{[^{}]*\}", text):
        try:
            data = json.loads(m.group(0))
        except json.JSONDecodeError:
            continue
        for key in ("verdict", "answer", "match", "ok", "result"):
            v = data.get(key) if isinstance(data, dict) else None
            if isinstance(v, bool):
                return v
            if isinstance(v, str) and v.strip().lower() in ("yes", "no", "true", "false"):
                return v.strip().lower() in ("yes", "true")
    m = _WORD.search(text)
    return m.group(1).lower() == "yes" if m else None


def sample_frames(video: str | Path, k: int, max_side: int = 384) -> list[np.ndarray]:
    """``k`` evenly spaced frames of ``video``, downscaled so the longer side is at most ``max_side``."""
    import cv2

    from river_agent.video.io import iter_frames, probe_video

    n = max(1, probe_video(video).num_frames)
    want = {round(i * (n - 1) / max(1, k - 1)) for i in range(k)} if k > 1 else {n // 2}
    frames = []
    for t, frame in enumerate(iter_frames(video)):
        if t in want:
            h, w = frame.shape[:2]
            f = max_side / max(h, w)
            if f < 1:
                frame = cv2.resize(
                    frame, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
                )
            frames.append(frame)
    return frames


def jpeg_data_url(frame: np.ndarray, quality: int = 80) -> str:
    import cv2

    ok, buf = cv2.imencode(".jpg", frame[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RiverError("could not encode a frame as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


@dataclass
class MLLMJudge:
    """A multimodal LLM through litellm judges source vs edited frames against the request (yes / no)."""

    model: str = field(
        default="openai/qwen2.5-vl-7b",
        metadata={"help": "litellm model, e.g. 'openai/qwen2.5-vl-7b' or 'hosted_vllm/NAME' (with api_base)."},
    )
    api_base: str | None = field(default=None, metadata={"help": "OpenAI-compatible server, e.g. .../v1."})
    api_key: str | None = field(default=None, metadata={"help": "API key ('EMPTY' with an api_base if unset)."})
    timeout: float = field(default=60.0, metadata={"help": "Seconds to wait for the answer."})
    frames: int = field(default=3, metadata={"help": "Frames sampled from each video."})
    max_side: int = field(default=384, metadata={"help": "Longer side of a frame sent, in pixels."})
    max_tokens: int = field(default=128, metadata={"help": "Token limit of the answer."})
    render_missing: bool = field(
        default=True, metadata={"help": "Render D -> D' (classical) when the case has no edited video."}
    )
    name: str = "mllm"

    def judge(self, trace: Trace, case: CaseInfo) -> JudgeVerdict:
        if not trace_valid(trace):
            return verdict(False, _invalid_reason(trace), self.name)
        case = case.resolved()
        try:
            case = _with_video(case, trace)
            if not case.video:
                raise RiverError("the case has no source video")
            if case.edited_video:
                content = self.content(case.query, case.video, case.edited_video)
            elif self.render_missing:
                with tempfile.TemporaryDirectory(prefix="river-judge-render-") as tmp:
                    content = self.content(case.query, case.video, render_edit(trace, case, Path(tmp)))
            else:
                raise RiverError("the case has no edited video")
        except (RiverError, OSError, ValueError) as exc:
            return verdict(False, f"cannot judge: {type(exc).__name__}: {exc}", self.name)
        try:
            reply = self.ask(content)
        except Exception as exc:  # a backend that is down or broken is a failed judgement, not a crash
            return verdict(False, f"the judge backend failed: {type(exc).__name__}: {_first_line(exc)}", self.name)
        answer = parse_yes_no(reply)
        if answer is None:
            return verdict(False, f"unparseable judge reply: {reply[:200]!r}", self.name)
        return verdict(answer, f"judge says {'yes' if answer else 'no'}: {reply.strip()[:300]}", self.name)

    def content(self, query: str, video: Any, edited: Any) -> list[dict[str, Any]]:
        """The user message's parts: the request, the source frames, the edited frames."""
        parts: list[dict[str, Any]] = [{"type": "text", "text": f"Edit request: {query}\nSource video frames:"}]
        parts += [_image(f) for f in sample_frames(video, self.frames, self.max_side)]
        parts.append({"type": "text", "text": "Edited video frames (same moments):"})
        parts += [_image(f) for f in sample_frames(edited, self.frames, self.max_side)]
        parts.append({"type": "text", "text": "Does the edited video do what the request asks and keep the rest?"})
        return parts

    def ask(self, content: list[dict[str, Any]]) -> str:
        """Send the rubric and ``content``; the reply's text."""
        resp = _litellm().completion(
            model=self.model,
            messages=[{"role": "system", "content": RUBRIC}, {"role": "user", "content": content}],
            api_base=self.api_base,
            api_key=self.api_key if self.api_key is not None else ("EMPTY" if self.api_base else None),
            timeout=self.timeout,
            temperature=0.0,
            max_tokens=self.max_tokens,
            num_retries=0,
            max_retries=0,
        )
        return resp.choices[0].message.content or ""


def _image(frame: np.ndarray) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": jpeg_data_url(frame)}}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else "")[:300]


# ---------------------------------------------------------------------------------------------------- factory
def make_judge(name: str, **options: Any) -> Judge:
    """A judge by name: 'ground-truth', 'twin' or 'mllm'; ``options`` set its fields."""
    key = name.strip().lower().replace("_", "-")
    key = {"gt": "ground-truth", "groundtruth": "ground-truth", "twin-verification": "twin", "vlm": "mllm"}.get(
        key, key
    )
    classes: dict[str, type] = {
        "ground-truth": GroundTruthJudge,
        "twin": TwinVerificationJudge,
        "mllm": MLLMJudge,
    }
    if key not in classes:
        raise RiverError(f"unknown judge {name!r}; choose one of: {', '.join(JUDGES)}")
    try:
        return classes[key](**options)
    except TypeError as exc:
        raise RiverError(f"bad option for the {key} judge: {exc}") from exc


__all__ = [
    "JUDGES",
    "CaseInfo",
    "GroundTruthJudge",
    "Judge",
    "JudgeVerdict",
    "MLLMJudge",
    "TwinVerificationJudge",
    "make_judge",
]
