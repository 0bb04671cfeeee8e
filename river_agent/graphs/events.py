"""Typed events the edit pipeline streams to apps (``RiverAgent.stream``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StageStarted:
    stage: str  # perceive | reason | validate | render | verify


@dataclass(frozen=True)
class StageFinished:
    stage: str
    seconds: float
    ok: bool = True
    detail: str = ""


@dataclass(frozen=True)
class RolloutSegment:
    """A piece of the reasoning transcript as it is produced (tag: think/execute/results/target/edit)."""

    tag: str
    text: str
    turn: int = 0


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class Finished:
    """The last event: the whole result (``result`` is an ``EditResult``)."""

    result: Any = field(repr=False)


AgentEvent = StageStarted | StageFinished | RolloutSegment | Progress | Finished
