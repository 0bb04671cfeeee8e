"""Tiny random-weight foundation models built from configs in code (no files, no hub)."""

from __future__ import annotations


def _bpe_vocab(extra: list[str]) -> tuple[dict[str, int], list[str]]:
    chars = list("abcdefghijklmnopqrstuvwxyz.,")
    vocab: dict[str, int] = {}
    for tok in extra:
        vocab.setdefault(tok, len(vocab))
    for c in chars:
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    return vocab, []


def tiny_owlv2(labels=("ball", "car")):
    import torch
    from transformers import (
        CLIPTokenizer,
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    vocab, merges = _bpe_vocab(["!", "<|startoftext|>", "<|endoftext|>"])  # start id must not be 0
    tok = CLIPTokenizer(vocab=vocab, merges=merges)
    tok.model_max_length = 16
    text = {
        "vocab_size": len(vocab),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "max_position_embeddings": 16,
        "bos_token_id": vocab["<|startoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["!"],
    }
    vision = {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "image_size": 64,
        "patch_size": 16,
    }
    torch.manual_seed(0)
    model = Owlv2ForObjectDetection(Owlv2Config(text_config=text, vision_config=vision, projection_dim=32))
    proc = Owlv2Processor(image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}), tokenizer=tok)
    return model, proc


def tiny_depth_anything():
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=56,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    cfg = DepthAnythingConfig(
        backbone_config=backbone,
        neck_hidden_sizes=[16, 16, 16, 16],
        fusion_hidden_size=16,
        reassemble_hidden_size=32,
        head_hidden_size=8,
        patch_size=14,
    )
    torch.manual_seed(0)
    model = DepthAnythingForDepthEstimation(cfg)
    proc = DPTImageProcessor(
        do_resize=True,
        size={"height": 56, "width": 56},
        keep_aspect_ratio=False,
        ensure_multiple_of=14,
        do_pad=False,
    )
    return model, proc


def tiny_qwen_vl():
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2Tokenizer,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    specials = [
        "<|im_start|>",
        "<|im_end|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
        "<|endoftext|>",
    ]
    vocab = {chr(c): i for i, c in enumerate(range(33, 127))}
    for s in specials:
        vocab[s] = len(vocab)
    vocab["Ġ"] = len(vocab)
    vocab["Ċ"] = len(vocab)
    tok = Qwen2Tokenizer(
        vocab=vocab, merges=[], unk_token="<|endoftext|>", pad_token="<|endoftext|>", eos_token="<|im_end|>"
    )
    tok.add_special_tokens({"additional_special_tokens": specials})
    template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
        "{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
        "{% else %}{{ c['text'] }}{% endif %}"
        "{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    image_proc = Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 16)
    proc = Qwen2_5_VLProcessor(
        image_processor=image_proc, tokenizer=tok, video_processor=Qwen2VLVideoProcessor(), chat_template=template
    )
    n = len(tok)
    cfg = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": n,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 512,
            "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
            "bos_token_id": tok.convert_tokens_to_ids("<|im_start|>"),
            "eos_token_id": tok.convert_tokens_to_ids("<|im_end|>"),
        },
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 32,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "fullatt_block_indexes": [0],
            "window_size": 56,
        },
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.convert_tokens_to_ids("<|endoftext|>"),
    )
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(cfg)
    return model, proc
