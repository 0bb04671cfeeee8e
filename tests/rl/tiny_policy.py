"""A tiny random-weight policy saved as a model folder (byte-level tokenizer, chat template) for tests."""

from __future__ import annotations

from pathlib import Path

from tests.backends.conftest import make_model, make_tokenizer


def tiny_model_dir(folder: Path, seed: int = 0) -> Path:
    """Save a 2-layer Llama (hidden 32) and its tokenizer under ``folder``; long enough context for prompts."""
    tok = make_tokenizer()
    model = make_model(len(tok), seed=seed)
    model.config.max_position_embeddings = 4096
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder
