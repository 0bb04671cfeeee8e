"""Start and stop a vLLM OpenAI-compatible server (e.g. the CPU build in ``.venv-vllm``) on 127.0.0.1.

``VLLMServer(VLLMServerConfig(model=DIR)).start()`` runs ``python -m vllm.entrypoints.openai.api_server`` from
the vLLM venv, waits until ``/health`` and ``/v1/models`` answer, and ``stop()`` ends it (the whole process
group). ``server.backend()`` returns a litellm backend (``hosted_vllm/NAME``) talking to it. Its log is kept
in a file for when start-up fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from river_agent.backends.base import BackendError, BackendUnavailableError

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_vllm_venv() -> Path:
    """``$RIVER_VLLM_VENV``, else ``.venv-vllm`` in the current folder, else beside the package."""
    env = os.environ.get("RIVER_VLLM_VENV")
    if env:
        return Path(env)
    here = Path.cwd() / ".venv-vllm"
    return here if here.exists() else REPO_ROOT / ".venv-vllm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class VLLMServerConfig:
    """How to run the vLLM server."""

    model: str = field(metadata={"help": "Model folder (safetensors + tokenizer) to serve."})
    served_model_name: str = field(default="smollm2", metadata={"help": "Name clients use ('hosted_vllm/NAME')."})
    host: str = field(default="127.0.0.1", metadata={"help": "Interface to bind (keep it local)."})
    port: int | None = field(default=None, metadata={"help": "TCP port; a free one when None."})
    venv: str | None = field(default=None, metadata={"help": "vLLM venv folder (default: .venv-vllm)."})
    dtype: str = field(default="bfloat16", metadata={"help": "Weight dtype on the server."})
    max_model_len: int = field(default=4096, metadata={"help": "Context length (prompt + completion)."})
    kvcache_space_gb: int = field(default=2, metadata={"help": "VLLM_CPU_KVCACHE_SPACE: KV cache size in GiB."})
    omp_threads_bind: str = field(default="0-1", metadata={"help": "VLLM_CPU_OMP_THREADS_BIND: cores to use."})
    cache_dir: str | None = field(
        default=None,
        metadata={"help": "One folder for vLLM/inductor caches and temp files (~/.cache/river-agent/vllm)."},
    )
    lora_modules: dict[str, str] = field(
        default_factory=dict, metadata={"help": "LoRA adapters to serve: name -> peft adapter folder."}
    )
    enable_lora: bool = field(default=False, metadata={"help": "Allow LoRA adapters (also set by lora_modules)."})
    max_lora_rank: int = field(default=8, metadata={"help": "Largest LoRA rank the server accepts."})
    structured_outputs_backend: str = field(
        default="guidance",
        metadata={"help": "Constraint engine; 'guidance' (llguidance) takes our Lark grammars."},
    )
    logprobs_mode: str = field(
        default="processed_logprobs",
        metadata={"help": "Log-probs after temperature/top-p/constraint masks: the true sampling distribution."},
    )
    startup_timeout: float = field(default=600.0, metadata={"help": "Seconds to wait for the server to answer."})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "More api_server arguments."})


class VLLMServer:
    """A vLLM server process; use as a context manager or call ``start()``/``stop()``."""

    def __init__(self, config: VLLMServerConfig):
        self.config = config
        self.port = config.port or free_port()
        self.proc: subprocess.Popen | None = None
        cache = Path(config.cache_dir or Path.home() / ".cache" / "river-agent" / "vllm").expanduser()
        self.cache_dir = cache
        self.log_path = cache / f"server-{self.port}.log"
        self.startup_seconds: float | None = None

    @property
    def api_base(self) -> str:
        return f"http://{self.config.host}:{self.port}/v1"

    def python(self) -> Path:
        venv = Path(self.config.venv) if self.config.venv else default_vllm_venv()
        py = venv / "bin" / "python"
        if not py.exists():
            raise BackendUnavailableError(
                f"no vLLM venv at {venv}: create it with `make vllm-env` (scripts/setup_vllm_cpu.sh)"
            )
        return py

    def command(self) -> list[str]:
        c = self.config
        cmd = [
            str(self.python()),
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(c.model),
            "--served-model-name",
            c.served_model_name,
            "--host",
            c.host,
            "--port",
            str(self.port),
            "--dtype",
            c.dtype,
            "--max-model-len",
            str(c.max_model_len),
            "--logprobs-mode",
            c.logprobs_mode,
            "--structured-outputs-config",
            json.dumps({"backend": c.structured_outputs_backend}),
        ]
        if c.enable_lora or c.lora_modules:
            cmd += ["--enable-lora", "--max-lora-rank", str(c.max_lora_rank)]
        if c.lora_modules:
            cmd += ["--lora-modules", *[f"{k}={v}" for k, v in c.lora_modules.items()]]
        return cmd + list(c.extra_args)

    def env(self) -> dict[str, str]:
        c = self.config
        tmp = self.cache_dir / "tmp"
        for d in (self.cache_dir, tmp):
            d.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            VLLM_CPU_KVCACHE_SPACE=str(c.kvcache_space_gb),
            VLLM_CPU_OMP_THREADS_BIND=c.omp_threads_bind,
            VLLM_CACHE_ROOT=str(self.cache_dir / "vllm"),
            TORCHINDUCTOR_CACHE_DIR=str(self.cache_dir / "inductor"),
            TMPDIR=str(tmp),
            HF_HUB_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            VLLM_ALLOW_RUNTIME_LORA_UPDATING="1" if (c.enable_lora or c.lora_modules) else "0",
        )
        env.pop("PYTHONPATH", None)
        return env

    def start(self) -> VLLMServer:
        if self.proc is not None:
            return self
        if not Path(self.config.model).exists():
            raise BackendError(f"model folder {self.config.model} does not exist")
        cmd, env = self.command(), self.env()
        t0 = time.monotonic()
        log = open(self.log_path, "w")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        try:
            self._wait_ready(t0)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, t0: float) -> None:
        assert self.proc is not None
        while time.monotonic() - t0 < self.config.startup_timeout:
            if self.proc.poll() is not None:
                raise BackendUnavailableError(
                    f"vLLM server exited with code {self.proc.returncode} during start-up; "
                    f"last log lines:\n{self.log_tail()}"
                )
            if self.healthy():
                return
            time.sleep(1.0)
        raise BackendUnavailableError(
            f"vLLM server did not answer within {self.config.startup_timeout:.0f} s; log:\n{self.log_tail()}"
        )

    def healthy(self) -> bool:
        base = f"http://{self.config.host}:{self.port}"
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                if r.status != 200:
                    return False
            with urllib.request.urlopen(f"{base}/v1/models", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError, TimeoutError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def backend(self, **kw: Any) -> Any:
        """A litellm backend for this server (the model folder's tokenizer gives exact chat prompts)."""
        from river_agent.backends.litellm_backend import LiteLLMBackend

        kw.setdefault("tokenizer", self.config.model)
        return LiteLLMBackend(f"hosted_vllm/{self.config.served_model_name}", api_base=self.api_base, **kw)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
