"""Transformers backend on a tiny random-weight Llama (fast) and on the embedded SmolLM2 (slow)."""

from __future__ import annotations

import json
import re

import pytest
import torch

from river_agent.backends import BackendError, SamplingParams, get_backend
from river_agent.backends.constraints import (
    RegexConstraint,
    TagFormatConstraint,
    edit_ops_constraint,
    river_turn_constraint,
)
from river_agent.backends.transformers_backend import TransformersBackend
from river_agent.twin.ops import parse_ops


def test_n_samples_seeded_with_logprobs(tiny_backend):
    p = SamplingParams(max_tokens=12, n=3, seed=7, logprobs=True)
    a = tiny_backend.generate("hello", p)
    b = tiny_backend.generate("hello", p)
    c = tiny_backend.generate("hello", SamplingParams(max_tokens=12, n=3, seed=8, logprobs=True))
    assert len(a) == 3
    assert [x.token_ids for x in a] == [x.token_ids for x in b]
    assert [x.token_ids for x in a] != [x.token_ids for x in c]
    for x in a:
        assert len(x.token_ids) == len(x.logprobs) == 12
        assert x.finish_reason == "length" and x.backend == "transformers" and not x.constrained
        assert all(lp <= 0 for lp in x.logprobs)
    assert len({tuple(x.token_ids) for x in a}) > 1  # sampled rows differ


def test_logprobs_match_recomputed_forward(tiny):
    model, tok = tiny
    backend = TransformersBackend(model=model, tokenizer=tok)
    temp = 0.7
    out = backend.generate("abc", SamplingParams(max_tokens=10, n=2, temperature=temp, seed=3, logprobs=True))
    for c in out:
        ids = torch.tensor([c.prompt_token_ids + c.token_ids])
        with torch.no_grad():
            logits = model(ids).logits[0].float()
        plen = len(c.prompt_token_ids)
        lp = torch.log_softmax(logits[plen - 1 : -1] / temp, dim=-1)
        expected = lp.gather(1, torch.tensor(c.token_ids)[:, None])[:, 0]
        assert torch.allclose(expected, torch.tensor(c.logprobs), atol=1e-4)


def test_greedy_n_copies_and_logprobs_are_model_distribution(tiny):
    model, tok = tiny
    backend = TransformersBackend(model=model, tokenizer=tok)
    out = backend.generate("xy", SamplingParams(max_tokens=6, temperature=0, n=2, logprobs=True))
    assert out[0].token_ids == out[1].token_ids
    ids = torch.tensor([out[0].prompt_token_ids + out[0].token_ids])
    with torch.no_grad():
        logits = model(ids).logits[0]
    plen = len(out[0].prompt_token_ids)
    assert logits[plen - 1 : -1].argmax(-1).tolist() == out[0].token_ids


def test_stop_string_cuts_text_and_is_recorded(tiny_backend):
    forced = RegexConstraint("ab STOP cd")
    out = tiny_backend.generate("q", SamplingParams(max_tokens=30, n=2, stop=["STOP"], seed=0), forced)
    for c in out:
        assert c.text == "ab "
        assert c.stop_sequence == "STOP" and c.finish_reason == "stop"
        # token ids keep the tokens of the stop string (as vLLM does), and nothing after it
        assert tiny_backend.tokenizer.decode(c.token_ids) == "ab STOP"
    kept = tiny_backend.generate(
        "q", SamplingParams(max_tokens=30, stop=["STOP", "b"], include_stop_str_in_output=True), forced
    )
    assert kept[0].text == "ab" and kept[0].stop_sequence == "b"


def test_eos_ends_completion(tiny_backend):
    out = tiny_backend.generate("q", SamplingParams(max_tokens=30, logprobs=True), RegexConstraint("done"))
    c = out[0]
    assert c.text == "done" and c.finish_reason == "stop" and c.stop_sequence is None
    assert c.token_ids[-1] == tiny_backend.tokenizer.eos_token_id
    assert len(c.logprobs) == len(c.token_ids)
    assert c.constrained and c.constraint == "regex:done"


def test_chat_messages_use_chat_template(tiny_backend):
    msgs = [{"role": "user", "content": "hi"}]
    text = tiny_backend.apply_chat_template(msgs)
    assert text.endswith("<|im_start|>assistant\n")
    out = tiny_backend.generate(msgs, SamplingParams(max_tokens=3))
    assert out[0].prompt_token_ids == tiny_backend.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tiny_backend.count_tokens("hello there") == len(tiny_backend.tokenizer("hello there")["input_ids"])


def test_tag_format_constraint_gives_well_formed_turns(tiny_backend):
    c = river_turn_constraint(
        [3, 5], min_ops=1, max_ops=1, max_string_chars=4, max_think_chars=12, max_block_chars=12
    )
    out = tiny_backend.generate("q", SamplingParams(max_tokens=300, n=4, seed=1, logprobs=True), c)
    for comp in out:
        assert comp.constrained and comp.constraint == "tag_format:edit_json"
        m = re.fullmatch(r"<think>(.*?)</think>\n?(?:<execute>(.*)</execute>|<edit>(.*)</edit>)", comp.text, re.S)
        assert m, (comp.finish_reason, len(comp.token_ids), comp.text)
        if m.group(3) is not None:
            ops = parse_ops(json.loads(m.group(3)))
            assert ops and all(op.id in (3, 5) for op in ops)
        assert all(lp > float("-inf") for lp in comp.logprobs)
        assert comp.finish_reason == "stop" and not comp.deviations


