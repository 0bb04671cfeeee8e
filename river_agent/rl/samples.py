"""Token-level samples from rollout traces: what SFT and GRPO train on.

A sample is the chat-templated prompt's ids, the transcript's ids (every segment in order: policy tokens as
generated, environment-injected text such as ``<execute>`` openers and ``<results>`` tokenised) and a mask that is
1 on policy tokens and 0 on injected ones, so injected text never enters a loss.

The ids are the pieces' own ids concatenated; at generation time the model read the prompt as one string, which
may tokenise differently at a piece boundary (rare, a handful of tokens). The trainers score the concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from river_agent.trace import Trace


@dataclass
class Sample:
    """One rollout as token ids: prompt, completion, the policy mask and the sampled logprobs."""

    prompt_ids: list[int]
    completion_ids: list[int]
    env_mask: list[int]
    logprobs: list[float]

    @property
    def policy_tokens(self) -> int:
        return sum(self.env_mask)


def prompt_ids(trace: Trace, tokenizer: Any) -> list[int]:
    """The chat-templated prompt of ``trace`` (its messages and the generation prompt) as ids."""
    text = tokenizer.apply_chat_template(trace.prompt_messages, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def trace_sample(trace: Trace, tokenizer: Any) -> Sample:
    """Prompt ids, completion ids, env mask and logprobs of one trace (segments without ids are tokenised)."""
    completion: list[int] = []
    mask: list[int] = []
    logprobs: list[float] = []
    for seg in trace.segments:
        ids = seg.token_ids
        if ids is None:
            ids = list(tokenizer(seg.text, add_special_tokens=False)["input_ids"])
        completion += ids
        policy = seg.source == "policy"
        mask += [1 if policy else 0] * len(ids)
        lp = seg.logprobs if seg.logprobs is not None and len(seg.logprobs) == len(ids) else None
        logprobs += lp if lp is not None else [0.0] * len(ids)
    return Sample(prompt_ids(trace, tokenizer), completion, mask, logprobs)
