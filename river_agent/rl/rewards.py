"""GRPO rewards of the paper: ``R = alpha (R_token + R_exec + R_dt) + beta R_perf``.

- ``R_token`` (format): 0 when the transcript's tag blocks come in the order the strategy asks for, each closed,
  and no format deviation was repaired on the way; else -1.
- ``R_exec``: 0 when every ``<execute>`` ran without error (each sandbox record ok, not timed out or killed);
  else -0.5. A rollout without ``<execute>`` gets ``RewardConfig.no_execute`` (0: nothing failed).
- ``R_dt``: +0.5 when D' is valid (the ops applied and D' passed ``validate_edited_twin``), else -0.5.
- ``R_perf``: +1 when the judge (``rl.judges``) says the edit matches the request and keeps the rest, else -1.

Optional shaped rewards (``RewardConfig.shaped``, off by default, logged separately): ``target_reward`` (the
edited ids against the case's target ids, Jaccard overlap scaled to [-1, 1]) and ``op_reward`` (+0.5 / -0.5 for
the first op's kind).

Tag order per strategy (blocks of ``Trace.blocks``; untagged text is ignored, every other block must be closed):

- ``free`` (the paper): ``think (execute results think*)+ edit``: think first, at least one execute/results
  round, the edit last.
- ``code``: ``think* (execute results think*)+ edit``: like free, think optional.
- ``staged``, ``RewardConfig.staged_format="strategy"`` (default): ``think? target edit``; with ``"paper"``
  the free rule applies, so a staged rollout (no ``<execute>``) always gets -1.

Deviations (``Trace.deviations``) that count as format failures: ``FORMAT_DEVIATIONS`` (a tag, or a prefix
ending in ``*``); content repairs of the edit JSON (fences, Python literals, a single op) and backend artefacts
(``reasoning_content``, ``text_after_action``, ``code_fence``) do not count.

Each reward function has trl's signature ``f(prompts, completions, **kwargs) -> list[float]`` and reads the
rollout traces from ``kwargs["trace"]`` (Trace objects or their ``model_dump()``) and the dataset columns
``target_ids``, ``edit``, ``level``, ``case_dir``, ``query`` (one entry per completion). A missing trace scores
the worst value of each component.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from river_agent.errors import RiverError
from river_agent.trace import Trace

RewardFunc = Callable[..., list[float]]

FORMAT_DEVIATIONS: tuple[str, ...] = (
    "unclosed_*",  # a tag never closed (think, execute, edit, target); the harness closed it
    "missing_open_*",  # </edit> or </execute> without its opening tag
    "unmatched_close",  # a closing tag with no block open
    "model_wrote_results",  # the policy wrote a <results> block itself (hallucinated tool output)
    "no_action",  # a generation ended with neither <execute> nor <edit>
    "bad_target",  # <target> without any known object id
)
"""Deviation tags that make ``R_token`` -1 (``*``: any tag with that prefix)."""

_LETTERS = {"think": "T", "execute": "X", "results": "R", "edit": "E", "target": "G"}
TAG_ORDER: dict[str, str] = {
    "free": r"T+(?:XRT*)+E",
    "code": r"T*(?:XRT*)+E",
    "staged": r"T?GE",
}
"""Allowed tag sequences per strategy, as regexes over T(hink) X(execute) R(esults) G (target) E(dit)."""

WORST = {"token": -1.0, "exec": -0.5, "dt": -0.5, "perf": -1.0, "target": -1.0, "op": -0.5}


@dataclass
class RewardConfig:
    """Weights and rules of the GRPO rewards."""

    alpha: float = field(default=1.0, metadata={"help": "Weight of R_token + R_exec + R_dt."})
    beta: float = field(default=1.0, metadata={"help": "Weight of R_perf (the judge)."})
    staged_format: str = field(
        default="strategy",
        metadata={
            "help": "R_token of staged rollouts: 'strategy' (think? target edit) or 'paper' (think, execute, "
            "results, edit as in the free strategy, so staged rollouts always get -1)."
        },
    )
    no_execute: float = field(
        default=0.0, metadata={"help": "R_exec of a rollout without any <execute> (0: nothing failed)."}
    )
    default_strategy: str = field(
        default="free", metadata={"help": "Tag rule for traces that do not record their strategy."}
    )
    format_deviations: tuple[str, ...] = field(
        default=FORMAT_DEVIATIONS,
        metadata={"help": "Deviation tags (or 'prefix*') that count as format failures in R_token."},
    )
    shaped: bool = field(
        default=False, metadata={"help": "Add the shaped rewards target_reward and op_reward (logged apart)."}
    )
    shaped_weight: float = field(default=1.0, metadata={"help": "Weight of each shaped reward."})

    def __post_init__(self) -> None:
        if self.staged_format not in ("strategy", "paper"):
            raise RiverError(f"staged_format must be 'strategy' or 'paper', not {self.staged_format!r}")
        if self.default_strategy not in TAG_ORDER:
            raise RiverError(f"default_strategy must be one of {', '.join(TAG_ORDER)}")
        self.format_deviations = tuple(self.format_deviations)


class RewardBreakdown(BaseModel):
    """Every component of one rollout's reward, the weighted total and why each component got its value."""

    token: float
    execute: float
    dt: float
    perf: float
    target: float | None = None
    op: float | None = None
    total: float
    reasons: dict[str, str] = Field(default_factory=dict)


