"""Render building blocks: conditioning from (D, D'), camera motion, background consensus, appearance, outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_scene_helpers import Obj, background, make_twin, psnr, render_scene, replace, write_case

from river_agent.tools.render import RenderUnsupportedError, conditioning_from_twins, get_renderer
from river_agent.tools.render.appearance import recolor_pixels, style_kind
from river_agent.tools.render.background import BackgroundModel, consensus
from river_agent.tools.render.motion import MotionTracker
from river_agent.tools.render.outputs import RenderOutputs
from river_agent.tools.render.palette import color_rgb
from river_agent.twin.ops import Move, Recolor, Remove, Replace, apply_ops
from river_agent.video.io import read_frames

BALL = Obj(1, (200, 40, 40), (16.0, 24.0), (4.0, 0.0))
BOX = Obj(2, (40, 160, 60), (48.0, 14.0), (0.0, 0.0), (6, 5), "box", "green")


def test_conditioning_texts_and_masks_from_twins(tmp_path: Path) -> None:
    _, labels = render_scene([BALL, BOX])
    twin = make_twin(tmp_path, [BALL, BOX], labels)
    after = apply_ops(twin, [Move(id=2, dx=-0.25, dy=0.25), Recolor(id=1, color="blue", rgb=(0, 0, 255))])
    cond = conditioning_from_twins(twin, after)
    assert [e.obj_id for e in cond.edits] == [1, 2]
    texts = cond.descriptions()
    assert (
        texts[0].startswith("In frames 0-7, object 1 with category ball has attributes")
        and "color=blue" in texts[0]
    )
    assert "moved by (-0.250 W, +0.250 H)" in texts[1]
    assert cond.frame_texts(3)[0].startswith("In frame 3, object 1")
    region = cond.change_mask(0)
    old, new = labels[0] == 2, np.roll(np.roll(labels[0] == 2, -16, axis=1), 12, axis=0)
    assert region[old].all() and region[new].all()  # both the old and the new place
    assert not cond.preserve_mask(0)[old].any()
    assert "a blue ball" in cond.prompt()


def test_removed_object_text_and_negative(tmp_path: Path) -> None:
    _, labels = render_scene([BALL])
    twin = make_twin(tmp_path, [BALL], labels)
    cond = conditioning_from_twins(twin, apply_ops(twin, [Remove(id=1, frames=(2, 5))]))
    assert cond.descriptions() == ["In frames 2-5, object 1 with category ball is removed."]
    assert not cond.change_mask(0).any() and cond.change_mask(3).any()  # the frame range is honoured


def test_motion_tracker_recovers_pan() -> None:
    tracker = MotionTracker()
    for t in range(6):
        tracker.add(background(64, 48, t, (3, -1)))
    assert tracker.positions[-1] == (-15.0, 5.0)
    assert tracker.offset(0, 5) == (-15.0, 5.0)
    still = MotionTracker()
    for _ in range(4):
        still.add(background(64, 48, 0))
    assert still.static


def test_consensus_prefers_recurring_background_over_passing_object() -> None:
    bg = np.array([100, 120, 140])
    obs = [bg, bg + 1, [200, 10, 10], [180, 30, 20], [160, 50, 40], bg]  # background seen 3 of 6 times
    vals = np.array(obs, np.uint16)[:, None, :]
    out, ok = consensus(vals, np.zeros(6, np.float32), tol=10, min_support=2)
    assert ok[0] and np.abs(out[0].astype(int) - bg).max() <= 1


def test_background_model_fills_hole_exactly_when_seen() -> None:
    fast = replace(BALL, centre=(9.0, 24.0), velocity=(7.0, 0.0))
    frames, labels = render_scene([fast])
    model = BackgroundModel(len(frames))
    for t, f in enumerate(frames):
        model.observe(t, f, labels[t] > 0)
    truth, _ = render_scene([])
    out = model.fill(3, frames[3], labels[3] > 0)
    assert psnr(out, truth[3]) > 45
    assert model.inpainted_pixels == 0 and model.filled_pixels == (labels[3] > 0).sum()


def test_recolor_pixels_keeps_relative_shading() -> None:
    px = np.array([[100, 50, 20], [200, 100, 40]], np.uint8)  # same hue, two shading levels
    out = recolor_pixels(px, (30, 60, 150)).astype(float)
    assert out[1, 2] / out[0, 2] == pytest.approx(2.0, rel=0.02)
    assert out.mean(axis=0) == pytest.approx([30, 60, 150], abs=2)
    dark = recolor_pixels(np.array([[100, 50, 0], [200, 100, 0]], np.uint8), (30, 60, 150)).astype(float)
    assert dark[1, 2] / dark[0, 2] == pytest.approx(2.0, rel=0.05)  # a black channel takes the object's shading


def test_palette_and_styles() -> None:
    assert color_rgb("red") == (220, 30, 30) and color_rgb("Light-Blue") == (120, 180, 240)
    assert color_rgb("anything", [1, 2, 3]) == (1, 2, 3) and color_rgb("#0a0b0c") == (10, 11, 12)
    assert style_kind("red and white stripes") == "striped" and style_kind("polka dots") == "dotted"
    assert style_kind("made of wood") is None
    with pytest.raises(Exception, match="unknown colour"):
        color_rgb("blurple")


def test_resize_scales_area(tmp_path: Path) -> None:
    frames, labels = render_scene([BOX])
    video = write_case(tmp_path, frames)
    masks = [lab == 2 for lab in labels]
    res = get_renderer("classical", progress=False).render_masks(
        video, masks, {"op": "resize", "scale": 1.5}, tmp_path / "o.mp4"
    )
    out = read_frames(res.output)
    exp, exp_labels = render_scene([BOX], scales={2: 1.5})
    big = exp_labels[0] == 2
    assert 1.8 < big.sum() / masks[0].sum() < 2.7  # the expected object is 1.5^2 times larger
    for t in range(len(out)):
        assert psnr(out[t][big], exp[t][big]) > 24  # and the output shows it there, shading scaled along


def test_restyle_striped_and_unknown_style(tmp_path: Path) -> None:
    frames, labels = render_scene([BOX])
    video = write_case(tmp_path, frames)
    masks = [lab == 2 for lab in labels]
    r = get_renderer("classical", progress=False)
    res = r.render_masks(video, masks, {"op": "restyle", "style": "striped"}, tmp_path / "o.mp4")
    out = read_frames(res.output)
    lum = out[0][masks[0]].astype(float).mean(axis=1)
    src_lum = frames[0][masks[0]].astype(float).mean(axis=1)
    assert lum.std() > 2 * src_lum.std()  # bands of light and dark now
    assert abs(lum.mean() - src_lum.mean()) < 12  # same overall brightness
    with pytest.raises(RenderUnsupportedError, match="wan-vace"):
        r.render_masks(video, masks, {"op": "restyle", "style": "made of wood"}, tmp_path / "p.mp4")
    assert not (tmp_path / "p.mp4").exists()


def test_render_twin_replace_is_unsupported(tmp_path: Path) -> None:
    frames, labels = render_scene([BOX])
    video = write_case(tmp_path, frames)
    twin = make_twin(tmp_path, [BOX], labels)
    after = apply_ops(twin, [Replace(id=2, category="cat")])
    with pytest.raises(RenderUnsupportedError, match="--renderer wan-vace"):
        get_renderer("classical", progress=False).render_twin(video, twin, after, tmp_path / "o.mp4")


def test_outputs_all_or_nothing(tmp_path: Path) -> None:
    frame = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(RuntimeError), RenderOutputs(tmp_path / "o.mp4", tmp_path / "src.mp4", 10, 8, 8) as w:
        w.write(frame, frame, np.zeros((8, 8), bool))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with RenderOutputs(tmp_path / "o.mp4", tmp_path / "src.mp4", 10, 8, 8, overlay=False) as w:
        w.write(frame, frame, np.zeros((8, 8), bool))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.compare.mp4", "o.mp4"]


def test_unknown_renderer() -> None:
    with pytest.raises(Exception, match="unknown renderer"):
        get_renderer("pixar")
    with pytest.raises(Exception, match="unknown classical renderer setting"):
        get_renderer("classical", colour=1)


__all__ = ["replace"]
