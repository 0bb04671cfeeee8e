"""The litellm backend driving a real vLLM CPU server (``.venv-vllm``) that serves the exported SmolLM2.

Slow (~2-3 min: the server compiles on start); skipped when ``.venv-vllm`` does not exist (``make vllm-env``).
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest
import torch

from river_agent.backends import SamplingParams
from river_agent.backends.constraints import river_turn_constraint
from river_agent.backends.vllm_server import VLLMServer, VLLMServerConfig, default_vllm_venv

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

MSGS = [{"role": "user", "content": "Name three colours."}]


class _Running:
    """A server someone already started (RIVER_VLLM_TEST_API_BASE), serving the exported model + adapter 'a'."""

    def __init__(self, api_base: str, folder: str):
        self.api_base, self.folder = api_base, folder

    def backend(self, **kw):
        from river_agent.backends.litellm_backend import LiteLLMBackend

        kw.setdefault("tokenizer", self.folder)
        return LiteLLMBackend("hosted_vllm/smollm2", api_base=self.api_base, **kw)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if os.environ.get("RIVER_VLLM_TEST_API_BASE"):
        from river_agent.backends.transformers_backend import export_embedded_model

        folder = export_embedded_model()
        yield _Running(os.environ["RIVER_VLLM_TEST_API_BASE"], str(folder)), folder
        return
    if not (default_vllm_venv() / "bin" / "python").exists():
        pytest.skip(f"no vLLM venv at {default_vllm_venv()}: run `make vllm-env` to test against a real server")
    from peft import LoraConfig, get_peft_model

    from river_agent.backends.transformers_backend import export_embedded_model, load_model

    folder = export_embedded_model()
    # a LoRA adapter with non-zero B weights, so it visibly changes the policy
    base, _ = load_model(str(folder))
    import copy

    lora = get_peft_model(copy.deepcopy(base), LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    adapter = tmp_path_factory.mktemp("lora") / "a"
    lora.save_pretrained(adapter)
    del lora

    cfg = VLLMServerConfig(model=str(folder), lora_modules={"a": str(adapter)}, max_lora_rank=8)
    with VLLMServer(cfg) as server:
        print(f"\nvLLM cold start: {server.startup_seconds:.1f} s")
        yield server, folder


def test_greedy_stop_and_logprobs_match_transformers(served):
    server, folder = served
    b = server.backend()
    p = SamplingParams(max_tokens=40, temperature=0, logprobs=True, stop=["\n"])
    c = b.generate(MSGS, p)[0]
    assert "\n" not in c.text and c.text.strip()
    assert c.finish_reason in ("stop", "length")
    if c.finish_reason == "stop" and c.token_ids[-1] != b.tokenizer.eos_token_id:
        assert c.stop_sequence == "\n"
    assert len(c.token_ids) == len(c.logprobs) and all(lp <= 1e-6 for lp in c.logprobs)
    assert c.prompt_token_ids == b.tokenizer(b.apply_chat_template(MSGS), add_special_tokens=False)["input_ids"]

    # the server's logprobs are those of its tokens under the same model (bf16 there, float32 here)
    from river_agent.backends.transformers_backend import load_model

    model, _ = load_model(str(folder))
    ids = torch.tensor([c.prompt_token_ids + c.token_ids])
    with torch.no_grad():
        logits = model(ids).logits[0].float()
    n0 = len(c.prompt_token_ids)
    ref = torch.log_softmax(logits[n0 - 1 : -1], -1).gather(1, torch.tensor(c.token_ids)[:, None])[:, 0]
    assert (ref - torch.tensor(c.logprobs)).abs().mean() < 0.2

    kept = b.generate(
        MSGS, SamplingParams(max_tokens=40, temperature=0, stop=["\n"], include_stop_str_in_output=True)
    )
    if kept[0].stop_sequence == "\n":
        assert kept[0].text == c.text + "\n"


def test_n_samples_seeded(served):
    server, _ = served
    b = server.backend()
    p = SamplingParams(max_tokens=24, n=4, temperature=1.0, seed=1, logprobs=True)
    a = b.generate(MSGS, p)
    again = b.generate(MSGS, p)
    assert len(a) == 4 and len({c.text for c in a}) > 1
    assert [c.token_ids for c in a] == [c.token_ids for c in again]
    for c in a:
        assert len(c.token_ids) == len(c.logprobs) <= 24


def test_constrained_turn_through_chat_endpoint(served):
    server, _ = served
    b = server.backend(tokenizer=None)  # no local tokenizer: the chat endpoint, where litellm splits <think>
    c = river_turn_constraint(
        [4, 7], min_ops=1, max_ops=2, max_string_chars=16, max_think_chars=60, allow_execute=False
    )
    out = b.generate(MSGS, SamplingParams(max_tokens=160, n=2, seed=0, temperature=0.8, logprobs=True), c)
    for comp in out:
        assert comp.constrained
        if comp.finish_reason != "stop":
            continue
        # whether or not litellm moved the <think> block into reasoning_content, the text has it back
        m = re.fullmatch(r"<think>.*</think>\n?<edit>(.*)</edit>", comp.text, re.S)
        assert m, comp.text
        assert {op["id"] for op in json.loads(m.group(1))} <= {4, 7}


def test_constrained_text_completion_logprobs_are_processed(served):
    server, _ = served
    b = server.backend()
    c = river_turn_constraint([4, 7], min_ops=1, max_ops=1, max_string_chars=16, max_think_chars=40)
    out = b.generate(MSGS, SamplingParams(max_tokens=160, seed=0, temperature=0.8, logprobs=True), c)[0]
    assert out.text.startswith("<think>")
    assert len(out.logprobs) == len(out.token_ids)
    # forced tokens (only one allowed) have probability 1 under the masked distribution
    assert max(out.logprobs) > -1e-3


def test_lora_adapter_switch(served):
    server, _ = served
    b = server.backend()
    greedy = SamplingParams(max_tokens=16, temperature=0)
    base = b.generate(MSGS, greedy)[0].token_ids
    b.set_adapter("a")
    adapted = b.generate(MSGS, greedy)[0].token_ids
    b.set_adapter(None)
    assert b.generate(MSGS, greedy)[0].token_ids == base
    assert adapted != base


def test_throughput_numbers(served):
    server, _ = served
    b = server.backend()
    for label, p in [
        ("greedy x1", SamplingParams(max_tokens=128, temperature=0)),
        ("sampled n=4", SamplingParams(max_tokens=128, n=4, seed=0)),
    ]:
        b.extra_body = {"ignore_eos": True}
        t = time.perf_counter()
        out = b.generate(MSGS, p)
        dt = time.perf_counter() - t
        toks = sum(len(c.token_ids) for c in out)
        print(f"vLLM CPU {label}: {toks} tokens in {dt:.2f} s = {toks / dt:.1f} tok/s")
        assert toks > 0