# ------------------------------------------------------------------------------------------- the components
def as_trace(value: Any) -> Trace | None:
    """A Trace from a Trace, its ``model_dump()`` or JSON text; None when there is none or it does not parse."""
    if value is None or isinstance(value, Trace):
        return value
    try:
        if isinstance(value, str | bytes):
            return Trace.model_validate_json(value)
        return Trace.model_validate(value)
    except ValidationError:
        return None


def _strategy(trace: Trace, cfg: RewardConfig) -> str:
    s = trace.strategy or trace.settings.get("strategy") or cfg.default_strategy
    return s if s in TAG_ORDER else cfg.default_strategy


def format_failures(trace: Trace, cfg: RewardConfig | None = None) -> list[str]:
    """Why ``trace`` fails the format rule (empty list: it passes)."""
    cfg = cfg or RewardConfig()
    problems: list[str] = []
    blocks = [b for b in trace.blocks if b.tag != "other"]
    unclosed = [b.tag for b in blocks if not b.closed]
    if unclosed:
        problems.append(f"unclosed <{'>, <'.join(unclosed)}>")
    devs = sorted(
        {d for d in trace.deviation_tags() if any(fnmatch.fnmatchcase(d, p) for p in cfg.format_deviations)}
    )
    if devs:
        problems.append("deviations: " + ", ".join(devs))
    strategy = _strategy(trace, cfg)
    rule = "free" if strategy == "staged" and cfg.staged_format == "paper" else strategy
    seq = "".join(_LETTERS[b.tag] for b in blocks)
    if not re.fullmatch(TAG_ORDER[rule], seq):
        names = " ".join(b.tag for b in blocks) or "no blocks"
        problems.append(f"tag order '{names}' does not match the {rule} rule {TAG_ORDER[rule]}")
    return problems


def token_value(trace: Trace | None, cfg: RewardConfig | None = None) -> tuple[float, str]:
    """R_token and its reason.

    >>> from river_agent.trace import Block
    >>> ok = Trace(query="q", strategy="staged",
    ...            blocks=[Block(tag="target", text="3"), Block(tag="edit", text='[{"op": "remove", "id": 3}]')])
    >>> token_value(ok)[0]
    0.0
    >>> token_value(ok, RewardConfig(staged_format="paper"))[0]
    -1.0
    >>> free = Trace(query="q", strategy="free", blocks=[Block(tag=t, text="x", closed=t != "think")
    ...              for t in ("think", "execute", "results", "edit")])
    >>> token_value(free)
    (-1.0, 'unclosed <think>')
    """
    if trace is None:
        return WORST["token"], "no trace"
    problems = format_failures(trace, cfg)
    return (-1.0, "; ".join(problems)) if problems else (0.0, "format ok")


