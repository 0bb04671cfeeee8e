"""trl's ``rollout_func``: GRPO completions come from the same LangGraph rollout that inference runs.

Each prompt trl hands over is an item key (the dataset's ``prompt`` column); the rollout runs over that item's twin
with the trainer's live policy (the peft model being optimised, sampled in-process through
``TransformersBackend``), and returns the transcript's token ids with ``env_mask`` 0 on everything the environment
injected (``<execute>`` openers, ``<results>``, ``<edit>`` openers): those tokens are context, never trained on.

Constrained decoding (the ``<edit>`` JSON on known ids) samples from the model's distribution masked to what the
grammar allows. The logprobs recorded in the traces are of that masked distribution; the GRPO loss recomputes
log-probabilities with the unmasked model (trl does, without vLLM), so a token the grammar forced still gets
its ordinary gradient. Each trace is also saved (``traces.jsonl``) and handed to the reward functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from river_agent.graphs.rollout import Rollout, RolloutConfig, default_executor_factory
from river_agent.rl.data import Item
from river_agent.rl.samples import trace_sample
from river_agent.trace import Trace, save_traces


class GraphRollouts:
    """``rollout_func(prompts, trainer)`` over ``items`` (keyed by id) with one rollout config."""

    def __init__(
        self,
        items: dict[str, Item],
        config: RolloutConfig,
        tokenizer: Any,
        trace_file: str | Path | None = None,
        executor_factory: Any = None,
        policy_factory: Callable[[Any], Any] | None = None,
    ) -> None:
        self.items = items
        self.config = config
        self.tokenizer = tokenizer
        self.trace_file = Path(trace_file) if trace_file else None
        self.executor_factory = executor_factory or default_executor_factory()
        self.policy_factory = policy_factory
        self.calls = 0
        self.last_seconds = 0.0

    def policy_for(self, trainer: Any) -> Any:
        """The generator: the trainer's live model in-process, or what ``policy_factory`` builds (e.g. vLLM)."""
        if self.policy_factory is not None:
            return self.policy_factory(trainer)
        from river_agent.backends.transformers_backend import TransformersBackend

        model = trainer.accelerator.unwrap_model(trainer.model) if hasattr(trainer, "accelerator") else trainer
        return TransformersBackend(model=model, tokenizer=self.tokenizer)

    def run(self, policy: Any, keys: list[str], step: int | None = None) -> list[Trace]:
        rollout = Rollout(policy, self.config, self.executor_factory, meta={"backend": "grpo", "step": step})
        traces = []
        for key in keys:
            item = self.items[key]
            trace = rollout.run(item.load_twin(), item.query)
            trace.extra.update({"item": key, "step": step})
            traces.append(trace)
        return traces

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, list]:
        t0 = time.perf_counter()
        step = getattr(getattr(trainer, "state", None), "global_step", None)
        traces = self.run(self.policy_for(trainer), [str(p) for p in prompts], step)
        out: dict[str, list] = {
            "prompt_ids": [],
            "completion_ids": [],
            "logprobs": [],
            "env_mask": [],
            "trace": [],
        }
        for trace in traces:
            s = trace_sample(trace, self.tokenizer)
            out["prompt_ids"].append(s.prompt_ids)
            out["completion_ids"].append(s.completion_ids)
            out["logprobs"].append(s.logprobs)
            out["env_mask"].append(s.env_mask)
            out["trace"].append(trace.model_dump(mode="json", exclude_none=True))
        if self.trace_file is not None:
            save_traces(self.trace_file, traces)
        self.calls += 1
        self.last_seconds = time.perf_counter() - t0
        return out
