"""The one interface for text generation: sampling parameters, completions, the abstract backend, errors.

A backend turns a prompt (raw text, or chat messages as ``[{"role": ..., "content": ...}]``) into ``n``
completions. Completions carry what RL needs: generated token ids and per-token log-probabilities under the
distribution the tokens were actually sampled from (temperature, top-p and any active constraint included),
and whether a constraint was active.
"""

from __future__ import annotations

import asyncio
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from river_agent.errors import RiverError

if TYPE_CHECKING:
    from river_agent.backends.constraints import Constraint

Messages = list[dict[str, Any]]
Prompt = str | Messages


class BackendError(RiverError):
    """A backend is misconfigured, failed, or returned something unusable; the message says which and why."""


class BackendUnavailableError(BackendError):
    """A backend cannot be reached or is not installed (server down, optional package missing)."""


class BackendResponseError(BackendError):
    """A backend answered, but with garbage (malformed JSON, missing fields, wrong number of choices)."""


@dataclass
class SamplingParams:
    """How to sample; the same meaning on every backend."""

    max_tokens: int = field(default=256, metadata={"help": "Most tokens to generate per completion."})
    temperature: float = field(default=1.0, metadata={"help": "Softmax temperature; 0 means greedy decoding."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass in (0, 1]; 1 disables it."})
    n: int = field(default=1, metadata={"help": "Number of completions to return for the prompt."})
    stop: list[str] = field(
        default_factory=list, metadata={"help": "Stop strings; generation ends when one appears in the text."}
    )
    seed: int | None = field(default=None, metadata={"help": "Random seed for reproducible sampling."})
    logprobs: bool = field(
        default=False, metadata={"help": "Return per-token log-probabilities of the generated tokens."}
    )
    include_stop_str_in_output: bool = field(
        default=False, metadata={"help": "Keep the stop string that ended a completion at the end of its text."}
    )

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise BackendError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if self.n < 1:
            raise BackendError(f"n must be >= 1, got {self.n}")
        if self.temperature < 0 or not math.isfinite(self.temperature):
            raise BackendError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise BackendError(f"top_p must be in (0, 1], got {self.top_p}")
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        if any(not s for s in self.stop):
            raise BackendError("stop strings must be non-empty")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


FinishReason = str  # "stop" (EOS or stop string), "length" (max_tokens), or a provider's own reason


class Completion(BaseModel):
    """One generated completion."""

    text: str = Field(description="Generated text (after the prompt), cut at the stop string that ended it.")
    token_ids: list[int] | None = Field(
        default=None,
        description="Generated token ids, including the tokens of a matched stop string and a final EOS token.",
    )
    logprobs: list[float] | None = Field(
        default=None,
        description="Log-probability of each generated token under the distribution actually sampled from "
        "(temperature, top-p and constraint applied); same length as token_ids.",
    )
    finish_reason: FinishReason = Field(
        description="'stop' (EOS or stop string), 'length' (max_tokens), or a provider's own reason."
    )
    stop_sequence: str | None = Field(default=None, description="The stop string that ended it, if any.")
    prompt_token_ids: list[int] | None = Field(default=None, description="Token ids of the prompt, if known.")
    constrained: bool = Field(default=False, description="Whether a decoding constraint was active.")
    constraint: str | None = Field(default=None, description="Which constraint was active (its description).")
    backend: str = Field(description="Name of the backend that produced it.")
    deviations: list[str] = Field(
        default_factory=list, description="Ways the returned text or tokens differ from the raw model output."
    )

    @property
    def num_tokens(self) -> int | None:
        return None if self.token_ids is None else len(self.token_ids)


def apply_stop(text: str, stop: list[str], include: bool) -> tuple[str, str | None]:
    """Cut ``text`` at the earliest stop string; return (text, matched stop or None)."""
    best: tuple[int, str] | None = None
    for s in stop:
        i = text.find(s)
        if i >= 0 and (best is None or i < best[0] or (i == best[0] and len(s) > len(best[1]))):
            best = (i, s)
    if best is None:
        return text, None
    i, s = best
    return (text[: i + len(s)] if include else text[:i]), s


def is_messages(prompt: Prompt) -> bool:
    if isinstance(prompt, str):
        return False
    if isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt):
        return True
    raise BackendError("prompt must be a string or a list of chat messages ({'role': ..., 'content': ...})")


class LLMBackend(ABC):
    """Abstract text-generation backend. Subclasses implement ``generate``; the rest has defaults."""

    name: str = "abstract"
    supports_adapters: bool = False
    supports_constraints: bool = False

    @abstractmethod
    def generate(
        self, prompt: Prompt, params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Completion]:
        """Return ``params.n`` completions of ``prompt`` (text, or chat messages rendered by the chat template)."""

    async def agenerate(
        self, prompt: Prompt, params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Completion]:
        """Async ``generate``; the default runs it in a worker thread."""
        return await asyncio.to_thread(self.generate, prompt, params, constraint)

    @property
    def tokenizer(self) -> Any | None:
        """The Hugging Face tokenizer, where the backend has one."""
        return None

    def count_tokens(self, text: str) -> int:
        """Number of tokens in ``text`` (exact with a tokenizer; otherwise ~4 characters per token)."""
        tok = self.tokenizer
        if tok is None:
            return max(1, math.ceil(len(text) / 4)) if text else 0
        return len(tok(text, add_special_tokens=False)["input_ids"])

    def apply_chat_template(self, messages: Messages, add_generation_prompt: bool = True) -> str:
        """Render chat messages to the prompt text the model sees."""
        tok = self.tokenizer
        if tok is None or getattr(tok, "chat_template", None) is None:
            raise BackendError(f"backend {self.name!r} has no tokenizer with a chat template")
        return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def load_adapter(self, path: str, name: str) -> None:
        """Load a LoRA adapter from ``path`` under ``name`` (not merged into the weights)."""
        raise BackendError(f"backend {self.name!r} does not support LoRA adapters")

    def set_adapter(self, name: str | None) -> None:
        """Use adapter ``name`` for generation; ``None`` generates with the base weights."""
        raise BackendError(f"backend {self.name!r} does not support LoRA adapters")

    @property
    def active_adapter(self) -> str | None:
        return None

    def close(self) -> None:
        """Release resources (servers, engines). Safe to call twice."""
        return None

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_constraint(self, constraint: Constraint | None) -> None:
        if constraint is not None and not self.supports_constraints:
            raise BackendError(f"backend {self.name!r} does not support constrained decoding")