def exec_value(trace: Trace | None, cfg: RewardConfig | None = None) -> tuple[float, str]:
    """R_exec and its reason.

    >>> from river_agent.trace import Segment, SandboxRecord
    >>> seg = lambda ok: Segment(tag="results", source="env", text="...", sandbox=SandboxRecord(ok=ok))
    >>> exec_value(Trace(query="q", segments=[seg(True), seg(True)]))[0]
    0.0
    >>> exec_value(Trace(query="q", segments=[seg(True), seg(False)]))[0]
    -0.5
    >>> exec_value(Trace(query="q"))  # no <execute>: RewardConfig.no_execute
    (0.0, 'no <execute>')
    """
    cfg = cfg or RewardConfig()
    if trace is None:
        return WORST["exec"], "no trace"
    records = [s.sandbox for s in trace.segments if s.sandbox is not None]
    asked = max(
        sum(1 for s in trace.segments if s.tag == "execute" and s.source == "policy"),
        sum(1 for b in trace.blocks if b.tag == "execute"),
    )
    if not records and not asked:
        return cfg.no_execute, "no <execute>"
    bad = [r for r in records if not r.ok or r.timed_out or r.killed]
    if bad:
        r = bad[0]
        why = "timed out" if r.timed_out else (r.error_type or "error") + (f": {r.error}" if r.error else "")
        return -0.5, f"{len(bad)} of {len(records)} <execute> failed ({why})"[:300]
    if len(records) < asked:
        return -0.5, f"{asked - len(records)} <execute> never ran"
    return 0.0, f"{len(records)} <execute> ran"


def dt_value(trace: Trace | None) -> tuple[float, str]:
    """R_dt and its reason: +0.5 when D' is valid (``trace.valid`` or status 'ok'), else -0.5.

    >>> dt_value(Trace(query="q", status="ok", valid=True))[0]
    0.5
    >>> dt_value(Trace(query="q", status="invalid", reason="object 9 is not in the twin"))
    (-0.5, 'object 9 is not in the twin')
    """
    if trace is None:
        return WORST["dt"], "no trace"
    if trace.valid or trace.status == "ok":
        return 0.5, "D' valid"
    return -0.5, trace.reason or f"D' not valid (status {trace.status})"


def perf_value(trace: Trace | None, case: Any, judge: Any) -> tuple[float, str]:
    """R_perf and its reason: +1 when ``judge`` says ok, else -1 (a judge that raises counts as -1)."""
    if trace is None:
        return WORST["perf"], "no trace"
    from river_agent.rl.judges import CaseInfo

    try:
        verdict = judge.judge(trace, CaseInfo.coerce(case))
    except Exception as exc:  # a judge bug must not stop training: score it as a failed judgement
        return -1.0, f"judge failed: {type(exc).__name__}: {exc}"[:300]
    return (1.0 if verdict.ok else -1.0), verdict.reason


def picked_ids(trace: Trace) -> list[int]:
    """The object ids the rollout edits: ids of ``trace.ops``, else ``extra['target_ids']``, else the last
    ``<target>`` block's numbers."""
    ids = [int(op["id"]) for op in trace.ops or [] if isinstance(op, dict) and isinstance(op.get("id"), int)]
    if not ids and isinstance(trace.extra.get("target_ids"), list):
        ids = [int(i) for i in trace.extra["target_ids"] if isinstance(i, int)]
    if not ids:
        target = [b for b in trace.blocks if b.tag == "target"]
        if target:
            ids = [int(x) for x in re.findall(r"\d+", target[-1].text)]
    return sorted(set(ids))


def target_value(trace: Trace | None, target_ids: Sequence[int] | None) -> tuple[float, str]:
    """Shaped: 2 * Jaccard(picked ids, target ids) - 1 (exact ids: +1, disjoint or none: -1); 0 without
    target ids.

    >>> target_value(Trace(query="q", ops=[{"op": "remove", "id": 3}, {"op": "remove", "id": 4}]), [3])
    (0.0, 'picked [3, 4], target [3]')
    """
    if trace is None:
        return WORST["target"], "no trace"
    if target_ids is None:
        return 0.0, "no target ids"
    got, want = set(picked_ids(trace)), {int(i) for i in target_ids}
    union = got | want
    jaccard = len(got & want) / len(union) if union else 1.0
    return 2.0 * jaccard - 1.0, f"picked {sorted(got)}, target {sorted(want)}"


def op_value(trace: Trace | None, edit: dict[str, Any] | None) -> tuple[float, str]:
    """Shaped: +0.5 when the first op's kind is the case's edit op, -0.5 when not, 0 without ops or edit.

    >>> op_value(Trace(query="q", ops=[{"op": "recolor", "id": 2, "color": "red"}]), {"op": "recolor"})[0]
    0.5
    """
    if trace is None:
        return WORST["op"], "no trace"
    if not trace.ops or not edit or "op" not in edit:
        return 0.0, "no ops" if not trace.ops else "no edit in the case"
    first = trace.ops[0].get("op") if isinstance(trace.ops[0], dict) else None
    return (0.5 if first == edit["op"] else -0.5), f"op {first!r}, case op {edit['op']!r}"


