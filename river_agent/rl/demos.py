"""Demonstrations for the supervised warm start: the right answer of an item, written through the rollout graph.

``ReferencePolicy`` is not a model: it answers each generation of a rollout with the item's known answer (a
compiled twin-API program for ``<execute>``, the target ids, the edit ops), tokenised with the real tokenizer.
Running it through the same graph that inference runs gives traces in exactly the format the policy will
produce, with the environment's injected text (openers, ``<results>``) where the graph puts it; those traces are
the SFT data (a documented departure from the paper, which starts GRPO from the base model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from river_agent.rl.data import Item
from river_agent.trace import Trace


@dataclass
class _Reply:
    text: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str = "stop"
    stop_sequence: str | None = None
    prompt_token_ids: list[int] | None = None
    constrained: bool = False


@dataclass
class ReferencePolicy:
    """Answers a rollout's generations with an item's known answer (see the module doc)."""

    tokenizer: Any
    ops: list[dict[str, Any]]
    program: str | None = None
    calls: list[str] = field(default_factory=list)

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _answer(self, stops: list[str]) -> tuple[str, str]:
        ops = json.dumps(self.ops)
        ids = ", ".join(str(op["id"]) for op in self.ops)
        if "</execute>" in stops:
            return (self.program or "print(find())").rstrip("\n") + "\n", "</execute>"
        if "</target>" in stops:
            return ids, "</target>"
        if "</edit>" in stops:
            last = self.calls[-1] if self.calls else ""
            return (ops if last != "fused" else f"{ids}</target>\n<edit>{ops}"), "</edit>"
        return "", ""

    def generate(self, prompt: Any, params: Any, constraint: Any = None) -> list[_Reply]:
        stops = list(getattr(params, "stop", None) or [])
        fused = getattr(constraint, "kind", None) == "target_edit" or (
            "</edit>" in stops and isinstance(prompt, str) and prompt.rstrip().endswith("<target>")
        )
        self.calls.append("fused" if fused else ",".join(stops))
        text, stop = self._answer(stops)
        ids = self.tokenize(text + stop)
        return [_Reply(text=text, token_ids=ids, logprobs=[0.0] * len(ids), stop_sequence=stop or None)]


def demonstrate(
    item: Item, rollout_factory: Any, tokenizer: Any, rng: np.random.Generator, with_program: bool = True
) -> Trace:
    """One reference trace for ``item``: the compiled program (code strategy) and the gold edit.

    ``rollout_factory(policy) -> Rollout`` builds the graph with the strategy being trained.
    """
    program = None
    if with_program and item.logic is not None:
        from river_agent.bench.programs import compile_program

        program = compile_program(item.logic, rng)
    policy = ReferencePolicy(tokenizer, item.gold_ops(), program)
    return rollout_factory(policy).run(item.load_twin(), item.query)
