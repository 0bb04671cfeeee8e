"""A scripted test-double policy (tests only): replays fixed completions through the backend interface.

It behaves like an OpenAI-style backend: generation stops at the first stop string, which is removed from the
text and reported in ``stop_sequence``. Token ids are one per character (``ord``), with made-up logprobs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScriptedCompletion:
    text: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    stop_sequence: str | None = None
    prompt_token_ids: list[int] | None = None
    constrained: bool = False
    reasoning_content: str | None = None


@dataclass
class ScriptedPolicy:
    """Answers each ``generate`` call with the next scripted reply (a string or ``fn(prompt) -> str``, or a list
    of strings: that many completions of one call, as a backend asked for ``n`` of them returns)."""

    replies: list[str | Callable[[Any], str] | list[str]]
    keep_stop: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)
    fail_on_call: int | None = None  # raise RuntimeError on this call index (0-based), once

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def generate(self, prompt: Any, params: Any, constraint: Any = None) -> list[ScriptedCompletion]:
        i = len(self.calls)
        self.calls.append({"prompt": prompt, "params": params, "constraint": constraint})
        if self.fail_on_call is not None and i == self.fail_on_call:
            self.fail_on_call = None
            self.calls.pop()  # a crashed call consumes no reply
            raise RuntimeError("scripted crash")
        if i >= len(self.replies):
            r: Any = ""
        else:
            r = self.replies[i]
            r = r(prompt) if callable(r) else r
        text = "".join(m["content"] for m in prompt) if isinstance(prompt, list) else str(prompt)
        replies = r if isinstance(r, list) else [r]
        return [self._completion(reply, params, text) for reply in replies]

    def _completion(self, reply: str, params: Any, prompt_text: str) -> ScriptedCompletion:
        stops = list(getattr(params, "stop", None) or [])
        hits = [(reply.find(s), s) for s in stops if s in reply]
        stop_seq = None
        finish = "stop"
        generated = reply
        if hits:
            pos, stop_seq = min(hits)
            generated = reply[: pos + len(stop_seq)]  # the stop string's tokens were generated ...
            reply = reply[: pos + (len(stop_seq) if self.keep_stop else 0)]  # ... but the text lacks it
        limit = getattr(params, "max_tokens", None) or getattr(params, "max_new_tokens", None)
        if limit is not None and len(reply) > limit:
            reply, finish, stop_seq = reply[:limit], "length", None
            generated = reply
        return ScriptedCompletion(
            text=reply,
            token_ids=self.tokenize(generated),
            logprobs=[-0.5] * len(generated),
            finish_reason=finish,
            stop_sequence=stop_seq,
            prompt_token_ids=self.tokenize(prompt_text),
        )
