"""Diffusion renderer end to end with tiny random-weight Wan-VACE components built in code (no hub)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_scene_helpers import Obj, render_scene, write_case

from river_agent.tools.render import RenderError, get_renderer
from river_agent.tools.render.wan_vace import WanVaceConfig, _chunks
from river_agent.video.io import probe_video, read_frames

pytest.importorskip("diffusers")

BALL = Obj(1, (200, 40, 40), (12.0, 16.0), (2.0, 0.0), (6, 5))
WORDS = ("a an the red blue green car ball object empty background where was with striped of in").split()  # noqa: SIM905


def tiny_pipeline():
    import torch
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanVACEPipeline,
        WanVACETransformer3DModel,
    )
    from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    pieces = ["<pad>", "</s>", "<unk>", *(f"▁{w}" for w in WORDS), *"abcdefghijklmnopqrstuvwxyz,."]
    tok = T5Tokenizer(vocab=[(p, -float(i)) for i, p in enumerate(pieces)], extra_ids=0)
    cfg = UMT5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
    )
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=3,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        vace_layers=[0, 2],
        vace_in_channels=96,
    )
    return WanVACEPipeline(
        tokenizer=tok,
        text_encoder=UMT5EncoderModel(cfg),
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        transformer=transformer,
    )


TINY = dict(
    height=32,
    width=32,
    chunk_frames=5,
    overlap=2,
    num_inference_steps=2,
    guidance=2.0,
    max_sequence_length=16,
    progress=False,
    quality="lossless",
    mask_dilate=2,
    feather=1,
)


def _video(tmp_path: Path, n: int):
    frames, labels = render_scene([BALL], n=n, w=32, h=32)
    return write_case(tmp_path, frames), frames, [lab == 1 for lab in labels]


def test_chunks_overlap_and_cover() -> None:
    assert list(_chunks(9, 5, 2)) == [(0, 5), (3, 8), (6, 9)]
    assert list(_chunks(4, 5, 2)) == [(0, 4)]


@pytest.mark.slow
def test_wan_vace_renders_only_the_mask(tmp_path: Path) -> None:
    video, frames, masks = _video(tmp_path, 9)  # 3 overlapping chunks, the last padded to 4k+1
    renderer = get_renderer("wan-vace", pipeline=tiny_pipeline(), **TINY)
    res = renderer.render_masks(video, masks, {"op": "recolor", "color": "blue"}, tmp_path / "o.mp4")
    info, src = probe_video(res.output), probe_video(video)
    assert (info.width, info.height, info.num_frames) == (src.width, src.height, src.num_frames)
    assert abs(info.fps - src.fps) < 1e-6
    assert res.comparison.exists() and res.overlay.exists()
    assert "blue" in res.prompt
    out = read_frames(res.output)
    from river_agent.tools.render.background import dilate

    for t, m in enumerate(masks):
        far = ~dilate(m, 2 + 1)
        np.testing.assert_array_equal(out[t][far], frames[t][far])  # preserved exactly outside the mask
    assert any(np.abs(out[t][m].astype(int) - frames[t][m]).mean() > 1 for t, m in enumerate(masks))


@pytest.mark.slow
def test_wan_vace_loads_local_folder_and_renders_replace(tmp_path: Path) -> None:
    tiny_pipeline().save_pretrained(tmp_path / "weights")
    video, _, masks = _video(tmp_path, 5)
    renderer = get_renderer("wan-vace", model=str(tmp_path / "weights"), device="cpu", **TINY)
    res = renderer.render_masks(video, masks, {"op": "replace", "category": "car"}, tmp_path / "o.mp4")
    assert res.num_frames == 5 and "car" in res.prompt


def test_wan_vace_bad_settings_and_missing_weights(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="4k\\+1"):
        get_renderer("wan-vace", chunk_frames=6)
    with pytest.raises(RenderError, match="multiples of 16"):
        get_renderer("wan-vace", height=30)
    video, _, masks = _video(tmp_path, 5)
    renderer = get_renderer("wan-vace", model=str(tmp_path / "nowhere"), device="cpu", **TINY)
    with pytest.raises(RenderError, match="cannot load Wan-VACE"):
        renderer.render_masks(video, masks, {"op": "remove"}, tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()
    assert WanVaceConfig().model.endswith("Wan2.1-VACE-1.3B-diffusers")
