"""The reasoning rollout as a LangGraph state machine.

free strategy:   think -> [execute -> results -> think]* -> edit -> validate
staged strategy: think -> [execute -> results -> think]* -> pick (target ids) -> compose (edit op)
                 -> edit -> validate

``think`` generates until ``</execute>`` or ``</edit>`` (stop sequences); ``execute`` runs the code in the
sandbox; ``results`` appends ``<results>...</results>``; ``edit`` parses the ops (or a whole twin) and
``validate`` applies and checks them (R_dt). Nodes return ``Command(goto=...)``. Running out of turns ends
with a recorded failure. Every rollout yields a :class:`~river_agent.trace.Trace`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from pydantic import ValidationError

from river_agent.errors import EditError, RiverError
from river_agent.graphs.parsing import (
    ACTION_STOPS,
    extract_code,
    normalise_completion,
    parse_blocks,
    parse_edit,
    split_turn,
)
from river_agent.graphs.referent_count import asks_for_one
from river_agent.graphs.request_params import ground_ops
from river_agent.graphs.state import TWINS, RolloutState
from river_agent.prompts import load_fewshot, load_prompts, render
from river_agent.trace import Block, Deviation, SandboxRecord, Segment, Trace
from river_agent.twin.ops import apply_ops, parse_ops
from river_agent.twin.schema import Twin
from river_agent.twin.validate import validate_edited_twin
from river_agent.twin.view import approx_tokens, compact_view

EventCallback = Callable[[str, dict[str, Any]], None]


class BackendFailure(RiverError):
    """The LLM backend raised while generating (server down, out of memory, ...)."""


class Policy(Protocol):
    """What the rollout needs from an LLM backend (``river_agent.backends.LLMBackend`` has it)."""

    def generate(self, prompt: Any, params: Any, constraint: Any = None) -> list[Any]: ...


class Executor(Protocol):
    def run(self, code: str) -> Any: ...


ExecutorFactory = Callable[[Twin], contextlib.AbstractContextManager[Executor]]


@dataclass
class RolloutConfig:
    """Settings of one rollout (the agent's config fills these)."""

    strategy: str = field(
        default="staged",
        metadata={"help": "'free' (think/execute/edit), 'staged' (pick ids directly) or 'code' (one program)."},
    )
    max_turns: int = field(default=4, metadata={"help": "Most policy generations before the rollout fails."})
    max_new_tokens: int = field(default=256, metadata={"help": "Token limit of one think/execute generation."})
    think_tokens: int = field(default=0, metadata={"help": "Token limit of the staged think (0: none)."})
    edit_tokens: int = field(default=64, metadata={"help": "Token limit of an <edit> generation (staged)."})
    code_tokens: int = field(default=160, metadata={"help": "Token limit of one <execute> program (code)."})
    max_executes: int = field(
        default=2, metadata={"help": "Code: programs one rollout may run (a failed one may be retried)."}
    )
    code_samples: int = field(
        default=1,
        metadata={
            "help": "Code: programs sampled at once for the first <execute>, at code_sample_temperature. Each "
            "runs in the sandbox; the ids most of the error-free programs printed win, and the first program "
            "that printed them is the one the transcript keeps (self-consistency). 1: one program."
        },
    )
    code_sample_temperature: float = field(
        default=0.7, metadata={"help": "Code: sampling temperature of the programs when code_samples > 1."}
    )
    vote_by_number: bool = field(
        default=True,
        metadata={
            "help": "Code: when the request names one object (no 'all', 'every', 'them', ...), programs that "
            "printed exactly one id outvote those that printed several; a tie between answers goes to the "
            "one whose program the policy found likeliest (summed token log-probabilities)."
        },
    )
    temperature: float = field(default=0.3, metadata={"help": "Sampling temperature (0 = greedy)."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass."})
    seed: int | None = field(default=None, metadata={"help": "Sampling seed."})
    constrained: bool = field(default=True, metadata={"help": "Constrain target ids and the edit JSON."})
    few_shot: bool = field(default=True, metadata={"help": "Show worked examples (staged strategy)."})
    few_shot_k: int = field(default=3, metadata={"help": "How many worked examples."})
    view_budget: int = field(default=600, metadata={"help": "Token budget of the compact twin view."})
    results_max_chars: int = field(default=1200, metadata={"help": "Cap on one <results> block."})
    fused: bool = field(
        default=True, metadata={"help": "Staged: target ids and edit in one generation (one prompt prefill)."}
    )
    op_stage: bool = field(
        default=True, metadata={"help": "Staged + constrained: choose the op from the request alone first."}
    )
    allow_frames: bool = field(
        default=False, metadata={"help": "Staged + constrained: allow 'frames' ranges in the edit ops."}
    )
    ground_params: bool = field(
        default=True,
        metadata={
            "help": "Make a move's direction and a resize's way agree with what the request states outright "
            "('up', 'to the left', 'smaller'), keeping the policy's magnitudes; each change is a deviation."
        },
    )
    prompt_file: str | None = field(default=None, metadata={"help": "A rollout.yaml to use instead of ours."})
    fewshot_file: str | None = field(default=None, metadata={"help": "A fewshot.yaml to use instead of ours."})

    def recursion_limit(self) -> int:
        """LangGraph steps one rollout may take: 3 per tool turn plus the fixed tail, with margin."""
        return 4 * self.max_turns + 12


@dataclass
class _Params:
    """Sampling parameters when the backends package is not importable (tests with a scripted policy)."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    n: int = 1
    seed: int | None = None
    logprobs: bool = True


def make_params(**kw: Any) -> Any:
    """SamplingParams of the backends package when present (unknown keys dropped), else a plain record."""
    try:
        from river_agent.backends import SamplingParams
    except ImportError:
        return _Params(**kw)
    if dataclasses.is_dataclass(SamplingParams):
        names = {f.name for f in dataclasses.fields(SamplingParams)}
    else:
        names = set(getattr(SamplingParams, "model_fields", {}))
    if "max_tokens" not in names and "max_new_tokens" in names and "max_tokens" in kw:
        kw["max_new_tokens"] = kw.pop("max_tokens")
    return SamplingParams(**{k: v for k, v in kw.items() if k in names})


STRATEGIES = ("free", "staged", "code")

OP_MODELS = {
    "recolor": "Recolor",
    "remove": "Remove",
    "move": "Move",
    "resize": "Resize",
    "replace": "Replace",
    "restyle": "Restyle",
    "set_attribute": "SetAttribute",
}


def edit_schema(
    ids: list[int],
    max_ops: int | None = None,
    allow_frames: bool = True,
    max_string: int = 24,
    ops: list[str] | None = None,
) -> dict[str, Any]:
    """JSON schema of the edit ops on ``ids`` (from the backends package), optionally without ``frames`` and
    with at most ``max_ops`` ops (small models otherwise add random frame ranges and repeat ops)."""
    from river_agent.backends import constraints as C

    schema = C.edit_ops_schema(ids)

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and "enum" not in node and "const" not in node:
                node["maxLength"] = max_string  # free strings (colour, style, category) stay short
            props = node.get("properties")
            if not allow_frames and isinstance(props, dict) and "op" in props:
                props.pop("frames", None)
                node["additionalProperties"] = False
            for v in node.values():
                strip(v)
        elif isinstance(node, list):
            for v in node:
                strip(v)

    strip(schema)
    if ops:
        keep = {f"#/$defs/{OP_MODELS[o]}" for o in ops}
        schema["items"]["anyOf"] = [v for v in schema["items"]["anyOf"] if v.get("$ref") in keep]
        schema["$defs"] = {k: v for k, v in schema["$defs"].items() if f"#/$defs/{k}" in keep}
    if max_ops is not None:
        schema["maxItems"] = max_ops
    schema["minItems"] = 1
    return schema


def build_constraint(
    policy: Any,
    kind: str,
    ids: list[int],
    max_chars: int = 200,
    *,
    max_ops: int | None = None,
    allow_frames: bool = True,
    edit_open: str = "\n<edit>",
    think_open: bool = False,
    allow_execute: bool = True,
    ops: list[str] | None = None,
) -> tuple[Any, str | None]:
    """A decoding constraint for one staged generation, with its name; (None, None) when the backend has none.

    kinds: ``turn`` (the free tag format: think, then execute or an edit JSON), ``think`` (plain text
    without tags, closed by </think>), ``ids`` (one or a few of the twin's ids,
    then </target>), ``edit`` (a JSON list of edit ops on ``ids``, then </edit>), ``target_edit`` (both in
    one generation: ids, </target>, ``edit_open``, the ops JSON, </edit>).
    """
    if not getattr(policy, "supports_constraints", False):
        return None, None
    try:
        from river_agent.backends import constraints as C
    except ImportError:
        return None, None
    alt = "(?:" + "|".join(str(i) for i in sorted(ids)) + ")"
    ids_re = rf" ?{alt}(?:, ?{alt}){{0,3}}"
    if kind == "think":
        return C.RegexConstraint(rf"[^<>]{{1,{max_chars}}}</think>"), "think_text"
    if kind == "ids":
        return C.RegexConstraint(ids_re + "</target>"), "target_ids"
    if kind == "turn":
        c = C.TagFormatConstraint(
            edit_schema=edit_schema(ids, max_ops, allow_frames),
            allow_execute=allow_execute,
            max_think_chars=max_chars,
            max_block_chars=max_chars,
            think_opened_in_prompt=think_open,
        )
        return c, c.describe()
    if kind == "op":
        return C.RegexConstraint(" ?(?:" + "|".join(ops or OP_MODELS) + ")"), "op_choice"
    schema = edit_schema(ids, max_ops, allow_frames, ops=ops)
    json_body = C.JsonSchemaConstraint(schema).lark().split("%json", 1)[1]
    if kind == "edit":
        return C.LarkConstraint(f'start: %json{json_body} " "? "</edit>"', kind="edit_ops"), "edit_ops"
    if kind == "target_edit":
        grammar = (
            f'start: TARGET "</target>" {json.dumps(edit_open)} edit_json " "? "</edit>"\n'
            f"TARGET: /{ids_re}/\nedit_json: %json{json_body}"
        )
        return C.LarkConstraint(grammar, kind="target_edit"), "target_edit_ops"
    raise ValueError(f"unknown constraint kind {kind!r}")


def _completion(c: Any) -> dict[str, Any]:
    return {
        "text": getattr(c, "text", "") or "",
        "token_ids": list(c.token_ids) if getattr(c, "token_ids", None) is not None else None,
        "logprobs": list(c.logprobs) if getattr(c, "logprobs", None) is not None else None,
        "finish_reason": getattr(c, "finish_reason", None),
        "stop_sequence": getattr(c, "stop_sequence", None),
        "prompt_token_ids": getattr(c, "prompt_token_ids", None),
        "reasoning": getattr(c, "reasoning_content", None) or getattr(c, "reasoning", None),
        "constrained": getattr(c, "constrained", None),
    }


def _seg(**kw: Any) -> dict[str, Any]:
    return Segment(**kw).model_dump(exclude_none=True)


def _policy_seg(tag: str, text: str, turn: int, c: dict[str, Any], constraint: str | None, **kw: Any) -> dict:
    """A segment the policy wrote: its text plus the completion's tokens, logprobs and timing (for GRPO)."""
    return _seg(
        tag=tag,
        text=text,
        turn=turn,
        token_ids=c["token_ids"],
        logprobs=c["logprobs"],
        finish_reason=c["finish_reason"],
        constraint=constraint,
        duration_ms=c["duration_ms"],
        **kw,
    )


def _dev(tag: str, detail: str, turn: int) -> dict[str, Any]:
    return Deviation(tag=tag, detail=detail, turn=turn).model_dump()


def format_results(res: Any, cap: int) -> str:
    """The text of a <results> block for one sandbox result (output, or the error), capped at ``cap`` chars."""
    if getattr(res, "timed_out", False):
        body = f"error: timed out after {getattr(res, 'duration_ms', 0):.0f} ms"
    elif getattr(res, "ok", False):
        body = (getattr(res, "output", "") or "").rstrip("\n") or "(no output)"
    else:
        out = getattr(res, "output", "") or ""
        err = getattr(res, "error", None) or "failed"
        kind = getattr(res, "error_type", None)
        body = (out + "\n" if out else "") + f"error: {kind + ': ' if kind else ''}{err}"
    if len(body) > cap:
        body = body[:cap] + f"\n... ({len(body) - cap} more characters cut)"
    return body


def default_executor_factory(limits: Any = None) -> ExecutorFactory:
    """Sandboxes from ``river_agent.tools.sandbox`` (one process per rollout)."""

    def factory(twin: Twin) -> contextlib.AbstractContextManager[Executor]:
        try:
            from river_agent.tools.sandbox import Sandbox
        except ImportError as exc:
            raise RiverError("the code sandbox (river_agent.tools.sandbox) is not installed") from exc
        return Sandbox(twin, limits) if limits is not None else Sandbox(twin)

    return factory


def object_list(twin: Twin) -> str:
    """One line naming each object: ``#1 car (red, striped, small), #2 dog (brown, plain, large)``."""
    parts = []
    for oid in twin.object_ids():
        inst = next(i for f in twin.frames for i in f.instances if i.id == oid)
        attrs = [str(inst.attributes[k]) for k in ("color", "pattern", "size") if inst.attributes.get(k)]
        parts.append(f"#{oid} {inst.category}" + (f" ({', '.join(attrs)})" if attrs else ""))
    return ", ".join(parts)


_IDS_LINE = re.compile(r"\[\s*(-?\d+(?:\s*,\s*-?\d+)*)?\s*\]")


def ids_from_output(output: str, known: Iterable[int]) -> list[int]:
    """Object ids a program printed: the last printed list of integers (or bare integers on the last line),
    keeping only ids the twin has, in order, without repeats."""
    known_set = set(known)
    lines = [ln for ln in (output or "").strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        lists = _IDS_LINE.findall(line)
        if lists:
            found = [int(x) for x in re.findall(r"-?\d+", lists[-1])]
            return [i for i in dict.fromkeys(found) if i in known_set]
        if re.fullmatch(r"[\s\d,#]+", line):
            return [i for i in dict.fromkeys(int(x) for x in re.findall(r"\d+", line)) if i in known_set]
    return []


def twin_api_doc() -> str:
    try:
        from river_agent.tools.sandbox import TWIN_API_DOC
    except ImportError:
        return "(no sandbox available: do not use <execute>)"
    return TWIN_API_DOC


def prompt_view(twin: Twin, budget: int | None, count: Callable[[str], int] | None = None) -> str:
    """The compact view for a prompt. When the whole view does not fit the budget, free-text descriptions go
    first (they repeat the attributes in words), so keyframes and attributes stay visible to the policy."""
    count = count or approx_tokens
    has_desc = any("description" in i.attributes for f in twin.frames for i in f.instances)
    if budget is None or not has_desc or count(compact_view(twin)) <= budget:
        return compact_view(twin, budget, count)
    lean = twin.copy_twin()
    for f in lean.frames:
        for i in f.instances:
            i.attributes.pop("description", None)
    return compact_view(lean, budget, count)


class Rollout:
    """Builds and runs the rollout graph for one policy; ``run(twin, query) -> Trace``.

    The sandbox comes from ``executor_factory`` (injectable, so tests and benchmarks swap it); a
    ``checkpointer`` (e.g. ``SqliteSaver``) makes a rollout resumable after a crash with ``resume(thread_id)``.
    """

    def __init__(
        self,
        policy: Policy,
        config: RolloutConfig | None = None,
        executor_factory: ExecutorFactory | None = None,
        checkpointer: Any = None,
        count_tokens: Callable[[str], int] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        self.config = config or RolloutConfig()
        if self.config.strategy not in STRATEGIES:
            raise RiverError(
                f"unknown rollout strategy {self.config.strategy!r} (use one of {', '.join(STRATEGIES)})"
            )
        self.executor_factory = executor_factory or default_executor_factory()
        self.count_tokens = count_tokens or _policy_counter(policy) or approx_tokens
        self.prompts = load_prompts(self.config.prompt_file)
        self.meta = meta or {}
        self._executors: dict[str, tuple[contextlib.ExitStack, Executor]] = {}
        self._listeners: dict[str, EventCallback] = {}
        self._prompts: dict[str, tuple[list[dict[str, str]], str]] = {}
        self._first_prompt: dict[str, dict[str, Any]] = {}
        self._chat_text: dict[str, str] = {}
        self._query: dict[str, str] = {}
        self._op_info: dict[str, dict[str, Any]] = {}
        self.graph = self._build().compile(checkpointer=checkpointer)

    # ------------------------------------------------------------------------------------------------ build
    def _build(self) -> StateGraph:
        g = StateGraph(RolloutState)
        g.add_node("think", self._think, destinations=("execute", "pick", "compose", "edit", "think", "fail"))
        g.add_node("execute", self._execute, destinations=("results",))
        g.add_node("results", self._results, destinations=("think",))
        g.add_node("pick", self._pick, destinations=("compose", "edit"))
        g.add_node("compose", self._compose, destinations=("edit",))
        g.add_node("edit", self._edit, destinations=("validate",))
        g.add_node("validate", self._validate, destinations=(END,))
        g.add_node("fail", self._fail, destinations=(END,))
        g.add_edge(START, "think")
        return g

    # ---------------------------------------------------------------------------------------------- prompts
    def build_messages(self, twin: Twin, query: str) -> tuple[list[dict[str, str]], str]:
        """Chat messages for this twin and query, and the assistant prefix the harness writes first."""
        cfg, p = self.config, self.prompts
        view = prompt_view(twin, cfg.view_budget, self.count_tokens)
        values = {
            "view": view.strip(),
            "query": query.strip(),
            "ids": twin.object_ids(),
            "ops_doc": p["ops_doc"].strip(),
            "api_doc": twin_api_doc().strip(),
            "max_turns": cfg.max_turns,
            "objects": object_list(twin),
        }
        stage = p[cfg.strategy]
        messages: list[dict[str, str]] = []
        if stage.get("system"):
            messages.append({"role": "system", "content": render(stage["system"], **values).strip()})
        if cfg.strategy == "staged" and cfg.few_shot and cfg.few_shot_k > 0:
            for ex in load_fewshot(cfg.fewshot_file)[: cfg.few_shot_k]:
                messages.append(
                    {
                        "role": "user",
                        "content": render(
                            stage["user"], **{**values, "view": ex.view.strip(), "query": ex.query}
                        ).strip(),
                    }
                )
                think = f"{stage['think_open']}{ex.think}</think>" if cfg.think_tokens > 0 else ""
                answer = f"{think}{stage['target_open']}{ex.target}</target>{stage['edit_open']}{ex.edit}</edit>"
                answer = answer.lstrip("\n")
                messages.append({"role": "assistant", "content": answer})
        messages.append({"role": "user", "content": render(stage["user"], **values).strip()})
        prefix = stage.get("think_open", "") if cfg.strategy == "staged" and cfg.think_tokens > 0 else ""
        return messages, prefix

    def _prompt(self, thread: str, transcript: str) -> Any:
        """Chat template of the messages plus the transcript so far (the assistant turn being continued)."""
        messages, _ = self._prompts[thread]
        template = getattr(self.policy, "apply_chat_template", None)
        if template is not None:
            if thread not in self._chat_text:
                self._chat_text[thread] = template(messages)
            return self._chat_text[thread] + transcript
        if transcript:  # a backend without templates: ask it to continue the assistant message
            return [*messages, {"role": "assistant", "content": transcript}]
        return messages

    def _generate(
        self, thread: str, transcript: str, *, max_tokens: int, stop: Iterable[str], constraint: Any = None
    ) -> dict[str, Any]:
        return self._generate_n(thread, transcript, 1, max_tokens=max_tokens, stop=stop, constraint=constraint)[0]

    def _generate_n(
        self,
        thread: str,
        transcript: str,
        n: int,
        *,
        max_tokens: int,
        stop: Iterable[str],
        constraint: Any = None,
        temperature: float | None = None,
    ) -> list[dict[str, Any]]:
        cfg = self.config
        params = make_params(
            max_tokens=max_tokens,
            temperature=cfg.temperature if temperature is None else temperature,
            top_p=cfg.top_p,
            stop=list(stop),
            n=n,
            seed=cfg.seed,
            logprobs=True,
        )
        t0 = time.perf_counter()
        try:
            outs = self.policy.generate(self._prompt(thread, transcript), params, constraint=constraint)
        except RiverError:
            raise
        except Exception as exc:  # a backend that is down or broken: say so in one line
            raise BackendFailure(f"the LLM backend failed: {type(exc).__name__}: {exc}") from exc
        if not outs:
            raise RiverError("the LLM backend returned no completion")
        duration = (time.perf_counter() - t0) * 1000
        completions = []
        for out in outs[:n]:
            c = _completion(out)
            c["duration_ms"] = duration / len(outs[:n])
            completions.append(c)
        if thread not in self._first_prompt:
            self._first_prompt[thread] = {"prompt_token_ids": completions[0]["prompt_token_ids"]}
        return completions

    def _template_opens_think(self, thread: str) -> bool:
        """R1-style chat templates end the prompt with '<think>': the completion starts inside it."""
        return _ends_in_think(self._chat_text.get(thread, ""))

    def _tokens(self, text: str) -> list[int] | None:
        tok = getattr(self.policy, "tokenize", None)
        if tok is not None:
            return list(tok(text))
        hf = getattr(self.policy, "tokenizer", None)
        if hf is not None and callable(hf):
            return list(hf(text, add_special_tokens=False)["input_ids"])
        return None

    def _env(self, text: str, tag: str, turn: int, **kw: Any) -> dict[str, Any]:
        return _seg(tag=tag, source="env", text=text, turn=turn, token_ids=self._tokens(text), **kw)

    def _emit(self, thread: str, kind: str, **payload: Any) -> None:
        cb = self._listeners.get(thread)
        if cb is not None:
            cb(kind, payload)

    # ------------------------------------------------------------------------------------------------ nodes
    @staticmethod
    def _thread(config: Any) -> str:
        return config["configurable"]["thread_id"]

    def _think(self, state: RolloutState, config: RunnableConfig) -> Command:
        thread, cfg = self._thread(config), self.config
        turn = state.get("turn", 0)
        if turn >= cfg.max_turns:
            return Command(goto="fail", update={"status": "max_turns", "reason": f"no <edit> after {turn} turns"})
        transcript = state.get("transcript", "")
        if cfg.strategy == "code":
            return self._code_turn(state, thread, transcript, turn)
        staged = cfg.strategy == "staged"
        if staged and cfg.think_tokens <= 0 and turn == 0:  # small models: straight to the target stage
            return Command(goto="pick", update={"turn": 1})
        stops = ("</think>", *ACTION_STOPS) if staged else ACTION_STOPS
        budget = cfg.think_tokens if staged else cfg.max_new_tokens
        constraint, cname = None, None
        think_open = _ends_in_think(transcript) or (not transcript and self._template_opens_think(thread))
        if staged and cfg.constrained:
            constraint, cname = build_constraint(self.policy, "think", [], max_chars=4 * cfg.think_tokens)
        elif cfg.constrained and not transcript.endswith("<edit>"):
            # the tag format, with the <edit> JSON on the twin's ids; the last turn must edit
            constraint, cname = build_constraint(
                self.policy,
                "turn",
                TWINS.get(state["twin_key"]).object_ids(),
                max_chars=2 * budget,
                think_open=think_open,
                allow_execute=turn < cfg.max_turns - 1,
                allow_frames=True,
            )
        c = self._generate(thread, transcript, max_tokens=budget, stop=stops, constraint=constraint)
        text, devs = normalise_completion(
            c["text"], c["finish_reason"], c["stop_sequence"], c["reasoning"], think_open, turn
        )
        parsed = split_turn(text, c["finish_reason"], stops, turn)
        tag = {"execute": "execute", "edit": "edit"}.get(parsed.action, "think")
        seg = _policy_seg(tag, parsed.text, turn, c, cname, code=parsed.code)
        self._emit(thread, "segment", tag=tag, text=parsed.text, turn=turn)
        segs = [seg]
        all_devs = [d.model_dump() for d in devs + parsed.deviations]
        new_transcript = transcript + parsed.text
        update: dict[str, Any] = {
            "turn": turn + 1,
            "segments": segs,
            "deviations": all_devs,
            "transcript": new_transcript,
        }
        if parsed.action == "execute":
            return Command(goto="execute", update={**update, "code": parsed.code})
        if parsed.action == "edit":
            return Command(goto="edit", update={**update, "edit_text": parsed.edit_text})
        if staged:  # think finished (or rambled to its limit): the harness moves on to the target stage
            if parsed.action == "none":
                for d in all_devs:
                    if d["tag"] == "no_action":
                        d.update(tag="unclosed_think", detail="think not closed within its token limit")
                close = "</think>"
                segs.append(self._env(close, "think", turn))
                update["transcript"] = new_transcript + close
            return Command(goto="pick", update=update)
        if c["finish_reason"] == "length":
            return Command(goto="think", update=update)  # keep generating in the next turn
        nudge = self.prompts["free"].get("nudge", "\n")
        if "<edit>" in nudge:  # the policy stopped without acting: open <edit> for it
            segs.append(self._env(nudge, "edit", turn))
            update["transcript"] = new_transcript + nudge
        return Command(goto="think", update=update)

    def _code_turn(self, state: RolloutState, thread: str, transcript: str, turn: int) -> Command:
        """Code strategy: write one program in <execute> (the harness opens the tag); once a program printed
        known ids, or the programs allowed are spent, go to the edit on those ids (all ids when none)."""
        cfg = self.config
        executed = sum(
            1 for s in state.get("segments", []) if s.get("tag") == "execute" and s["source"] == "policy"
        )
        if state.get("target_ids") or executed >= cfg.max_executes:
            if not state.get("target_ids"):
                detail = f"no program printed known object ids in {executed} tries; editing over all objects"
                return Command(goto="compose", update={"deviations": [_dev("no_target_ids", detail, turn)]})
            return Command(goto="compose", update={})
        p = self.prompts["code"]
        opener = p["execute_open"] if not transcript else p["execute_again"]
        transcript += opener
        segs = [self._env(opener, "execute", turn)]
        samples = cfg.code_samples if executed == 0 else 1
        outs = self._generate_n(
            thread,
            transcript,
            samples,
            max_tokens=cfg.code_tokens,
            stop=["</execute>"],
            temperature=cfg.code_sample_temperature if samples > 1 else None,
        )
        programs = [self._program(c, turn) for c in outs]
        chosen, votes = 0, None
        if len(programs) > 1:
            chosen, votes = self._vote(
                [code for _, code, _ in programs], outs, state["twin_key"], thread, state.get("query", "")
            )
        text, code, devs = programs[chosen]
        segs.append(_policy_seg("execute", text, turn, outs[chosen], None, code=code, votes=votes))
        self._emit(thread, "segment", tag="execute", text=text, turn=turn)
        return Command(
            goto="execute",
            update={
                "turn": turn + 1,
                "segments": segs,
                "deviations": devs,
                "transcript": transcript + text,
                "code": code,
            },
        )

    def _program(self, c: dict[str, Any], turn: int) -> tuple[str, str, list[dict[str, Any]]]:
        """(text as the transcript keeps it, the code, deviations) of one <execute> completion."""
        text, _ = normalise_completion(c["text"], c["finish_reason"], c["stop_sequence"], None, False, turn)
        devs: list[dict[str, Any]] = []
        if not text.endswith("</execute>"):
            devs.append(_dev("unclosed_execute", "program not closed with </execute> within its limit", turn))
            text += "</execute>"
        code, code_devs = extract_code(text[: -len("</execute>")], turn)
        return text, code, devs + [d.model_dump() for d in code_devs]

    def _vote(
        self, codes: list[str], outs: list[dict[str, Any]], twin_key: str, thread: str, query: str
    ) -> tuple[int, list[dict[str, Any]]]:
        """Run every sampled program; the index of the first program printing the ids most error-free
        programs agree on (0 when none printed ids), and one vote record per program for the trace.
        With ``vote_by_number`` a one-object request counts only one-id answers when there are any, and a tie
        goes to the answer of the likeliest program (else to the first seen)."""
        known = TWINS.get(twin_key).object_ids()
        votes: list[dict[str, Any]] = []
        for code, out in zip(codes, outs, strict=True):
            rec = self._run_program(thread, twin_key, code)
            ids = ids_from_output(rec.output, known) if rec.ok else []
            lps = out.get("logprobs")
            votes.append(
                {
                    "ids": ids,
                    "ok": rec.ok,
                    "error": None if rec.ok else (rec.error_type or "error"),
                    "code": code,
                    "logprob": round(float(sum(lps)), 3) if lps else None,
                }
            )
        counted = [i for i, v in enumerate(votes) if v["ids"]]
        by_number = self.config.vote_by_number
        if by_number and asks_for_one(query) and any(len(votes[i]["ids"]) == 1 for i in counted):
            counted = [i for i in counted if len(votes[i]["ids"]) == 1]
        tally = Counter(tuple(votes[i]["ids"]) for i in counted)
        chosen = 0
        if tally:
            best = max(tally.values())
            tied = [i for i in counted if tally[tuple(votes[i]["ids"])] == best]
            if by_number and all(votes[i]["logprob"] is not None for i in tied):
                chosen = max(tied, key=lambda i: votes[i]["logprob"])  # first among equal log-probabilities
            else:
                chosen = tied[0]
            winner = tuple(votes[chosen]["ids"])
            chosen = next(i for i in counted if tuple(votes[i]["ids"]) == winner)  # its first program
        for i, v in enumerate(votes):
            v["chosen"] = i == chosen
            v["counted"] = i in counted
        return chosen, votes

    def _execute(self, state: RolloutState, config: RunnableConfig) -> Command:
        thread = self._thread(config)
        rec = self._run_program(thread, state["twin_key"], state.get("code") or "")
        return Command(goto="results", update={"code": None, "sandbox": rec.model_dump()})

    def _run_program(self, thread: str, twin_key: str, code: str) -> SandboxRecord:
        """Run one program in the thread's sandbox (an empty one is an error without running)."""
        if not code.strip():
            return SandboxRecord(ok=False, error="empty <execute> block", error_type="EmptyCode")
        t0 = time.perf_counter()
        res = self._executor(thread, twin_key).run(code)
        return SandboxRecord(
            ok=bool(getattr(res, "ok", False)),
            output=getattr(res, "output", "") or "",
            error=getattr(res, "error", None),
            error_type=getattr(res, "error_type", None),
            duration_ms=float(getattr(res, "duration_ms", (time.perf_counter() - t0) * 1000)),
            timed_out=bool(getattr(res, "timed_out", False)),
            killed=bool(getattr(res, "killed", False)),
            truncated=bool(getattr(res, "truncated", False)),
        )

    def _results(self, state: RolloutState, config: RunnableConfig) -> Command:
        thread = self._thread(config)
        rec = SandboxRecord(**(state.get("sandbox") or {"ok": False, "error": "no sandbox result"}))
        turn = state.get("turn", 1) - 1
        text = render(self.prompts["free"]["results"], output=format_results(rec, self.config.results_max_chars))
        self._emit(thread, "segment", tag="results", text=text, turn=turn)
        update: dict[str, Any] = {
            "segments": [self._env(text, "results", turn, sandbox=rec)],
            "transcript": state["transcript"] + text,
            "sandbox": None,
        }
        if self.config.strategy == "code":
            ids = ids_from_output(rec.output, TWINS.get(state["twin_key"]).object_ids()) if rec.ok else None
            update["target_ids"] = ids or None
        return Command(goto="think", update=update)

    def _pick(self, state: RolloutState, config: RunnableConfig) -> Command:
        thread, cfg = self._thread(config), self.config
        twin = TWINS.get(state["twin_key"])
        ids = twin.object_ids()
        turn = state.get("turn", 1) - 1
        opener = self.prompts["staged"]["target_open"]
        transcript = state.get("transcript", "")
        if not transcript:
            opener = opener.lstrip("\n")
        transcript += opener
        segs = [self._env(opener, "target", turn)]
        if cfg.fused:
            return self._pick_and_edit(thread, transcript, segs, ids, turn)
        constraint, cname = build_constraint(self.policy, "ids", ids) if cfg.constrained else (None, None)
        c = self._generate(thread, transcript, max_tokens=12, stop=["</target>"], constraint=constraint)
        text, _ = normalise_completion(c["text"], c["finish_reason"], c["stop_sequence"], None, False, turn)
        devs: list[dict[str, Any]] = []
        if not text.endswith("</target>"):
            devs.append(_dev("unclosed_target", "target ids not closed with </target>", turn))
            cut = text.find("<")
            text = (text[:cut] if cut != -1 else text) + "</target>"
        body = text[: -len("</target>")]
        found = [int(x) for x in re.findall(r"\d+", body)]
        picked = [i for i in dict.fromkeys(found) if i in ids]
        if not picked:
            devs.append(_dev("bad_target", f"no known object id in {body.strip()!r} (ids: {ids})", turn))
        segs.append(_policy_seg("target", text, turn, c, cname))
        self._emit(thread, "segment", tag="target", text=body, turn=turn)
        return Command(
            goto="compose",
            update={
                "segments": segs,
                "deviations": devs,
                "transcript": transcript + text,
                "target_ids": picked or None,
            },
        )

    def _pick_and_edit(
        self, thread: str, transcript: str, segs: list[dict[str, Any]], ids: list[int], turn: int
    ) -> Command:
        """Fused staged generation: ``ids</target>`` then ``<edit>ops</edit>``, one prompt prefill."""
        cfg = self.config
        edit_open = self.prompts["staged"]["edit_open"]
        ops = self._op_stage(thread) if cfg.op_stage and cfg.constrained else None
        constraint, cname = (
            build_constraint(
                self.policy,
                "target_edit",
                ids,
                max_ops=2,
                allow_frames=cfg.allow_frames,
                edit_open=edit_open,
                ops=ops,
            )
            if cfg.constrained
            else (None, None)
        )
        c = self._generate(
            thread, transcript, max_tokens=12 + cfg.edit_tokens, stop=["</edit>"], constraint=constraint
        )
        text, _ = normalise_completion(c["text"], c["finish_reason"], c["stop_sequence"], None, False, turn)
        devs: list[dict[str, Any]] = []
        head, sep, rest = text.partition("</target>")
        if not sep:
            devs.append(_dev("unclosed_target", "target ids not closed with </target>", turn))
            head, rest = "", text
        found = [int(x) for x in re.findall(r"\d+", head)]
        picked = [i for i in dict.fromkeys(found) if i in ids]
        if not picked:
            devs.append(_dev("bad_target", f"no known object id in {head.strip()!r} (ids: {ids})", turn))
        opened = "edit" if "<edit>" in rest else None
        parsed = split_turn(
            rest.split("<edit>", 1)[1] if opened else rest, c["finish_reason"], ("</edit>",), turn, opened="edit"
        )
        devs += [d.model_dump() for d in parsed.deviations]
        if not opened:
            devs.append(_dev("missing_open_edit", "no <edit> after </target>", turn))
        full = head + sep + (rest.split("<edit>", 1)[0] + "<edit>" if opened else "") + parsed.text
        segs.append(_policy_seg("edit", full, turn, c, cname))
        self._emit(thread, "segment", tag="target", text=head, turn=turn)
        self._emit(thread, "segment", tag="edit", text=parsed.edit_text or "", turn=turn)
        return Command(
            goto="edit",
            update={
                "segments": segs,
                "deviations": devs,
                "transcript": transcript + full,
                "target_ids": picked or None,
                "edit_text": parsed.edit_text or "",
            },
        )

    def _op_stage(self, thread: str) -> list[str] | None:
        """Per-stage prompting: which kind of edit the request asks for, from the request alone (a short
        prompt with its own few-shot pairs); the answer restricts the op of the edit JSON."""
        constraint, _ = build_constraint(self.policy, "op", [])
        if constraint is None:
            return None
        stage = self.prompts["staged"]["op"]
        query = self._query.get(thread, "")
        messages = [{"role": "system", "content": stage["system"].strip()}]
        for ex in load_fewshot(self.config.fewshot_file)[: self.config.few_shot_k]:
            messages.append({"role": "user", "content": render(stage["user"], query=ex.query).strip()})
            messages.append({"role": "assistant", "content": json.loads(ex.edit)[0]["op"]})
        messages.append({"role": "user", "content": render(stage["user"], query=query).strip()})
        template = getattr(self.policy, "apply_chat_template", None)
        prompt = template(messages) if template is not None else messages
        params = make_params(
            max_tokens=6, temperature=0.0, top_p=1.0, stop=[], n=1, seed=self.config.seed, logprobs=True
        )
        t0 = time.perf_counter()
        try:
            out = self.policy.generate(prompt, params, constraint=constraint)[0]
        except Exception as exc:  # a failed op stage only loses the hint
            self._op_info[thread] = {"error": f"{type(exc).__name__}: {exc}"}
            return None
        op = (getattr(out, "text", "") or "").strip()
        self._op_info[thread] = {
            "op": op,
            "messages": messages,
            "token_ids": getattr(out, "token_ids", None),
            "logprobs": getattr(out, "logprobs", None),
            "duration_ms": (time.perf_counter() - t0) * 1000,
        }
        return [op] if op in OP_MODELS else None

    def _compose(self, state: RolloutState, config: RunnableConfig) -> Command:
        thread, cfg = self._thread(config), self.config
        twin = TWINS.get(state["twin_key"])
        turn = state.get("turn", 1) - 1
        section = "code" if cfg.strategy == "code" else "staged"
        opener = self.prompts[section]["edit_open"]
        transcript = state.get("transcript", "") + opener
        segs = [self._env(opener, "edit", turn)]
        ids = state.get("target_ids") or twin.object_ids()
        constraint, cname = (
            build_constraint(self.policy, "edit", ids, max_ops=len(ids), allow_frames=cfg.allow_frames)
            if cfg.constrained
            else (None, None)
        )
        c = self._generate(thread, transcript, max_tokens=cfg.edit_tokens, stop=["</edit>"], constraint=constraint)
        text, _ = normalise_completion(c["text"], c["finish_reason"], c["stop_sequence"], None, False, turn)
        parsed = split_turn(text, c["finish_reason"], ("</edit>",), turn, opened="edit")
        segs.append(_policy_seg("edit", parsed.text, turn, c, cname))
        self._emit(thread, "segment", tag="edit", text=parsed.edit_text or "", turn=turn)
        devs = [d.model_dump() for d in parsed.deviations]
        return Command(
            goto="edit",
            update={
                "segments": segs,
                "deviations": devs,
                "transcript": transcript + parsed.text,
                "edit_text": parsed.edit_text or "",
            },
        )

    def _edit(self, state: RolloutState, config: RunnableConfig) -> Command:
        turn = state.get("turn", 1) - 1
        parsed = parse_edit(state.get("edit_text") or "", turn)
        devs = [d.model_dump() for d in parsed.deviations]
        if parsed.error:
            return Command(
                goto="validate", update={"deviations": devs, "status": "invalid", "reason": parsed.error}
            )
        ops = parsed.ops
        if ops is not None and self.config.ground_params:
            ops, notes = ground_ops(ops, state.get("query", ""))
            devs += [_dev("param_grounded", f"{note} (as the request states)", turn) for note in notes]
        return Command(goto="validate", update={"deviations": devs, "ops": ops, "edited_twin": parsed.twin})

    def _validate(self, state: RolloutState, config: RunnableConfig) -> Command:
        thread = self._thread(config)
        if state.get("status") == "invalid":
            return Command(goto=END, update={})
        twin = TWINS.get(state["twin_key"])
        ops = state.get("ops")
        if ops is not None:
            try:
                edited = apply_ops(twin, parse_ops(ops))
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                return Command(
                    goto=END, update={"status": "invalid", "reason": f"bad edit op at {where}: {err['msg']}"}
                )
            except EditError as exc:
                return Command(goto=END, update={"status": "invalid", "reason": str(exc)})
            result = validate_edited_twin(edited, twin)
        else:
            result = validate_edited_twin(state.get("edited_twin") or {}, twin)
        if not result.ok:
            return Command(goto=END, update={"status": "invalid", "reason": result.reason})
        key = TWINS.put(result.twin, key=f"edited:{thread}")
        self._emit(thread, "validated", ok=True)
        return Command(goto=END, update={"status": "ok", "reason": "", "edited_key": key})

    def _fail(self, state: RolloutState, config: RunnableConfig) -> Command:
        self._emit(self._thread(config), "failed", reason=state.get("reason", ""))
        return Command(goto=END, update={})

    def _executor(self, thread: str, twin_key: str) -> Executor:
        if thread not in self._executors:
            stack = contextlib.ExitStack()
            ex = stack.enter_context(self.executor_factory(TWINS.get(twin_key)))
            self._executors[thread] = (stack, ex)
        return self._executors[thread][1]

    # -------------------------------------------------------------------------------------------------- run
    def run(
        self,
        twin: Twin | str | Path,
        query: str,
        thread_id: str | None = None,
        on_event: EventCallback | None = None,
    ) -> Trace:
        """One rollout from the start; returns its trace (failures are recorded in it, not raised)."""
        thread = thread_id or uuid.uuid4().hex[:12]
        key = TWINS.put(twin)
        state: RolloutState = {
            "query": query,
            "twin_key": key,
            "turn": 0,
            "transcript": "",
            "segments": [],
            "deviations": [],
            "status": "running",
            "reason": "",
        }
        return self._invoke(state, thread, key, query, on_event)

    def resume(self, thread_id: str, on_event: EventCallback | None = None) -> Trace:
        """Continue an interrupted rollout from its last checkpoint (needs a checkpointer)."""
        snap = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        if not snap.values:
            raise RiverError(f"no checkpoint for rollout {thread_id!r}")
        return self._invoke(None, thread_id, snap.values["twin_key"], snap.values["query"], on_event)

    def _invoke(
        self, state: RolloutState | None, thread: str, key: str, query: str, on_event: EventCallback | None
    ) -> Trace:
        twin = TWINS.get(key)
        self._prompts[thread] = self.build_messages(twin, query)
        self._query[thread] = query
        if state is not None:
            state["transcript"] = self._prompts[thread][1]
        if on_event is not None:
            self._listeners[thread] = on_event
        cfg = {"configurable": {"thread_id": thread}, "recursion_limit": self.config.recursion_limit()}
        t0 = time.perf_counter()
        try:
            final = self.graph.invoke(state, cfg)
        finally:
            self._listeners.pop(thread, None)
            entry = self._executors.pop(thread, None)
            if entry is not None:
                entry[0].close()
        trace = self._trace(final, thread, key, (time.perf_counter() - t0) * 1000)
        if key.startswith("mem:"):
            TWINS.drop(key)  # in-memory twins cannot be resumed in another process anyway
        self._prompts.pop(thread, None)
        self._first_prompt.pop(thread, None)
        self._chat_text.pop(thread, None)
        self._query.pop(thread, None)
        op_info = self._op_info.pop(thread, None)
        if op_info is not None:
            trace.extra["op_stage"] = op_info
        return trace

    # ------------------------------------------------------------------------------------------------ trace
    def _trace(self, st: dict[str, Any], thread: str, key: str, total_ms: float) -> Trace:
        messages, prefix = self._prompts[thread]
        segments = [Segment(**x) for x in st.get("segments", [])]
        transcript = st.get("transcript", "")
        blocks, block_devs = parse_blocks(transcript, think_open=self._template_opens_think(thread))
        status = st.get("status", "error")
        edited = TWINS.get(st["edited_key"]) if st.get("edited_key") else None
        cfg = self.config
        gen_ms = sum(s.duration_ms for s in segments if s.source == "policy")
        sb_ms = sum(s.sandbox.duration_ms for s in segments if s.sandbox is not None)
        trace = Trace(
            id=thread,
            query=st.get("query", ""),
            twin_ref=key[5:] if key.startswith("path:") else key,
            backend=self.meta.get("backend"),
            model=self.meta.get("model"),
            adapter=self.meta.get("adapter"),
            strategy=cfg.strategy,
            settings={
                k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("prompt_file", "fewshot_file")
            },
            prompt_messages=messages,
            prompt_token_ids=(self._first_prompt.get(thread) or {}).get("prompt_token_ids"),
            segments=segments,
            blocks=[Block(**b.model_dump()) for b in blocks],
            deviations=[Deviation(**d) for d in st.get("deviations", [])]
            + [d for d in block_devs if d.tag == "untagged_text"],
            turns=st.get("turn", 0),
            status=status if status in ("ok", "invalid", "max_turns", "error") else "error",
            ops=st.get("ops"),
            edited_twin=st.get("edited_twin"),
            valid=status == "ok",
            reason=st.get("reason", ""),
            timings={
                "total_ms": round(total_ms, 2),
                "generate_ms": round(gen_ms, 2),
                "sandbox_ms": round(sb_ms, 2),
            },
            extra={"prompt_suffix": prefix} if prefix else {},
        )
        if edited is not None:
            trace.extra["edited_key"] = st["edited_key"]
        return trace


def _ends_in_think(text: str) -> bool:
    return text.rstrip().endswith("<think>")


def _policy_counter(policy: Any) -> Callable[[str], int] | None:
    count = getattr(policy, "count_tokens", None)
    if count is not None:
        return count
    tok = getattr(policy, "tokenize", None)
    if tok is not None:
        return lambda text: len(tok(text))
    return None


def edited_twin_of(trace: Trace) -> Twin | None:
    """D' of a successful rollout in this process (None when the rollout failed or ran elsewhere)."""
    key = trace.extra.get("edited_key")
    if not key:
        return None
    try:
        return TWINS.get(key)
    except RiverError:
        return None
