"""Model-based metrics with tiny random-weight models built from configs (no weights, no hub)."""

from types import SimpleNamespace

import numpy as np
import pytest

from river_agent.bench.model_metrics import (
    ClipMetric,
    GroundingDinoMetric,
    JudgeMetric,
    ModelMetrics,
    box_iou,
    parse_judge_score,
)

CASE = SimpleNamespace(query="Make the red car blue.", target_prompt="a blue car")


def _frames(n=4):
    return np.random.default_rng(0).integers(0, 255, (n, 40, 60, 3), dtype=np.uint8)


def _tiny_clip():
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    tok = CLIPTokenizer(vocab=vocab, merges=[])
    layer = dict(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, projection_dim=8
    )
    cfg = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab),
            max_position_embeddings=77,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            **layer,
        ),
        vision_config=dict(image_size=32, patch_size=8, **layer),
        projection_dim=8,
    )
    torch.manual_seed(0)
    proc = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return ClipMetric(CLIPModel(cfg), tok, proc)


@pytest.mark.slow
def test_clip_text_and_frame_consistency():
    clip = _tiny_clip()
    frames = _frames()
    s = clip.compute(CASE, frames, frames, np.zeros(frames.shape[:3], bool))
    assert set(s) == {"clip_text", "clip_f", "clip_f_all_pairs"}
    assert -100 <= s["clip_text"] <= 100 and s["clip_f"] < 100
    still = clip.scores(np.repeat(frames[:1], 4, 0), "a blue car")
    assert still["clip_f"] == pytest.approx(100.0, abs=1e-3)  # identical frames: cosine 1
    assert still["clip_f_all_pairs"] == pytest.approx(100.0, abs=1e-3)


@pytest.mark.slow
def test_grounding_dino_localization(tmp_path):
    import torch
    from transformers import (
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "a", "red", "car", "the", "blue", "make"]
    (tmp_path / "vocab.txt").write_text("\n".join(words))
    tok = BertTokenizer(str(tmp_path / "vocab.txt"))
    cfg = GroundingDinoConfig(
        backbone_config=dict(
            model_type="swin",
            embed_dim=8,
            depths=[1, 1],
            num_heads=[1, 1],
            window_size=4,
            image_size=64,
            out_features=["stage1", "stage2"],
        ),
        text_config=dict(
            model_type="bert",
            vocab_size=len(words),
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        ),
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=10,
        num_feature_levels=2,
        encoder_n_points=2,
        decoder_n_points=2,
        max_text_len=32,
        use_timm_backbone=False,
        backbone=None,
    )
    torch.manual_seed(0)
    proc = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}), tokenizer=tok
    )
    metric = GroundingDinoMetric(GroundingDinoForObjectDetection(cfg), proc, max_frames=2)
    frames = _frames(3)
    masks = np.zeros(frames.shape[:3], bool)
    masks[:, 10:20, 10:30] = True
    r = metric.compute(CASE, frames, frames, masks)
    assert 0.0 <= r["gdino_iou"] <= 1.0


def test_box_iou_and_judge_parsing():
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(1 / 3)
    assert parse_judge_score('{"score": 7, "reason": "ok"}') == 7.0
    assert parse_judge_score("I give it 4 out of 10") == 4.0
    assert parse_judge_score('{"score": 42}') == 10.0


def test_judge_through_litellm_mock():
    judge = JudgeMetric("openai/judge-test", mock_response='{"score": 8, "reason": "right object"}')
    frames = _frames(2)
    masks = np.zeros(frames.shape[:3], bool)
    r = judge.compute(CASE, frames, frames, masks)
    assert r["judge_score"] == 8.0


def test_unconfigured_metrics_are_reported_not_run():
    mm = ModelMetrics.from_env({})
    assert mm.metrics == []
    assert all(v.startswith("not configured") for v in mm.describe().values())
    assert set(mm.describe()) == {"clip", "gdino", "musiq", "judge"}
    broken = ModelMetrics.from_env({"RIVER_CLIP_MODEL": "/nonexistent/clip"})
    assert broken.describe()["clip"].startswith("not configured")
    frames = _frames(2)
    assert "clip" in broken.compute(CASE, frames, frames, np.zeros(frames.shape[:3], bool))