def test_json_schema_constraint_on_edit_ops(tiny_backend):
    out = tiny_backend.generate(
        "q",
        SamplingParams(max_tokens=200, n=2, seed=2),
        edit_ops_constraint([9], min_ops=1, max_ops=2, max_string_chars=4),
    )
    for comp in out:
        if comp.finish_reason == "stop":
            ops = parse_ops(json.loads(comp.text))
            assert ops and {op.id for op in ops} == {9}
        else:  # cut by max_tokens: still a valid prefix of the schema's language
            assert comp.text.startswith('[{"op": "')


def test_execute_only_constraint(tiny_backend):
    c = TagFormatConstraint(allow_edit=False, max_think_chars=5, max_block_chars=5)
    out = tiny_backend.generate("q", SamplingParams(max_tokens=60, seed=4), c)
    assert re.fullmatch(r"<think>.{0,5}</think>\n?<execute>.{0,5}</execute>", out[0].text, re.S), out[0].text
    assert out[0].constraint == "tag_format:execute_only"


def test_lora_adapter_swap_changes_and_restores_outputs(tiny, tmp_path, fresh_tiny_model):
    make_model = fresh_tiny_model
    from peft import LoraConfig, get_peft_model

    _, tok = tiny
    base = make_model(len(tok), seed=0)
    lora = get_peft_model(make_model(len(tok), seed=0), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 2.0)
    lora.save_pretrained(tmp_path / "a")

    backend = TransformersBackend(model=base, tokenizer=tok)
    greedy = SamplingParams(max_tokens=10, temperature=0)
    before = backend.generate("hello", greedy)[0].token_ids
    backend.load_adapter(tmp_path / "a", "a")
    assert backend.active_adapter == "a"
    adapted = backend.generate("hello", greedy)[0].token_ids
    assert adapted != before
    backend.set_adapter(None)
    assert backend.generate("hello", greedy)[0].token_ids == before
    backend.set_adapter("a")
    assert backend.generate("hello", greedy)[0].token_ids == adapted
    with pytest.raises(BackendError, match="unknown adapter"):
        backend.set_adapter("nope")
    with pytest.raises(BackendError, match="not a peft adapter"):
        backend.load_adapter(tmp_path, "b")


def test_bad_inputs_raise_backend_errors(tiny_backend, tmp_path):
    with pytest.raises(BackendError):
        SamplingParams(n=0)
    with pytest.raises(BackendError):
        SamplingParams(top_p=0)
    with pytest.raises(BackendError):
        tiny_backend.generate([{"text": "no role"}])
    with pytest.raises(BackendError, match="does not exist"):
        TransformersBackend(tmp_path / "missing")
    with pytest.raises(BackendError, match="unknown backend"):
        get_backend("nope")
    with pytest.raises(BackendError, match="needs a model name"):
        get_backend("litellm")
    with pytest.raises(BackendError, match="invalid constraint"):
        tiny_backend.generate("q", SamplingParams(max_tokens=2), RegexConstraint("(unclosed"))


@pytest.mark.slow
def test_embedded_smollm2_generates_and_exports(tmp_path):
    from river_agent.backends.transformers_backend import export_embedded_model

    backend = get_backend("transformers")
    assert backend.count_tokens("hello world") == 2
    msgs = [{"role": "user", "content": "List three colours, one per line."}]
    greedy = SamplingParams(max_tokens=24, temperature=0, logprobs=True, stop=["\n\n"])
    out = backend.generate(msgs, greedy)[0]
    assert out.text.strip() and len(out.logprobs) == len(out.token_ids) <= 24
    turn = river_turn_constraint([1, 2], min_ops=1, max_think_chars=80, allow_execute=False)
    c = backend.generate(msgs, SamplingParams(max_tokens=120, n=2, seed=0, temperature=0.7), turn)
    for comp in c:
        if comp.finish_reason == "stop":
            payload = re.search(r"<edit>(.*)</edit>", comp.text, re.S).group(1)
            assert {op.id for op in parse_ops(json.loads(payload))} <= {1, 2}

    folder = export_embedded_model(tmp_path / "smol")
    assert (folder / "config.json").is_file()
    again = TransformersBackend(folder).generate(msgs, greedy)[0]
    assert again.token_ids == out.token_ids


def test_live_policy_updates_reach_generation(tiny, fresh_tiny_model):
    _, tok = tiny
    model = fresh_tiny_model(len(tok), seed=1)
    backend = TransformersBackend(model=model, tokenizer=tok)
    greedy = SamplingParams(max_tokens=8, temperature=0)
    before = backend.generate("hi", greedy)[0].token_ids
    model.train()  # as inside a trainer
    with torch.no_grad():
        model.lm_head.weight.add_(torch.randn_like(model.lm_head.weight) * 20)
    after = backend.generate("hi", greedy)[0].token_ids
    assert after != before
    assert model.training  # the trainer's mode is restored
