"""LLM backends behind one interface: local transformers (embedded default), litellm (any provider, vLLM
servers) and in-process vLLM. Heavy libraries are imported lazily by each backend."""

from river_agent.backends.base import (
    BackendError,
    BackendResponseError,
    BackendUnavailableError,
    Completion,
    LLMBackend,
    SamplingParams,
)
from river_agent.backends.registry import BACKEND_NAMES, BackendConfig, get_backend

__all__ = [
    "BACKEND_NAMES",
    "BackendConfig",
    "BackendError",
    "BackendResponseError",
    "BackendUnavailableError",
    "Completion",
    "LLMBackend",
    "SamplingParams",
    "get_backend",
]
