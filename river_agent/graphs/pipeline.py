"""The whole edit as a LangGraph state machine: perceive -> reason -> validate -> render -> verify.

Perception, the rollout and rendering are tool nodes calling the injected :class:`PipelineTools`; the graph
streams typed events (``river_agent.graphs.events``) through LangGraph's custom stream. A failed stage ends the
run with ``status="failed"`` and a readable ``error``; it never raises for a user mistake.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from river_agent.errors import RiverError
from river_agent.graphs.events import AgentEvent, RolloutSegment, StageFinished, StageStarted
from river_agent.trace import Trace
from river_agent.twin.diff import diff_twins
from river_agent.twin.io import load_twin, save_twin, twin_json_path
from river_agent.twin.schema import Twin
from river_agent.twin.validate import validate_edited_twin

STAGES = ("perceive", "reason", "validate", "render", "verify")
DIFF_THRESHOLD = 24  # per-pixel max channel difference counted as "changed" (as the benchmark scores it)


@dataclass
class PipelineTools:
    """What the pipeline calls; ``RiverAgent`` fills it with the configured backends."""

    perceive: Callable[[Path, Path], Path]  # (video, out_dir) -> twin.json path
    reason: Callable[..., Trace]  # (twin_path, query, on_event=...) -> Trace
    edited_twin: Callable[[Trace], Twin | None]  # D' of a successful rollout
    render: Callable[[Path, Twin, Twin, Path], Any]  # -> RenderResult (output, comparison, overlay)
    save_trace: Callable[[Trace, Path], Path]


class PipelineState(TypedDict, total=False):
    video: str
    query: str
    out: str
    work_dir: str
    twin_path: str | None
    trace_path: str | None
    trace_id: str | None
    edited_twin_path: str | None
    ops: list[dict[str, Any]] | None
    changes: list[str]
    output: str | None
    comparison: str | None
    overlay: str | None
    verify: dict[str, Any]
    status: str
    stage: str
    error: str
    timings: dict[str, float]


def _emit(event: AgentEvent) -> None:
    try:
        writer = get_stream_writer()
    except RuntimeError:  # not running inside a graph stream
        return
    writer(event)


class Pipeline:
    """Compiled pipeline graph; ``stream(...)`` yields typed events and finally the end state."""

    def __init__(self, tools: PipelineTools) -> None:
        self.tools = tools
        self._traces: dict[str, Trace] = {}
        g = StateGraph(PipelineState)
        g.add_node("perceive", self._stage("perceive", self._perceive), destinations=("reason", END))
        g.add_node("reason", self._stage("reason", self._reason), destinations=("validate", END))
        g.add_node("validate", self._stage("validate", self._validate), destinations=("render", END))
        g.add_node("render", self._stage("render", self._render), destinations=("verify", END))
        g.add_node("verify", self._stage("verify", self._verify), destinations=(END,))
        g.add_edge(START, "perceive")
        self.graph = g.compile()

    def trace(self, trace_id: str | None) -> Trace | None:
        return self._traces.get(trace_id) if trace_id else None

    @staticmethod
    def _stage(
        name: str, fn: Callable[[PipelineState], Command]
    ) -> Callable[[PipelineState, RunnableConfig], Command]:
        nxt = dict(zip(STAGES, [*STAGES[1:], END], strict=True))

        def node(state: PipelineState, config: RunnableConfig) -> Command:
            _emit(StageStarted(name))
            t0 = time.perf_counter()
            try:
                update = fn(state)
            except RiverError as exc:
                update = {"status": "failed", "error": f"{name}: {exc}"}
            dt = time.perf_counter() - t0
            timings = {**state.get("timings", {}), name: round(dt, 3)}
            failed = update.get("status") == "failed"
            _emit(StageFinished(name, dt, ok=not failed, detail=update.get("error", "") if failed else ""))
            return Command(goto=END if failed else nxt[name], update={**update, "timings": timings, "stage": name})

        return node

    # ----------------------------------------------------------------------------------------------- stages
    def _perceive(self, state: PipelineState) -> dict[str, Any]:
        if state.get("twin_path"):
            load_twin(state["twin_path"])  # a given twin: check that it reads
            return {"twin_path": str(twin_json_path(state["twin_path"]))}
        path = self.tools.perceive(Path(state["video"]), Path(state["work_dir"]) / "twin")
        return {"twin_path": str(path)}

    def _reason(self, state: PipelineState) -> dict[str, Any]:
        try:
            writer = get_stream_writer()  # taken here: inside the rollout graph it would be that graph's writer
        except RuntimeError:
            writer = None

        def on_event(kind: str, payload: dict[str, Any]) -> None:
            if kind == "segment" and writer is not None:
                writer(RolloutSegment(payload["tag"], payload["text"], payload.get("turn", 0)))

        trace = self.tools.reason(state["twin_path"], state["query"], on_event=on_event)
        self._traces[trace.id] = trace
        path = self.tools.save_trace(trace, Path(state["work_dir"]))
        update: dict[str, Any] = {"trace_path": str(path), "trace_id": trace.id, "ops": trace.ops}
        if not trace.valid:
            why = {"max_turns": "the model gave no edit", "invalid": "the model's edit is not valid"}.get(
                trace.status, "the rollout failed"
            )
            update |= {"status": "failed", "error": f"{why}: {trace.reason}"}
        return update

    def _validate(self, state: PipelineState) -> dict[str, Any]:
        trace = self._traces[state["trace_id"]]
        original = load_twin(state["twin_path"])
        edited = self.tools.edited_twin(trace)
        if edited is None:
            return {"status": "failed", "error": "the rollout's edited twin is not available"}
        res = validate_edited_twin(edited, original)
        if not res.ok:
            return {"status": "failed", "error": f"edited twin is not valid: {res.reason}"}
        diff = diff_twins(original, edited)
        if not diff:
            return {"status": "failed", "error": "the edit changes nothing in the twin"}
        path = save_twin(edited, Path(state["work_dir"]) / "twin_edited")
        return {"edited_twin_path": str(path), "changes": [c.describe() for c in diff.changes]}

    def _render(self, state: PipelineState) -> dict[str, Any]:
        before, after = load_twin(state["twin_path"]), load_twin(state["edited_twin_path"])
        res = self.tools.render(Path(state["video"]), before, after, Path(state["out"]))
        opt = lambda p: str(p) if p else None  # noqa: E731
        return {"output": str(res.output), "comparison": opt(res.comparison), "overlay": opt(res.overlay)}

    def _verify(self, state: PipelineState) -> dict[str, Any]:
        report = verify_output(
            Path(state["video"]),
            Path(state["output"]),
            load_twin(state["twin_path"]),
            load_twin(state["edited_twin_path"]),
        )
        update: dict[str, Any] = {"verify": report, "status": "ok"}
        if not report["ok"]:
            update |= {"status": "failed", "error": "verify: " + "; ".join(report["problems"])}
        return update

    # ------------------------------------------------------------------------------------------------ run
    def stream(self, state: PipelineState) -> Iterator[AgentEvent | PipelineState]:
        """Yield events as they happen, then the final state (a dict) last."""
        final: PipelineState = dict(state)  # type: ignore[assignment]
        for mode, chunk in self.graph.stream(state, stream_mode=["custom", "values"]):
            if mode == "custom":
                yield chunk
            else:
                final = chunk
        yield final


def verify_output(video: Path, output: Path, before: Twin, after: Twin) -> dict[str, Any]:
    """Basic checks of a rendered edit: the output exists with the source's frame count and size, and the
    pixels that changed lie on the changed objects (their masks in D, and where a move or resize puts them)."""
    from river_agent.tools.render.conditioning import conditioning_from_twins
    from river_agent.video.io import iter_frames, probe_video

    problems: list[str] = []
    if not output.exists():
        return {"ok": False, "problems": [f"{output} was not written"]}
    src, out = probe_video(video), probe_video(output)
    if (src.width, src.height) != (out.width, out.height):
        problems.append(f"output is {out.width}x{out.height}, source {src.width}x{src.height}")
    if src.num_frames != out.num_frames:
        problems.append(f"output has {out.num_frames} frames, source {src.num_frames}")
    # the renderer's own map of where each edit may change pixels (old place, and new place of a move/resize)
    cond = conditioning_from_twins(before, after)
    changed_ids = sorted(e.obj_id for e in cond.edits)
    inside = total = target_px = 0
    if not problems:
        import cv2

        kernel = np.ones((7, 7), np.uint8)
        for t, (a, b) in enumerate(zip(iter_frames(video), iter_frames(output), strict=False)):
            changed = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > DIFF_THRESHOLD
            region = cond.change_mask(t)
            target_px += int(region.sum())
            region = cv2.dilate(region.astype(np.uint8), kernel).astype(bool)
            total += int(changed.sum())
            inside += int((changed & region).sum())
    in_region = inside / total if total else 1.0
    if total == 0 and changed_ids:
        problems.append("no pixel of the output differs visibly from the source")
    elif total and in_region < 0.5:
        problems.append(f"only {in_region:.0%} of the changed pixels lie on the edited objects")
    return {
        "ok": not problems,
        "problems": problems,
        "frames": out.num_frames,
        "size": [out.width, out.height],
        "changed_pixels": total,
        "changed_in_target_region": round(in_region, 4),
        "target_pixels": target_px,
        "changed_ids": changed_ids,
    }
