"""The converted-embedded-model cache: built once, reused, rebuilt when stale or corrupt, optional when unwritable.

The GGUF conversion is replaced by a counting stub returning the tiny random-weight Llama, so these tests are fast;
the cache folder itself is written and read by the real transformers code.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from river_agent.backends import SamplingParams
from river_agent.backends import transformers_backend as tb
from river_agent.backends.transformers_backend import CACHE_STAMP, TransformersBackend, load_model

torch.set_num_threads(1)


@pytest.fixture
def embedded(tmp_path, monkeypatch, tiny, fresh_tiny_model):
    """A fake embedded GGUF, a temp RIVER_CACHE_DIR and a counting converter; yields the call list."""
    gguf = tmp_path / "pkg" / "fake.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    monkeypatch.setenv("RIVER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tb, "embedded_gguf_path", lambda: gguf)
    monkeypatch.setattr(tb, "_CACHE", {})
    calls: list[Path] = []

    def convert(path: Path, dtype):
        calls.append(path)
        tok = tiny[1]
        return fresh_tiny_model(len(tok), seed=3), tok, {"tokenizer_ms": 1.0, "weights_ms": 2.0}

    monkeypatch.setattr(tb, "_convert_gguf", convert)
    tb.load_embedded_tokenizer.cache_clear()
    yield calls
    tb.load_embedded_tokenizer.cache_clear()


def _new_process_load(**kw):
    """load_model(None) as a fresh process would do it (no in-process cache)."""
    tb._CACHE.clear()
    stats: dict = {}
    model, tok = load_model(None, stats=stats, **kw)
    return model, tok, stats


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sorted(sa) == sorted(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RIVER_CACHE_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert tb.default_export_dir() == tmp_path / "r" / tb.EMBEDDED_NAME
    monkeypatch.delenv("RIVER_CACHE_DIR")
    assert tb.default_export_dir() == tmp_path / "x" / "river-agent" / tb.EMBEDDED_NAME
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert tb.default_export_dir() == Path("~/.cache/river-agent").expanduser() / tb.EMBEDDED_NAME


def test_cache_is_built_once_and_reused(embedded):
    first, tok1, s1 = _new_process_load()
    assert len(embedded) == 1 and s1["source"] == "gguf" and s1["cache"].startswith("built (missing")
    folder = tb.default_export_dir()
    stamp = json.loads((folder / CACHE_STAMP).read_text())
    assert stamp["source"]["size"] == tb.embedded_gguf_path().stat().st_size
    assert "config.json" in stamp["files"] and any(n.endswith(".safetensors") for n in stamp["files"])
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no temporary folders left

    second, tok2, s2 = _new_process_load()
    assert len(embedded) == 1, "the second load must not convert the GGUF again"
    assert s2["source"] == "cache" and "cache" not in s2 and s2["weights_ms"] >= 0
    assert _same_weights(first, second)
    msgs = [{"role": "user", "content": "ab <think> ünï"}]
    assert tok1.apply_chat_template(msgs, tokenize=False) == tok2.apply_chat_template(msgs, tokenize=False)
    greedy = SamplingParams(max_tokens=6, temperature=0)
    out1 = TransformersBackend(model=first, tokenizer=tok1).generate(msgs, greedy)[0]
    out2 = TransformersBackend(model=second, tokenizer=tok2).generate(msgs, greedy)[0]
    assert out1.token_ids == out2.token_ids and out1.prompt_token_ids == out2.prompt_token_ids

    backend = TransformersBackend()  # same process: the in-memory model, no disk at all
    assert backend.load_stats["source"] == "memory" and backend.model is second
    assert tb.export_embedded_model() == folder and len(embedded) == 1
    assert tb.load_embedded_tokenizer()("ab")["input_ids"] == tok1("ab")["input_ids"]  # from the cache


def test_bfloat16_load_keeps_a_float32_cache(embedded):
    model, _, s = _new_process_load(dtype="bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16 and s["source"] == "gguf"
    again, _, s = _new_process_load(dtype="float32")
    assert s["source"] == "cache" and next(again.parameters()).dtype == torch.float32


def test_stale_stamp_triggers_a_rebuild(embedded):
    _new_process_load()
    gguf, folder = tb.embedded_gguf_path(), tb.default_export_dir()

    st = gguf.stat()  # touched, same bytes: kept (sha256 agrees), and the stamp learns the new mtime
    os.utime(gguf, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    _, _, s = _new_process_load()
    assert s["source"] == "cache" and len(embedded) == 1
    assert json.loads((folder / CACHE_STAMP).read_text())["source"]["mtime_ns"] == gguf.stat().st_mtime_ns

    data = bytearray(gguf.read_bytes())  # same size, other bytes (a new release of the package)
    data[10] ^= 0xFF
    gguf.write_bytes(bytes(data))
    _, _, s = _new_process_load()
    assert len(embedded) == 2 and s["source"] == "gguf" and s["cache"].startswith("built (stale")

    gguf.write_bytes(gguf.read_bytes() + b"more")  # other size
    assert tb.embedded_cache_problem(folder, gguf) == "stale: the GGUF file changed size"
    _, _, s = _new_process_load()
    assert len(embedded) == 3 and s["cache"].startswith("built (stale")
    assert json.loads((folder / CACHE_STAMP).read_text())["source"]["size"] == gguf.stat().st_size
    _, _, s = _new_process_load()
    assert len(embedded) == 3 and s["source"] == "cache"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "stamp", "no_stamp", "deleted"])
def test_corrupt_cache_is_rebuilt(embedded, damage, caplog):
    _new_process_load()
    folder = tb.default_export_dir()
    weights = next(folder.glob("*.safetensors"))
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "garbage":  # same size: the stamp cannot tell, loading fails
        weights.write_bytes(b"\xff" * weights.stat().st_size)
    elif damage == "stamp":
        (folder / CACHE_STAMP).write_text("{not json")
    elif damage == "no_stamp":  # an interrupted or pre-stamp export
        (folder / CACHE_STAMP).unlink()
    else:
        (folder / "config.json").unlink()
    with caplog.at_level(logging.WARNING, logger=tb.__name__):
        _, _, s = _new_process_load()
    assert len(embedded) == 2 and s["source"] == "gguf" and s["cache"].startswith("built (")
    if damage == "garbage":
        assert "rebuilding" in caplog.text
    assert tb.embedded_cache_problem(folder, tb.embedded_gguf_path()) is None
    _, _, s = _new_process_load()
    assert s["source"] == "cache" and len(embedded) == 2


def test_unwritable_cache_falls_back_to_the_gguf(embedded, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("RIVER_CACHE_DIR", str(blocker / "cache"))  # cannot be created (root ignores chmod)
    with caplog.at_level(logging.WARNING, logger=tb.__name__):
        model, tok, s = _new_process_load()
    assert s["source"] == "gguf" and s["cache"].startswith("unwritable") and "RIVER_CACHE_DIR" in caplog.text
    out = TransformersBackend(model=model, tokenizer=tok).generate("ab", SamplingParams(max_tokens=3))
    assert out[0].token_ids
    _new_process_load()
    assert len(embedded) == 2  # converted each time, never crashing

    import river_agent.fsutil

    def read_only(target):
        raise OSError(30, "Read-only file system", str(target))

    monkeypatch.setenv("RIVER_CACHE_DIR", str(tmp_path / "ro"))
    monkeypatch.setattr(river_agent.fsutil, "atomic_dir", read_only)
    _, _, s = _new_process_load()
    assert s["cache"].startswith("unwritable: OSError") and not (tmp_path / "ro" / tb.EMBEDDED_NAME).exists()
    with pytest.raises(tb.BackendError, match="cannot write"):
        tb.export_embedded_model()


def test_export_to_another_folder(embedded, tmp_path):
    out = tb.export_embedded_model(tmp_path / "export")
    assert tb.embedded_cache_problem(out, tb.embedded_gguf_path()) is None
    assert tb.export_embedded_model(tmp_path / "export") == out and len(embedded) == 1
    model, _ = load_model(out)
    assert _same_weights(model, tb._CACHE[("<embedded>", "cpu", "float32")][0])


def test_agent_records_startup_timings(embedded):
    from river_agent.agent import AgentConfig, RiverAgent
    from river_agent.commands.edit import startup_line

    agent = RiverAgent(AgentConfig(adapter="none"))
    agent.policy  # noqa: B018
    t = agent.startup
    assert t["startup_ms"] > 0 and {"startup_import_ms", "startup_weights_ms", "startup_cache_write_ms"} <= set(t)
    assert agent.startup_info["source"] == "gguf"
    assert startup_line(t, agent.startup_info).startswith("start-up ")
    assert "model" in startup_line(t, agent.startup_info) and "(gguf)" in startup_line(t, agent.startup_info)
    first = agent._take_startup(12.0)
    assert first["startup_ms"] == 12.0 and "startup_weights_ms" in first
    assert agent._take_startup(0.5) == {"startup_ms": 0.5}  # later edits did not pay for the model


def test_constrained_decoding_does_not_import_torch_compile():
    """llguidance.torch compiles a kernel at import (torch._dynamo + inductor, 1-2 s): the masks do without it."""
    code = (
        "import sys, torch; torch.set_num_threads(1)\n"
        "from tests.backends.conftest import make_model, make_tokenizer\n"
        "from river_agent.backends import SamplingParams\n"
        "from river_agent.backends.constraints import RegexConstraint\n"
        "from river_agent.backends.transformers_backend import TransformersBackend\n"
        "tok = make_tokenizer(); b = TransformersBackend(model=make_model(len(tok)), tokenizer=tok)\n"
        "out = b.generate('q', SamplingParams(max_tokens=8, n=2, seed=0), RegexConstraint('ab+'))\n"
        "assert all(c.text.startswith('a') for c in out), out\n"
        "print(sorted(m for m in sys.modules if m in ('llguidance.torch', 'torch._inductor.compile_fx')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    res = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "[]"
