"""Tiny random-weight causal LMs with an in-memory byte-level tokenizer and chat template (no files, no hub)."""

from __future__ import annotations

import pytest

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {s: i for i, s in enumerate(specials)}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):  # sorted: a set, its order varies per process
        vocab[ch] = len(vocab)
    # a few merges so some tokens span several characters, as in real tokenizers
    merges = [("<", "t"), ("<t", "h"), ("Ġ", "t"), ("e", "d"), ("<", "/")]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(specials)
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


def make_model(vocab_size: int, seed: int = 0):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=2,
        pad_token_id=0,
        bos_token_id=1,
    )
    model = LlamaForCausalLM(cfg).eval()
    # random init gives near-uniform logits; widen them so greedy/sampling behave like a peaked model
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)
    return model


@pytest.fixture(scope="module")
def tiny():
    """(model, tokenizer) pair for fast tests."""
    tok = make_tokenizer()
    return make_model(len(tok)), tok


@pytest.fixture
def tiny_backend(tiny):
    from river_agent.backends.transformers_backend import TransformersBackend

    model, tok = tiny
    return TransformersBackend(model=model, tokenizer=tok)


@pytest.fixture
def fresh_tiny_model():
    """A factory for new tiny models (for tests that modify the model, e.g. with adapters)."""
    return make_model
