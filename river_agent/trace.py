"""Rollout traces: everything one reasoning rollout did, in one pydantic record, saved as JSONL.

A trace holds the prompt, each piece of the assistant transcript in order (``Segment``: who wrote it, the
policy or the environment, with token ids and logprobs for generated pieces), the tagged blocks parsed from the
transcript, sandbox results, the final ops / D', the validation outcome (R_dt) and every format deviation
(what R_token scores). ``Trace.grpo()`` gives what a GRPO trainer needs: prompt_ids, completion_ids, logprobs
and env_mask (1 = policy token, 0 = injected token).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from river_agent.errors import RiverError

TRACE_FORMAT = "river-trace/1"
Tag = Literal["think", "execute", "results", "edit", "target", "other"]
Status = Literal["ok", "invalid", "max_turns", "error", "running"]


class SandboxRecord(BaseModel):
    """What running one ``<execute>`` snippet gave."""

    ok: bool
    output: str = ""
    error: str | None = None
    error_type: str | None = None
    duration_ms: float = 0.0
    timed_out: bool = False
    killed: bool = False
    truncated: bool = False


class Segment(BaseModel):
    """One contiguous piece of the assistant transcript, written by the policy or injected by the environment."""

    tag: Tag = Field(description="Main tag of the piece (a generation ending in </execute> is 'execute').")
    source: Literal["policy", "env"] = "policy"
    text: str = Field(description="Exactly the text appended to the transcript.")
    turn: int = 0
    code: str | None = None
    sandbox: SandboxRecord | None = None
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    finish_reason: str | None = None
    constraint: str | None = Field(default=None, description="Name of the decoding constraint, if any.")
    duration_ms: float = 0.0
    votes: list[dict[str, Any]] | None = Field(
        default=None,
        description="Code strategy with several sampled programs: per program, the ids it printed, whether it "
        "ran without error (and the error type if not), whether it is the one kept, and its code.",
    )

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids) if self.token_ids is not None else 0


class Block(BaseModel):
    """A tagged block parsed from the whole transcript (for display and format rewards)."""

    tag: Tag
    text: str
    closed: bool = True


class Deviation(BaseModel):
    """A departure from the expected tag format; ``tag`` is a short machine-readable name."""

    tag: str
    detail: str = ""
    turn: int = 0


class Trace(BaseModel):
    """One rollout, start to end."""

    format: str = TRACE_FORMAT
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    query: str
    twin_ref: str | None = Field(default=None, description="Path of the twin D (or an in-memory handle).")
    backend: str | None = None
    model: str | None = None
    adapter: str | None = None
    strategy: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="Sampling, constraints, few-shot, ...")
    prompt_messages: list[dict[str, str]] = Field(default_factory=list)
    prompt_text: str | None = None
    prompt_token_ids: list[int] | None = None
    segments: list[Segment] = Field(default_factory=list)
    blocks: list[Block] = Field(default_factory=list)
    deviations: list[Deviation] = Field(default_factory=list)
    turns: int = 0
    status: Status = "running"
    ops: list[dict[str, Any]] | None = None
    edited_twin: dict[str, Any] | None = Field(default=None, description="D' when the policy wrote a whole twin.")
    edited_twin_path: str | None = None
    valid: bool = False
    reason: str = ""
    timings: dict[str, float] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)

    @property
    def completion_text(self) -> str:
        return "".join(s.text for s in self.segments)

    def token_counts(self) -> dict[str, int]:
        policy = sum(s.num_tokens for s in self.segments if s.source == "policy")
        env = sum(s.num_tokens for s in self.segments if s.source == "env")
        return {"prompt": len(self.prompt_token_ids or []), "policy": policy, "env": env}

    def grpo(self) -> dict[str, list]:
        """prompt_ids, completion_ids, logprobs and env_mask (1 = policy token) for a GRPO trainer.

        Segments without token ids are skipped, so check ``has_tokens`` first when that matters.
        """
        completion: list[int] = []
        logprobs: list[float] = []
        mask: list[int] = []
        for s in self.segments:
            if s.token_ids is None:
                continue
            completion += s.token_ids
            lp = s.logprobs if s.logprobs is not None and len(s.logprobs) == len(s.token_ids) else None
            logprobs += lp if lp is not None else [0.0] * len(s.token_ids)
            mask += [1 if s.source == "policy" else 0] * len(s.token_ids)
        return {
            "prompt_ids": list(self.prompt_token_ids or []),
            "completion_ids": completion,
            "logprobs": logprobs,
            "env_mask": mask,
        }

    @property
    def has_tokens(self) -> bool:
        return self.prompt_token_ids is not None and all(s.token_ids is not None for s in self.segments)

    def deviation_tags(self) -> list[str]:
        return [d.tag for d in self.deviations]


def save_traces(path: str | Path, traces: Iterable[Trace], append: bool = True) -> Path:
    """Write traces as JSONL (one per line). Appending adds whole lines; a fresh file is written atomically."""
    path = Path(path)
    lines = "".join(t.model_dump_json(exclude_none=True) + "\n" for t in traces)
    if append:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(lines)
    else:
        from river_agent.fsutil import write_text_atomic

        write_text_atomic(path, lines)
    return path


def iter_traces(path: str | Path) -> Iterator[Trace]:
    """Read traces from a JSONL file; a bad line raises a RiverError naming the line."""
    path = Path(path)
    if not path.exists():
        raise RiverError(f"{path}: no such trace file")
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield Trace.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise RiverError(f"{path}:{n}: not a river trace: {str(exc).splitlines()[0]}") from exc


def load_traces(path: str | Path) -> list[Trace]:
    return list(iter_traces(path))
