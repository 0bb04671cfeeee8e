"""The embeddable API: ``RiverAgent(config).edit(video, query, out) -> EditResult``.

    from river_agent.agent import AgentConfig, RiverAgent

    agent = RiverAgent(AgentConfig())                        # embedded defaults: CPU, no downloads
    result = agent.edit("street.mp4", "whatever overtakes the truck should go", out="edited.mp4")
    print(result.ok, result.video, result.ops, result.trace_path)

``reason(twin, query)`` runs the rollout alone (what RL uses); ``stream(...)`` yields typed events for apps;
``aedit(...)`` is the async form of ``edit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from river_agent.errors import RiverError, VideoError
from river_agent.graphs.events import AgentEvent, Finished
from river_agent.graphs.pipeline import Pipeline, PipelineTools
from river_agent.graphs.rollout import Rollout, RolloutConfig, default_executor_factory, edited_twin_of
from river_agent.trace import Trace, save_traces
from river_agent.twin.io import load_twin, save_twin
from river_agent.twin.schema import Twin

EMBEDDED_BACKEND = "transformers"


@dataclass
class AgentConfig:
    """Everything an edit needs; load from YAML/JSON with ``AgentConfig.from_file``."""

    backend: str = field(
        default=EMBEDDED_BACKEND, metadata={"help": "LLM backend: transformers | litellm | vllm."}
    )
    backend_options: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Options of the backend (model path, api_base, device, ...)."}
    )
    adapter: str | None = field(
        default="auto",
        metadata={
            "help": "LoRA adapter of the transformers backend: a folder, 'none', or 'auto' (the trained adapter "
            "shipped for the embedded model, when the embedded model is used)."
        },
    )
    strategy: str = field(
        default="auto",
        metadata={
            "help": "'code' (one twin-API program, then the edit), 'staged' (pick ids directly), 'free' "
            "(think/execute/edit), or 'auto' (code with the shipped adapter on the embedded model, staged on "
            "the embedded model without it, free otherwise)."
        },
    )
    max_turns: int = field(default=4, metadata={"help": "Most policy generations in one rollout."})
    max_new_tokens: int = field(default=512, metadata={"help": "Token limit of one free-strategy turn."})
    think_tokens: int = field(
        default=0, metadata={"help": "Token limit of the staged think (0: no think stage, fastest on CPU)."}
    )
    edit_tokens: int = field(default=64, metadata={"help": "Token limit of the staged edit JSON."})
    code_samples: int = field(
        default=6,
        metadata={
            "help": "Code strategy: programs sampled for the first <execute>; the ids most error-free programs "
            "print win (self-consistency). 1: one program at `temperature`."
        },
    )
    code_sample_temperature: float = field(
        default=0.7, metadata={"help": "Code strategy: sampling temperature of those programs."}
    )
    vote_by_number: bool = field(
        default=True,
        metadata={
            "help": "Code strategy: for a one-object request, one-id answers outvote many-id ones; ties go to "
            "the likeliest program."
        },
    )
    temperature: float = field(default=0.3, metadata={"help": "Sampling temperature (0 = greedy)."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass."})
    seed: int | None = field(default=None, metadata={"help": "Sampling seed."})
    constrained: bool = field(default=True, metadata={"help": "Constrained decoding of target ids and edit JSON."})
    op_stage: bool = field(
        default=True, metadata={"help": "Staged: pick the kind of edit from the request alone first."}
    )
    fused: bool = field(default=True, metadata={"help": "Staged: target ids and edit in one generation."})
    ground_params: bool = field(
        default=True,
        metadata={
            "help": "Make a move's direction and a resize's way agree with what the request states outright "
            "('up', 'to the left', 'smaller'); each change is recorded as a deviation in the trace."
        },
    )
    few_shot: bool = field(default=True, metadata={"help": "Show worked RVE-Synth-style examples (staged)."})
    few_shot_k: int = field(default=4, metadata={"help": "How many worked examples."})
    view_budget: int | None = field(
        default=None, metadata={"help": "Token budget of the compact twin view (None: 400 staged, 1500 free)."}
    )
    results_max_chars: int = field(default=1200, metadata={"help": "Cap on one <results> block."})
    perception: str = field(default="classical", metadata={"help": "Perception backend name."})
    perception_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "Perception options."})
    renderer: str = field(default="classical", metadata={"help": "Renderer name."})
    renderer_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "Renderer options."})
    sandbox_cpu_seconds: float = field(default=2.0, metadata={"help": "CPU seconds per <execute> snippet."})
    sandbox_wall_seconds: float = field(default=5.0, metadata={"help": "Wall seconds per snippet."})
    sandbox_memory_mb: int = field(default=512, metadata={"help": "Memory a snippet may add."})
    trace_dir: str | None = field(
        default=None, metadata={"help": "Also append every trace to <trace_dir>/traces.jsonl."}
    )
    checkpoint_db: str | None = field(
        default=None, metadata={"help": "SQLite file for rollout checkpoints (resume after a crash)."}
    )
    progress: bool = field(default=True, metadata={"help": "Show progress bars while rendering."})
    torch_threads: int | None = field(
        default=None, metadata={"help": "torch CPU threads for local models (1 is fastest on a busy machine)."}
    )
    preload_policy: bool = field(
        default=True,
        metadata={
            "help": "edit: load the policy (imports, model, adapter) in a background thread while perception "
            "runs, so the reason stage does not wait for it."
        },
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RiverError(
                f"unknown agent config key(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise RiverError(f"bad agent config: {exc}") from exc

    @classmethod
    def from_file(cls, path: str | Path) -> AgentConfig:
        """Read a YAML or JSON file of AgentConfig fields."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RiverError(f"{path}: cannot read config: {exc}") from exc
        try:
            if path.suffix == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text) or {}
        except Exception as exc:
            raise RiverError(f"{path}: not valid YAML/JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise RiverError(f"{path}: a config must be a mapping of field names to values")
        return cls.from_dict(data)

    def uses_embedded_model(self) -> bool:
        return self.backend == EMBEDDED_BACKEND and not self.backend_options.get("model")

    def resolved_adapter(self) -> str | None:
        """The adapter folder to load, or None for the base weights."""
        if self.adapter in (None, "", "none"):
            return None
        if self.adapter != "auto":
            return self.adapter
        if not self.uses_embedded_model():
            return None
        from river_agent.adapters import embedded_adapter

        found = embedded_adapter()
        return str(found) if found is not None else None

    def resolved_strategy(self) -> str:
        if self.strategy != "auto":
            return self.strategy
        if not self.uses_embedded_model():
            return "free"
        return "code" if self.resolved_adapter() is not None else "staged"

    def rollout_config(self) -> RolloutConfig:
        return RolloutConfig(
            strategy=self.resolved_strategy(),
            max_turns=self.max_turns,
            max_new_tokens=self.max_new_tokens,
            think_tokens=self.think_tokens,
            edit_tokens=self.edit_tokens,
            code_samples=self.code_samples,
            code_sample_temperature=self.code_sample_temperature,
            vote_by_number=self.vote_by_number,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            constrained=self.constrained,
            few_shot=self.few_shot,
            op_stage=self.op_stage,
            fused=self.fused,
            ground_params=self.ground_params,
            few_shot_k=self.few_shot_k,
            view_budget=self.view_budget or (400 if self.resolved_strategy() == "staged" else 1500),
            results_max_chars=self.results_max_chars,
        )

    @staticmethod
    def help() -> dict[str, str]:
        """Field name -> help text (for docs and CLIs)."""
        out = {}
        for f in fields(AgentConfig):
            default = (
                f.default
                if f.default is not MISSING
                else (f.default_factory() if f.default_factory is not MISSING else None)
            )  # type: ignore[misc]
            out[f.name] = f"{f.metadata.get('help', '')} (default: {default!r})"
        return out


class EditResult(BaseModel):
    """Outcome of one edit; ``ok`` False means a recorded failure with ``error`` saying why."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    ok: bool
    error: str = ""
    failed_stage: str | None = None
    video: Path | None = Field(default=None, description="The edited video.")
    comparison: Path | None = None
    overlay: Path | None = None
    twin: Path | None = Field(default=None, description="twin.json of D.")
    edited_twin: Path | None = Field(default=None, description="twin.json of D'.")
    ops: list[dict[str, Any]] | None = None
    changes: list[str] = Field(default_factory=list)
    trace: Trace | None = None
    trace_path: Path | None = None
    work_dir: Path | None = None
    verify: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)


def _model_name(policy: Any, cfg: AgentConfig) -> str | None:
    name = cfg.backend_options.get("model") or getattr(policy, "model_name", None)
    name = name or getattr(policy, "model_path", None)
    return "SmolLM2-135M-Instruct (embedded)" if name == "<embedded>" else name


_WORD = re.compile(r"[A-Za-z]{2,}")


def check_query(query: str) -> str:
    """A query must say something: at least one word of letters, at most 2000 characters."""
    q = (query or "").strip()
    if not q or not _WORD.search(q):
        raise RiverError(f"the query {query!r} does not say what to edit (write a request in words)")
    if len(q) > 2000:
        raise RiverError(f"the query is {len(q)} characters long; keep it under 2000")
    return q


class RiverAgent:
    """The reasoning video editor. ``policy`` overrides the configured backend (any object with ``generate``)."""

    def __init__(
        self, config: AgentConfig | None = None, policy: Any = None, executor_factory: Any = None
    ) -> None:
        self.config = config or AgentConfig()
        self._policy = policy
        self._policy_lock = threading.Lock()
        self._preload: threading.Thread | None = None
        self._executor_factory = executor_factory
        self._rollout: Rollout | None = None
        self._saver_cm: Any = None
        self.startup: dict[str, float] = {}  # ms spent building the policy: imports, model, adapter (see _startup)
        self.startup_info: dict[str, Any] = {}  # where the model came from (memory | cache | gguf | folder), cache
        self._startup_unreported = False  # the next edit's trace gets the start-up timings
        self._sandbox_ms = 0.0

    # ------------------------------------------------------------------------------------------- components
    @property
    def policy(self) -> Any:
        with self._policy_lock:  # the preload thread and the reason stage may both ask
            return self._build_policy()

    def _build_policy(self) -> Any:
        if self._policy is None:
            t0 = time.perf_counter()
            try:
                from river_agent.backends import get_backend
            except ImportError as exc:
                raise RiverError("no LLM backends are installed (river_agent.backends)") from exc
            if self.config.torch_threads:
                import torch

                torch.set_num_threads(self.config.torch_threads)
            t_backend = time.perf_counter()
            try:
                policy = get_backend({"backend": self.config.backend, **self.config.backend_options})
                t_adapter = time.perf_counter()
                adapter = self.config.resolved_adapter()
                if adapter is not None:
                    policy.load_adapter(adapter, "policy")
            except RiverError:
                raise
            except Exception as exc:
                raise RiverError(f"cannot start LLM backend {self.config.backend!r}: {exc}") from exc
            t_end = time.perf_counter()
            self._policy = policy
            self._startup(getattr(policy, "load_stats", None) or {}, t0, t_backend, t_adapter, t_end, adapter)
        return self._policy

    def _start_preload(self) -> None:
        """Build the policy in a background thread (perception runs meanwhile); a failure is left for the
        reason stage, which builds it again and reports the error."""
        if not self.config.preload_policy or self._policy is not None or self._preload is not None:
            return

        def preload() -> None:
            with contextlib.suppress(Exception):
                _ = self.policy

        self._preload = threading.Thread(target=preload, name="river-preload-policy", daemon=True)
        self._preload.start()

    def _join_preload(self) -> None:
        if self._preload is not None:
            self._preload.join()

    def _startup(
        self, stats: dict[str, Any], t0: float, t_backend: float, t_adapter: float, t_end: float, adapter: Any
    ) -> None:
        """Record where building the policy went (ms): imports, tokenizer, weights, cache, adapter."""
        ms = lambda a, b: round((b - a) * 1000, 1)  # noqa: E731
        out = {"startup_ms": ms(t0, t_end), "startup_backend_ms": ms(t_backend, t_adapter)}
        imports = ms(t0, t_backend) + float(stats.get("import_ms", 0.0))  # backends package (+ torch) + torch/hf
        out["startup_import_ms"] = round(imports, 1)
        for key in ("cache_check", "tokenizer", "weights", "cache_write", "to_device"):
            if f"{key}_ms" in stats:
                out[f"startup_{key}_ms"] = round(float(stats[f"{key}_ms"]), 1)
        if adapter is not None:
            out["startup_adapter_ms"] = ms(t_adapter, t_end)
        self.startup = out
        self.startup_info = {k: stats[k] for k in ("source", "cache", "cache_dir") if k in stats}
        self._startup_unreported = True

    def _take_startup(self, build_ms: float) -> dict[str, float]:
        """Start-up timings for the trace of the edit that paid them (then only the sandbox start)."""
        out: dict[str, float] = {}
        if self._startup_unreported:
            if self._preload is not None:  # built in the background: the stage only waited build_ms for it
                self.startup["startup_preload_ms"] = self.startup.get("startup_ms", 0.0)
                self.startup["startup_ms"] = round(build_ms, 1)
            out.update(self.startup)
            self._startup_unreported = False
        out["startup_ms"] = round(build_ms, 1)
        if self._sandbox_ms:
            out["startup_sandbox_ms"] = round(self._sandbox_ms, 1)
        return out

    def rollout(self) -> Rollout:
        if self._rollout is None:
            cfg = self.config
            policy = self.policy
            factory = self._executor_factory
            if factory is None:
                from river_agent.tools.sandbox import SandboxLimits

                limits = SandboxLimits(
                    cpu_seconds=cfg.sandbox_cpu_seconds,
                    wall_seconds=cfg.sandbox_wall_seconds,
                    memory_mb=cfg.sandbox_memory_mb,
                    max_output_chars=max(cfg.results_max_chars * 2, 1000),
                )
                factory = self._timed_factory(default_executor_factory(limits))
            checkpointer = None
            if cfg.checkpoint_db:
                from river_agent.graphs.checkpoint import sqlite_checkpointer

                self._saver_cm = sqlite_checkpointer(cfg.checkpoint_db)
                checkpointer = self._saver_cm.__enter__()
            meta = {
                "backend": cfg.backend,
                "model": _model_name(policy, cfg),
                "adapter": getattr(policy, "adapter_name", None) or cfg.resolved_adapter(),
            }
            self._rollout = Rollout(policy, cfg.rollout_config(), factory, checkpointer, meta=meta)
        return self._rollout

    def _timed_factory(self, factory: Any) -> Any:
        """The sandbox factory, adding the time its worker takes to start to ``_sandbox_ms``."""

        @contextlib.contextmanager
        def timed(twin: Any) -> Iterator[Any]:
            t0 = time.perf_counter()
            with factory(twin) as executor:  # Sandbox starts its worker in __init__
                self._sandbox_ms += (time.perf_counter() - t0) * 1000
                yield executor

        return timed

    def close(self) -> None:
        if self._saver_cm is not None:
            self._saver_cm.__exit__(None, None, None)
            self._saver_cm = None
            self._rollout = None

    # ----------------------------------------------------------------------------------------------- reason
    def reason(
        self, twin: Twin | str | Path, query: str, thread_id: str | None = None, on_event: Any = None
    ) -> Trace:
        """The rollout alone over twin D: returns its trace (``trace.valid``, ``trace.ops``); what RL uses."""
        return self.rollout().run(twin, check_query(query), thread_id=thread_id, on_event=on_event)

    def resume(self, thread_id: str) -> Trace:
        """Finish a rollout interrupted by a crash (needs ``checkpoint_db``)."""
        return self.rollout().resume(thread_id)

    # ------------------------------------------------------------------------------------------------- edit
    def _tools(self) -> PipelineTools:
        cfg = self.config

        def perceive(video: Path, out_dir: Path) -> Path:
            try:
                from river_agent.tools.perception import get_perception
            except ImportError as exc:
                raise RiverError("no perception backend is installed; pass a twin with --twin") from exc
            twin = get_perception(cfg.perception, **cfg.perception_options).run(video, out_dir)
            path = out_dir / "twin.json"
            return path if path.exists() else save_twin(twin, out_dir)

        def render(video: Path, before: Twin, after: Twin, out: Path) -> Any:
            from river_agent.tools.render import get_renderer

            opts = dict(cfg.renderer_options)
            if cfg.renderer == "classical":
                opts.setdefault("progress", cfg.progress)
            return get_renderer(cfg.renderer, **opts).render_twin(video, before, after, out)

        def save_trace(trace: Trace, work_dir: Path) -> Path:
            path = save_traces(work_dir / "trace.jsonl", [trace], append=False)
            if cfg.trace_dir:
                save_traces(Path(cfg.trace_dir) / "traces.jsonl", [trace], append=True)
            return path

        def reason(twin_path: str, query: str, on_event: Any = None) -> Trace:
            t0 = time.perf_counter()
            rollout = self.rollout()  # the first edit builds the policy here: imports, model, adapter
            build_ms = (time.perf_counter() - t0) * 1000
            self._sandbox_ms = 0.0
            trace = rollout.run(twin_path, query, on_event=on_event)
            if self._startup_unreported and self.startup_info:
                trace.extra.setdefault("startup", self.startup_info)
            trace.timings.update(self._take_startup(build_ms))
            return trace

        return PipelineTools(
            perceive=perceive, reason=reason, edited_twin=edited_twin_of, render=render, save_trace=save_trace
        )

    def stream(
        self, video: str | Path, query: str, out: str | Path, twin: str | Path | None = None
    ) -> Iterator[AgentEvent]:
        """Run the whole edit, yielding typed events; the last one is ``Finished(result)``."""
        from river_agent.video.io import probe_video

        video, out = Path(video), Path(out)
        query = check_query(query)
        if not video.exists():
            raise VideoError(f"{video}: no such video")
        probe_video(video)  # unreadable video -> VideoError now, not half-way
        if out.suffix.lower() != ".mp4":
            raise RiverError(f"--out must be an .mp4 path, got {out}")
        if out.resolve() == video.resolve():
            raise RiverError("the output path is the input video; choose another (inputs are never overwritten)")
        if twin is not None:
            load_twin(twin)
        work_dir = out.with_name(out.stem + ".river")
        work_dir.mkdir(parents=True, exist_ok=True)
        pipeline = Pipeline(self._tools())
        state: dict[str, Any] = {
            "video": str(video),
            "query": query,
            "out": str(out),
            "work_dir": str(work_dir),
            "twin_path": str(twin) if twin is not None else None,
            "status": "running",
            "error": "",
            "timings": {},
        }
        final: dict[str, Any] = state
        if twin is None:
            self._start_preload()
        try:
            for item in pipeline.stream(state):  # type: ignore[arg-type]
                if isinstance(item, dict):
                    final = item
                else:
                    yield item
        finally:
            self._join_preload()  # never leave a thread loading a model behind a finished edit
        yield Finished(self._result(final, pipeline))

    def _result(self, st: dict[str, Any], pipeline: Pipeline) -> EditResult:
        p = lambda k: Path(st[k]) if st.get(k) else None  # noqa: E731
        ok = st.get("status") == "ok"
        return EditResult(
            ok=ok,
            error=st.get("error", ""),
            failed_stage=None if ok else st.get("stage"),
            video=p("output"),
            comparison=p("comparison"),
            overlay=p("overlay"),
            twin=p("twin_path"),
            edited_twin=p("edited_twin_path"),
            ops=st.get("ops"),
            changes=st.get("changes", []),
            trace=pipeline.trace(st.get("trace_id")),
            trace_path=p("trace_path"),
            work_dir=p("work_dir"),
            verify=st.get("verify", {}),
            timings=st.get("timings", {}),
        )

    def edit(self, video: str | Path, query: str, out: str | Path, twin: str | Path | None = None) -> EditResult:
        """Edit ``video`` as ``query`` asks and write ``out``; ``twin`` skips perception (e.g. a ground truth)."""
        result = None
        for event in self.stream(video, query, out, twin):
            if isinstance(event, Finished):
                result = event.result
        assert result is not None
        return result

    async def aedit(
        self, video: str | Path, query: str, out: str | Path, twin: str | Path | None = None
    ) -> EditResult:
        """``edit`` without blocking the event loop (runs in a worker thread)."""
        return await asyncio.to_thread(self.edit, video, query, out, twin)

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)