def total_reward(trace: Any, case_info: Any, cfg: RewardConfig | None, judge: Any) -> RewardBreakdown:
    """All components of one rollout's reward and the weighted total (for evaluation and notebooks)."""
    from river_agent.rl.judges import CaseInfo

    cfg = cfg or RewardConfig()
    t = as_trace(trace)
    case = CaseInfo.coerce(case_info)
    (tok, r_tok), (ex, r_ex), (dt, r_dt) = token_value(t, cfg), exec_value(t, cfg), dt_value(t)
    perf, r_perf = perf_value(t, case, judge)
    total = cfg.alpha * (tok + ex + dt) + cfg.beta * perf
    reasons = {"token": r_tok, "execute": r_ex, "dt": r_dt, "perf": r_perf}
    target = op = None
    if cfg.shaped:
        target, reasons["target"] = target_value(t, case.target_ids)
        op, reasons["op"] = op_value(t, case.edit)
        total += cfg.shaped_weight * (target + op)
    return RewardBreakdown(
        token=tok, execute=ex, dt=dt, perf=perf, target=target, op=op, total=total, reasons=reasons
    )


# -------------------------------------------------------------------------------------- trl reward functions
def _column(kwargs: dict[str, Any], key: str, n: int) -> list[Any]:
    value = kwargs.get(key)
    if value is None or isinstance(value, str | bytes | dict) or not hasattr(value, "__len__") or len(value) != n:
        return [None] * n
    return list(value)


def _edit(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, dict) else None


def _ids(value: Any) -> list[int] | None:
    if value is None or isinstance(value, str | bytes):
        return None
    try:
        return [int(i) for i in value]
    except (TypeError, ValueError):
        return None


def _rows(completions: Sequence[Any], kwargs: dict[str, Any]) -> list[tuple[Trace | None, dict[str, Any]]]:
    """(trace, case columns) per completion."""
    n = len(completions)
    traces = _column(kwargs, "trace", n)
    cols = {k: _column(kwargs, k, n) for k in ("query", "target_ids", "edit", "level", "case_dir")}
    rows = []
    for i in range(n):
        case = {
            "query": cols["query"][i] or "",
            "target_ids": _ids(cols["target_ids"][i]),
            "edit": _edit(cols["edit"][i]),
            "level": cols["level"][i] if isinstance(cols["level"][i], int) else None,
            "case_dir": cols["case_dir"][i] or None,
        }
        rows.append((as_trace(traces[i]), case))
    return rows


def _named(fn: RewardFunc, name: str) -> RewardFunc:
    fn.__name__ = name
    fn.__qualname__ = name
    return fn


def make_reward_funcs(cfg: RewardConfig | None, judge: Any) -> tuple[list[RewardFunc], list[float]]:
    """trl ``reward_funcs`` and ``reward_weights``: token, exec, dt (weight alpha), perf (beta), plus
    target and op (``shaped_weight``) when ``cfg.shaped``."""
    cfg = cfg or RewardConfig()

    def token_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [token_value(t, cfg)[0] for t, _ in _rows(completions, kwargs)]

    def exec_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [exec_value(t, cfg)[0] for t, _ in _rows(completions, kwargs)]

    def dt_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [dt_value(t)[0] for t, _ in _rows(completions, kwargs)]

    def perf_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        scored = [perf_value(t, case, judge) for t, case in _rows(completions, kwargs)]
        log = kwargs.get("log_extra")
        if callable(log):  # trl's completions table gets the judge's reasons
            try:
                log("judge", [why for _, why in scored])
            except Exception:  # logging is best effort
                pass
        return [v for v, _ in scored]

    def target_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [target_value(t, case["target_ids"])[0] for t, case in _rows(completions, kwargs)]

    def op_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float]:
        return [op_value(t, case["edit"])[0] for t, case in _rows(completions, kwargs)]

    funcs = [
        _named(token_reward, "token_reward"),
        _named(exec_reward, "exec_reward"),
        _named(dt_reward, "dt_reward"),
        _named(perf_reward, "perf_reward"),
    ]
    weights = [cfg.alpha, cfg.alpha, cfg.alpha, cfg.beta]
    if cfg.shaped:
        funcs += [_named(target_reward, "target_reward"), _named(op_reward, "op_reward")]
        weights += [cfg.shaped_weight, cfg.shaped_weight]
    return funcs, weights
