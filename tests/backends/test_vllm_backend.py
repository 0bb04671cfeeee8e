"""vLLM server manager (fast, with a fake vLLM venv) and the in-process vLLM backend (real, in .venv-vllm)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from river_agent.backends import BackendError, BackendUnavailableError, get_backend
from river_agent.backends.vllm_server import VLLMServer, VLLMServerConfig, default_vllm_venv

REPO = Path(__file__).resolve().parents[2]


def fake_venv(tmp_path: Path, script: str) -> Path:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    py = venv / "bin" / "python"
    py.write_text(f"#!{sys.executable}\n{script}")
    py.chmod(0o755)
    return venv


def test_server_command_and_env(tmp_path):
    venv = fake_venv(tmp_path, "")
    cfg = VLLMServerConfig(
        model=str(tmp_path), venv=str(venv), port=8123, lora_modules={"a": "/ad"}, cache_dir=str(tmp_path / "c")
    )
    s = VLLMServer(cfg)
    cmd = s.command()
    assert cmd[:3] == [str(venv / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    for part in (
        "--port 8123",
        "--host 127.0.0.1",
        "--dtype bfloat16",
        "--max-model-len 4096",
        "--enable-lora --max-lora-rank 8 --lora-modules a=/ad",
        "--logprobs-mode processed_logprobs",
    ):
        assert part in joined
    env = s.env()
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2" and env["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"
    assert env["TMPDIR"].startswith(str(tmp_path / "c")) and env["TORCHINDUCTOR_CACHE_DIR"].startswith(
        str(tmp_path)
    )
    assert s.api_base == "http://127.0.0.1:8123/v1"


def test_server_missing_venv_and_model(tmp_path):
    with pytest.raises(BackendUnavailableError, match="make vllm-env"):
        VLLMServer(VLLMServerConfig(model=str(tmp_path), venv=str(tmp_path / "none"))).start()
    with pytest.raises(BackendError, match="does not exist"):
        VLLMServer(VLLMServerConfig(model=str(tmp_path / "nomodel"), venv=str(tmp_path))).start()


def test_server_that_dies_reports_its_log(tmp_path):
    venv = fake_venv(tmp_path, "import sys\nprint('boom: no such model')\nsys.exit(3)\n")
    s = VLLMServer(VLLMServerConfig(model=str(tmp_path), venv=str(venv), cache_dir=str(tmp_path / "c")))
    with pytest.raises(BackendUnavailableError, match="exited with code 3") as e:
        s.start()
    assert "boom: no such model" in str(e.value)
    assert s.proc is None


def test_server_that_never_answers_times_out_and_is_killed(tmp_path):
    venv = fake_venv(tmp_path, "import time\ntime.sleep(60)\n")
    cfg = VLLMServerConfig(model=str(tmp_path), venv=str(venv), cache_dir=str(tmp_path / "c"), startup_timeout=2)
    s = VLLMServer(cfg)
    with pytest.raises(BackendUnavailableError, match="did not answer"):
        s.start()
    assert s.proc is None


def test_vllm_backend_without_vllm_is_a_clear_error():
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(BackendUnavailableError, match="vllm"):
            get_backend("vllm")
    else:  # pragma: no cover
        pytest.skip("vllm is installed in this environment")


SNIPPET = textwrap.dedent(
    """
    import json, sys
    from river_agent.backends import SamplingParams
    from river_agent.backends.constraints import RegexConstraint
    from river_agent.backends.vllm_backend import VLLMBackend
    b = VLLMBackend(sys.argv[1], dtype="bfloat16", max_model_len=1024)
    msgs = [{"role": "user", "content": "Name three colours."}]
    g = b.generate(msgs, SamplingParams(max_tokens=16, temperature=0, logprobs=True, stop=["\\n"]))[0]
    s = b.generate(msgs, SamplingParams(max_tokens=8, n=3, seed=1, logprobs=True))
    c = b.generate("Answer:", SamplingParams(max_tokens=8), RegexConstraint("(yes|no)"))[0]
    print("RESULT" + json.dumps({"greedy": g.model_dump(), "n": len(s),
          "lens": [[len(x.token_ids), len(x.logprobs)] for x in s], "constrained": c.model_dump()}))
    """
)


@pytest.mark.slow
@pytest.mark.vllm
def test_in_process_vllm_backend_in_vllm_venv(tmp_path):
    py = default_vllm_venv() / "bin" / "python"
    if not py.exists():
        pytest.skip(f"no vLLM venv at {default_vllm_venv()}: run `make vllm-env`")
    from river_agent.backends.transformers_backend import export_embedded_model

    folder = export_embedded_model()
    env = dict(
        os.environ,
        PYTHONPATH=str(REPO),
        VLLM_CPU_KVCACHE_SPACE="1",
        VLLM_CPU_OMP_THREADS_BIND="0-1",
        TMPDIR=str(tmp_path),
        HF_HUB_OFFLINE="1",
    )
    cache = Path.home() / ".cache" / "river-agent" / "vllm"
    env.update(VLLM_CACHE_ROOT=str(cache / "vllm"), TORCHINDUCTOR_CACHE_DIR=str(cache / "inductor"))
    r = subprocess.run(
        [str(py), "-c", SNIPPET, str(folder)], env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path
    )
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT")]
    assert r.returncode == 0 and lines, r.stderr[-3000:]
    res = json.loads(lines[-1][len("RESULT") :])
    g = res["greedy"]
    assert g["backend"] == "vllm" and "\n" not in g["text"] and len(g["token_ids"]) == len(g["logprobs"])
    assert res["n"] == 3 and all(a == b for a, b in res["lens"])
    c = res["constrained"]
    assert c["constrained"] and c["text"] in ("yes", "no")
