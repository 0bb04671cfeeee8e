"""Systems the evaluator can run on a case: ``oracle``, ``baseline`` and ``river``.

- ``oracle``: the case's own ``edit`` and ``target_masks`` handed straight to the renderer, with the case's twin
  (when it has one) as the scene's other objects (an upper bound of what the renderer can do when grounding and
  perception are perfect).
- ``baseline``: no reasoning. It edits whatever objects of the twin the query's words name (kind words and
  colour words) with the case's edit op, or nothing. It uses the case's twin when there is one, else runs
  perception.
- ``river``: the full pipeline (``river_agent.agent.RiverAgent``), on perception's twin or, with ``--gt-twin``,
  on the case's ground-truth twin.

A system that cannot produce an output returns ``SystemRun(ok=False, error=...)``: a recorded failure.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from river_agent.bench.cases import Case
from river_agent.bench.queries import KIND_WORDS
from river_agent.bench.scene import PALETTE
from river_agent.errors import NotBuiltError, RiverError

SYSTEMS = ("oracle", "baseline", "river")


@dataclass
class SystemRun:
    """What one system did on one case."""

    ok: bool
    output: Path | None = None
    error: str = ""
    info: dict[str, Any] = field(default_factory=dict)


def _renderer(name: str) -> Any:
    try:
        from river_agent.tools.render import get_renderer
    except ImportError as exc:  # pragma: no cover - the renderer ships with the package
        raise NotBuiltError("the renderer (river_agent.tools.render) is not available") from exc
    opts: dict[str, Any] = {}
    if name == "classical":
        opts = {"progress": False, "comparison": False, "overlay": False}
    return get_renderer(name, **opts)


def run_oracle(case: Case, out: Path, renderer: str = "classical") -> SystemRun:
    """Render the case's ground-truth edit on its ground-truth target masks (with the case's ground-truth twin
    D, when it has one, as the scene: perfect perception knows the other objects' masks too)."""
    try:
        scene = None
        if case.twin_path is not None:
            from river_agent.twin.io import load_twin

            scene = load_twin(case.twin_path)
        _renderer(renderer).render_masks(case.video_path, case.masks_path, dict(case.edit), out, scene=scene)
    except RiverError as exc:
        return SystemRun(False, error=f"{type(exc).__name__}: {exc}")
    return SystemRun(True, out)


# ------------------------------------------------------------------------------------------------ baseline
def _word_in(word: str, text: str) -> bool:
    return re.search(rf"\b{re.escape(word)}s?\b", text) is not None


def baseline_targets(query: str, twin: Any, edit: dict[str, Any] | None = None) -> list[int]:
    """Objects of ``twin`` whose kind and/or colour words occur in ``query`` (no reasoning at all)."""
    text = query.lower()
    if edit and edit.get("op") == "recolor":  # the new colour is not a description of the target
        text = re.sub(rf"\b{re.escape(str(edit.get('color', '')).lower())}\b", " ", text)
    kinds: dict[int, str] = {}
    colors: dict[int, str] = {}
    for frame in twin.frames:
        for inst in frame.instances:
            kinds[inst.id] = inst.category.lower()
            colors[inst.id] = str(inst.attributes.get("color", "")).lower()
    named_kinds = {k for k in set(kinds.values()) if any(_word_in(w, text) for w in [*KIND_WORDS.get(k, [k]), k])}
    named_colors = {c for c in set(colors.values()) | set(PALETTE) if c and _word_in(c, text)}
    ids = []
    for i in sorted(kinds):
        kind_ok = kinds[i] in named_kinds
        color_ok = colors[i] in named_colors
        if (named_kinds and kind_ok and (not named_colors or color_ok)) or (not named_kinds and color_ok):
            ids.append(i)
    return ids


def _twin_for(case: Case, work: Path, use_case_twin: bool = True) -> Any:
    from river_agent.twin.io import load_twin

    if use_case_twin and case.twin_path is not None:
        return load_twin(case.twin_path)
    try:
        from river_agent.tools.perception import get_perception
    except ImportError as exc:
        raise NotBuiltError("the case has no twin and no perception backend is installed") from exc
    return get_perception("classical").run(case.video_path, work / "twin", progress=False)


def run_baseline(case: Case, out: Path, renderer: str = "classical") -> SystemRun:
    """Edit whatever the query's words match (or nothing)."""
    from river_agent.twin.io import instance_mask

    with tempfile.TemporaryDirectory(prefix="river-baseline-") as tmp:
        try:
            twin = _twin_for(case, Path(tmp))
        except RiverError as exc:
            return SystemRun(False, error=f"{type(exc).__name__}: {exc}")
        ids = baseline_targets(case.query, twin, case.edit)
        info = {"target_ids": ids}
        if not ids:
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(case.video_path, out)  # edits nothing: the output is the source
            return SystemRun(True, out, info={**info, "note": "no object matched the query's words"})
        h, w = twin.video.height, twin.video.width
        masks = []
        for frame in sorted(twin.frames, key=lambda f: f.t):
            m = np.zeros((h, w), bool)
            for i in ids:
                if frame.instance(i) is not None:
                    m |= instance_mask(twin, frame.t, i)
            masks.append(m)
        try:
            _renderer(renderer).render_masks(case.video_path, masks, dict(case.edit), out)
        except RiverError as exc:
            return SystemRun(False, error=f"{type(exc).__name__}: {exc}", info=info)
    return SystemRun(True, out, info=info)


# ------------------------------------------------------------------------------------------------ river
def river_agent_class() -> tuple[Any, Any]:
    """(RiverAgent, AgentConfig), or NotBuiltError when the agent module is not there yet."""
    try:
        from river_agent.agent import AgentConfig, RiverAgent
    except ImportError as exc:
        raise NotBuiltError(
            "the `river` system needs river_agent.agent (RiverAgent), which is not built in this checkout"
        ) from exc
    return RiverAgent, AgentConfig


class RiverSystem:
    """The full pipeline, one agent reused over the cases."""

    def __init__(self, gt_twin: bool = False, agent_config: str | Path | None = None, renderer: str = "classical"):
        agent_cls, config_cls = river_agent_class()
        cfg = config_cls.from_file(agent_config) if agent_config else config_cls()
        if hasattr(cfg, "renderer"):
            cfg.renderer = renderer
        if hasattr(cfg, "progress"):
            cfg.progress = False
        self.agent = agent_cls(cfg)
        self.gt_twin = gt_twin

    def __call__(self, case: Case, out: Path) -> SystemRun:
        twin = case.twin_path if self.gt_twin else None
        if self.gt_twin and twin is None:
            return SystemRun(False, error="--gt-twin: the case has no twin")
        try:
            result = self.agent.edit(case.video_path, case.query, out=out, twin=twin)
        except RiverError as exc:
            return SystemRun(False, error=f"{type(exc).__name__}: {exc}")
        ok = bool(getattr(result, "ok", True))
        video = getattr(result, "video", None) or getattr(result, "output_video", None)
        info: dict[str, Any] = {"ops": getattr(result, "ops", None)}
        if not ok or video is None or not Path(video).exists():
            return SystemRun(False, error=str(getattr(result, "error", "") or "no output video"), info=info)
        if Path(video) != out:
            shutil.copyfile(video, out)
        return SystemRun(True, out, info=info)

    def close(self) -> None:
        close = getattr(self.agent, "close", None)
        if close:
            close()
