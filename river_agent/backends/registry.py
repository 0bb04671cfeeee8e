"""``get_backend(name_or_config)``: build a backend by name ("transformers", "litellm", "vllm") or config."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from river_agent.backends.base import BackendError, LLMBackend

BACKEND_NAMES = ("transformers", "litellm", "vllm")


@dataclass
class BackendConfig:
    """Which backend to use and how to reach its model."""

    backend: str = field(default="transformers", metadata={"help": f"One of {', '.join(BACKEND_NAMES)}."})
    model: str | None = field(
        default=None,
        metadata={
            "help": "transformers/vllm: a model folder or .gguf file (default: embedded SmolLM2-135M-Instruct); "
            "litellm: a provider model name such as 'openai/gpt-4o-mini' or 'hosted_vllm/NAME'."
        },
    )
    api_base: str | None = field(
        default=None, metadata={"help": "litellm: server URL, e.g. http://127.0.0.1:8000/v1."}
    )
    api_key: str | None = field(default=None, metadata={"help": "litellm: API key (else the provider's env var)."})
    tokenizer: str | None = field(
        default=None,
        metadata={"help": "litellm: local tokenizer folder for exact token counts and chat templates."},
    )
    timeout: float = field(default=120.0, metadata={"help": "litellm: seconds per request."})
    max_retries: int = field(default=3, metadata={"help": "Attempts in all for transient failures."})
    device: str = field(default="cpu", metadata={"help": "transformers: torch device."})
    dtype: str = field(default="float32", metadata={"help": "transformers/vllm: weight dtype."})
    options: dict[str, Any] = field(
        default_factory=dict, metadata={"help": "Extra keyword arguments for the backend's constructor."}
    )


def get_backend(name_or_config: str | BackendConfig | dict[str, Any] | LLMBackend | None = None) -> LLMBackend:
    """Build a backend. ``None`` or "transformers" gives the embedded local model."""
    if isinstance(name_or_config, LLMBackend):
        return name_or_config
    if name_or_config is None:
        cfg = BackendConfig()
    elif isinstance(name_or_config, str):
        cfg = BackendConfig(backend=name_or_config)
    elif isinstance(name_or_config, dict):
        known = {f.name for f in fields(BackendConfig)}
        unknown = set(name_or_config) - known
        if unknown:
            raise BackendError(f"unknown backend config keys {sorted(unknown)}; known: {sorted(known)}")
        cfg = BackendConfig(**name_or_config)
    elif isinstance(name_or_config, BackendConfig):
        cfg = name_or_config
    else:
        raise BackendError(f"cannot build a backend from {type(name_or_config).__name__}")

    if cfg.backend == "transformers":
        from river_agent.backends.transformers_backend import TransformersBackend

        return TransformersBackend(cfg.model, device=cfg.device, dtype=cfg.dtype, **cfg.options)
    if cfg.backend == "litellm":
        from river_agent.backends.litellm_backend import LiteLLMBackend

        if not cfg.model:
            raise BackendError(
                "the litellm backend needs a model name, e.g. 'hosted_vllm/NAME' or 'openai/gpt-4o'"
            )
        return LiteLLMBackend(
            cfg.model,
            api_base=cfg.api_base,
            api_key=cfg.api_key,
            tokenizer=cfg.tokenizer,
            timeout=cfg.timeout,
            max_retries=cfg.max_retries,
            **cfg.options,
        )
    if cfg.backend == "vllm":
        from river_agent.backends.vllm_backend import VLLMBackend

        return VLLMBackend(cfg.model, dtype=cfg.dtype if cfg.dtype != "float32" else "auto", **cfg.options)
    raise BackendError(f"unknown backend {cfg.backend!r}; choose one of {', '.join(BACKEND_NAMES)}")
