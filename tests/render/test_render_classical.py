"""Classical renderer: each op on tiny synthetic videos, with asserts on the pixels it produces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from render_scene_helpers import Obj, make_twin, psnr, render_scene, replace, write_case, write_mask_folder

from river_agent.errors import EditError, RiverError
from river_agent.tools.render import RenderUnsupportedError, get_renderer
from river_agent.twin.ops import Move, Recolor, Remove, apply_ops
from river_agent.video.io import probe_video, read_frames

BALL = Obj(1, (200, 40, 40), (16.0, 24.0), (4.0, 0.0))
BOX = Obj(2, (40, 160, 60), (48.0, 14.0), (0.0, 0.0), (6, 5), "box", "green")


def _renderer(**kw):
    return get_renderer("classical", progress=False, **kw)


def _case(tmp_path: Path, objs=(BALL,), **scene):
    frames, labels = render_scene(list(objs), **scene)
    video = write_case(tmp_path, frames)
    masks = [lab == 1 for lab in labels]
    return video, frames, labels, masks


def test_recolor_keeps_shading_and_reaches_target(tmp_path: Path) -> None:
    video, frames, _labels, masks = _case(tmp_path)
    res = _renderer().render_masks(
        video, masks, {"op": "recolor", "color": "blue", "rgb": [30, 60, 220]}, tmp_path / "o.mp4"
    )
    out = read_frames(res.output)
    exp, _ = render_scene([replace(BALL, rgb=(30, 60, 220))])
    for t, m in enumerate(masks):
        assert np.abs(out[t][m].mean(axis=0) - [30, 60, 220]).max() < 8
        assert psnr(out[t][m], exp[t][m]) > 35
        np.testing.assert_array_equal(out[t][~m], frames[t][~m])  # lossless: outside untouched


def test_recolor_by_name_uses_palette(tmp_path: Path) -> None:
    video, _, _, masks = _case(tmp_path)
    res = _renderer().render_masks(video, masks, {"op": "recolor", "color": "green"}, tmp_path / "o.mp4")
    out = read_frames(res.output)
    mean = out[3][masks[3]].mean(axis=0)
    assert mean[1] > 140 and mean[0] < 80


def test_remove_moving_object_reveals_true_background(tmp_path: Path) -> None:
    video, _frames, _labels, masks = _case(tmp_path)
    res = _renderer().render_masks(video, masks, {"op": "remove"}, tmp_path / "o.mp4")
    out = read_frames(res.output)
    exp, _ = render_scene([])
    for t in range(len(out)):
        assert psnr(out[t], exp[t]) > 40  # the ball moves, so every pixel it covers is seen elsewhere


def test_remove_with_camera_pan(tmp_path: Path) -> None:
    video, _frames, _labels, masks = _case(tmp_path, pan=(2, 1))
    res = _renderer().render_masks(video, masks, {"op": "remove"}, tmp_path / "o.mp4")
    out = read_frames(res.output)
    exp, _ = render_scene([], pan=(2, 1))
    vals = [psnr(out[t][masks[t]], exp[t][masks[t]]) for t in range(len(out))]
    assert min(vals) > 30, vals


def test_remove_static_object_inpaints(tmp_path: Path) -> None:
    frames, labels = render_scene([BOX])
    video = write_case(tmp_path, frames)
    masks = [lab == 2 for lab in labels]
    res = _renderer().render_masks(video, masks, {"op": "remove"}, tmp_path / "o.mp4")
    out = read_frames(res.output)
    m = masks[0]
    # never visible: spatially inpainted, the green box colour must be gone
    assert np.abs(out[0][m].mean(axis=0) - np.array(BOX.rgb)).max() > 40
    exp, _ = render_scene([])
    assert psnr(out[0][m], exp[0][m]) > 15


def test_outputs_match_input_and_side_files(tmp_path: Path) -> None:
    video, _, _, masks = _case(tmp_path)
    res = _renderer().render_masks(video, masks, {"op": "remove"}, tmp_path / "out" / "o.mp4")
    src, outp = probe_video(video), probe_video(res.output)
    assert (outp.width, outp.height, outp.num_frames) == (src.width, src.height, src.num_frames)
    assert abs(outp.fps - src.fps) < 1e-6
    cmp_ = probe_video(res.comparison)
    assert (cmp_.width, cmp_.num_frames) == (2 * src.width, src.num_frames)
    assert probe_video(res.overlay).num_frames == src.num_frames
    assert res.num_frames == src.num_frames and res.seconds > 0


def test_mask_folder_input(tmp_path: Path) -> None:
    video, _, _, masks = _case(tmp_path)
    folder = write_mask_folder(tmp_path / "target_masks", masks)
    res = _renderer().render_masks(
        video, folder, {"op": "recolor", "color": "blue", "rgb": [30, 60, 220]}, tmp_path / "o.mp4"
    )
    out = read_frames(res.output)
    assert out[2][masks[2]].mean(axis=0)[2] > 150


def test_replace_is_unsupported_and_names_diffusion(tmp_path: Path) -> None:
    video, _, _, masks = _case(tmp_path)
    with pytest.raises(RenderUnsupportedError, match="wan-vace"):
        _renderer().render_masks(video, masks, {"op": "replace", "category": "cat"}, tmp_path / "o.mp4")
    assert not list(tmp_path.glob("o*.mp4"))


def test_bad_inputs_give_clear_errors_and_no_files(tmp_path: Path) -> None:
    video, _, _, masks = _case(tmp_path)
    with pytest.raises(EditError, match="target masks"):
        _renderer().render_masks(video, masks[:3], {"op": "remove"}, tmp_path / "o.mp4")
    with pytest.raises(EditError):
        _renderer().render_masks(video, masks, {"op": "explode"}, tmp_path / "o.mp4")
    with pytest.raises(RiverError, match="input"):
        _renderer().render_masks(video, masks, {"op": "remove"}, video)
    assert not list(tmp_path.glob("o*.mp4"))


def test_failure_midway_leaves_no_partial_output(tmp_path: Path) -> None:
    video, _, _, masks = _case(tmp_path)
    folder = write_mask_folder(tmp_path / "m", masks)
    (folder / "00005.png").write_bytes(b"not a png")
    with pytest.raises(RiverError, match="00005"):
        _renderer().render_masks(video, folder, {"op": "recolor", "color": "red"}, tmp_path / "o.mp4")
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".mp4" and p.name != "video.mp4"]


def test_render_twin_recolor_and_remove(tmp_path: Path) -> None:
    objs = [BALL, BOX]
    frames, labels = render_scene(objs)
    video = write_case(tmp_path, frames)
    twin = make_twin(tmp_path, objs, labels)
    after = apply_ops(twin, [Recolor(id=2, color="blue", rgb=(30, 60, 220)), Remove(id=1)])
    res = _renderer().render_twin(video, twin, after, tmp_path / "o.mp4")
    out = read_frames(res.output)
    exp, _ = render_scene([replace(BOX, rgb=(30, 60, 220))])
    for t in range(len(out)):
        assert psnr(out[t], exp[t]) > 35
    assert "blue" in res.prompt


def test_render_twin_move(tmp_path: Path) -> None:
    frames, labels = render_scene([BOX])
    video = write_case(tmp_path, frames)
    twin = make_twin(tmp_path, [BOX], labels)
    after = apply_ops(twin, [Move(id=2, dx=-0.25, dy=0.25)])
    res = _renderer().render_twin(video, twin, after, tmp_path / "o.mp4")
    out = read_frames(res.output)
    exp, exp_labels = render_scene([replace(BOX, centre=(48 - 16, 14 + 12))])
    new = exp_labels[0] == 2
    ys, xs = np.nonzero(new)
    assert (xs.mean(), ys.mean()) == pytest.approx((32, 26), abs=0.6)  # centroid moved by (-16, +12)
    for t in range(len(out)):
        assert psnr(out[t][new], exp[t][new]) > 35  # the object, with its texture, at its new place
        old = labels[t] == 2
        assert np.abs(out[t][old].astype(int).mean(axis=0) - BOX.rgb).max() > 40  # and gone from the old one
