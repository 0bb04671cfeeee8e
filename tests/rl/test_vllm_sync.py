"""GRPO generation on a vLLM server: the live adapter is saved and loaded by the server after each step."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from river_agent.errors import RiverError
from river_agent.rl.vllm_sync import VLLMAdapterSync
from tests.backends.conftest import make_model, make_tokenizer
from tests.backends.test_litellm_backend import FakeServer


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def _trainer(model, step: int):
    return SimpleNamespace(
        state=SimpleNamespace(global_step=step), model=model, accelerator=SimpleNamespace(unwrap_model=lambda m: m)
    )


def test_adapter_reaches_the_server_after_each_step(server, tmp_path):
    from peft import LoraConfig, get_peft_model

    tok = make_tokenizer()
    model = get_peft_model(make_model(len(tok)), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    sync = VLLMAdapterSync(server.url, tmp_path / "live", tok, served_model="smol", keep=2)
    server.script = [(200, "Success: LoRA adapter loaded")] * 3  # what vLLM answers to /v1/load_lora_adapter

    backend = sync(_trainer(model, 0))
    assert sync(_trainer(model, 0)) is backend  # same step: nothing reloaded
    sync(_trainer(model, 1))
    sync(_trainer(model, 2))
    loads = [body for path, body in server.requests if path.endswith("/load_lora_adapter")]
    assert [b["lora_name"] for b in loads] == ["step0", "step1", "step2"]
    for body in loads:
        assert body["lora_path"].endswith(f"step-{body['lora_name'][4:]}")
    kept = sorted(p.name for p in (tmp_path / "live").iterdir())
    assert kept == ["step-1", "step-2"]  # older adapters removed
    assert (tmp_path / "live" / "step-2" / "adapter_config.json").is_file()
    assert backend.active_adapter == "step2"  # generation asks the server for the newest adapter


def test_vllm_generator_needs_a_server_url(tmp_path):
    with pytest.raises(RiverError, match="vllm-url"):
        VLLMAdapterSync(None, tmp_path, make_tokenizer())
