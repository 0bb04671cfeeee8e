"""Removing a target when the scene's other objects are known (render_masks(..., scene=D)): objects it hid
are completed, seen background is trusted, inpainting never copies another object."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from render_scene_helpers import Obj, make_twin, psnr, render_scene, write_case

from river_agent.tools.render import get_renderer
from river_agent.tools.render.hidden import match_shift
from river_agent.video.io import read_frames

# a ball passes behind a static box (the box is drawn last: it is in front)
BALL = Obj(1, (200, 40, 40), (6.0, 24.0), (4.0, 0.0), (6, 5))
BOX = Obj(2, (40, 160, 60), (32.0, 24.0), (0.0, 0.0), (9, 8), "box", "green")
BLUE = Obj(3, (30, 40, 220), (47.0, 24.0), (0.0, 0.0), (6, 6), "box", "blue")  # static, next to the box


def _renderer(**kw):
    return get_renderer("classical", progress=False, comparison=False, overlay=False, **kw)


def _remove(tmp_path: Path, objs: list[Obj], target: int, scene: bool, n: int = 14, **kw):
    frames, labels = render_scene(objs, n=n)
    video = write_case(tmp_path, frames)
    masks = [lab == target for lab in labels]
    twin = make_twin(tmp_path, objs, labels) if scene else None
    out = tmp_path / f"o{int(scene)}.mp4"
    _renderer(**kw).render_masks(video, masks, {"op": "remove"}, out, scene=twin)
    return read_frames(out), masks


def test_passing_object_behind_removed_static_target_is_completed(tmp_path: Path) -> None:
    objs = [BALL, BOX]
    out, masks = _remove(tmp_path, objs, 2, scene=True)
    exp, exp_labels = render_scene([BALL], n=len(out))  # the truth without the box
    _, labels = render_scene(objs, n=len(out))
    # frames where the ball is partly hidden (one fully hidden cannot be placed: nothing of it to match)
    hidden = [int(((exp_labels[t] == 1) & masks[t]).sum()) for t in range(len(out))]
    behind = [t for t in range(len(out)) if hidden[t] > 20 and (labels[t] == 1).any()]
    assert len(behind) >= 4, "the scene must have the ball partly behind the box"
    for t in behind:
        ball = (exp_labels[t] == 1) & masks[t]
        # the hidden part of the ball is painted (the ball's red, not the background)
        assert np.abs(out[t][ball].mean(axis=0) - exp[t][ball].mean(axis=0)).max() < 25, t
    # over the hole (ball + background) in those frames, the output matches the truth
    hole = np.stack([masks[t] for t in behind])
    assert psnr(np.stack([out[t] for t in behind])[hole], np.stack([exp[t] for t in behind])[hole]) > 24


def test_without_the_scene_the_hidden_object_is_not_invented(tmp_path: Path) -> None:
    out, masks = _remove(tmp_path, [BALL, BOX], 2, scene=False)
    _, exp_labels = render_scene([BALL], n=len(out))
    t = max(range(len(out)), key=lambda t: ((exp_labels[t] == 1) & masks[t]).sum())
    ball = (exp_labels[t] == 1) & masks[t]
    assert np.abs(out[t][ball].mean(axis=0) - np.array(BALL.rgb)).max() > 40  # background, not the ball


def test_completion_can_be_switched_off(tmp_path: Path) -> None:
    out, masks = _remove(tmp_path, [BALL, BOX], 2, scene=True, complete_hidden=False)
    _, exp_labels = render_scene([BALL], n=len(out))
    t = max(range(len(out)), key=lambda t: ((exp_labels[t] == 1) & masks[t]).sum())
    ball = (exp_labels[t] == 1) & masks[t]
    assert np.abs(out[t][ball].mean(axis=0) - np.array(BALL.rgb)).max() > 40


def test_inpainting_never_copies_a_neighbouring_object(tmp_path: Path) -> None:
    out, masks = _remove(tmp_path, [BOX, BLUE], 2, scene=True, n=6)
    m = masks[0]
    blue_like = (out[0][m][:, 2].astype(int) - out[0][m][:, 0].astype(int)) > 120
    assert blue_like.mean() < 0.02  # the blue box beside the hole is not smeared into it
    exp, _ = render_scene([BLUE], n=1)
    assert psnr(out[0][m], exp[0][m]) > 15


def test_slow_target_uses_seen_background_when_objects_are_known(tmp_path: Path) -> None:
    # a slow ball covers each point for most of the video: without the scene's masks the renderer cannot tell
    # an occluder from background there; with them, every pixel it uncovers somewhere is exact
    slow = Obj(1, (200, 40, 40), (20.0, 24.0), (1.5, 0.0), (6, 5))
    out, masks = _remove(tmp_path, [slow], 1, scene=True, n=16)
    exp, _ = render_scene([], n=len(out))
    hole = np.stack(masks)
    seen = hole & ~hole.all(axis=0, keepdims=True)
    assert psnr(np.stack(out)[seen], np.stack(exp)[seen]) > 40


def test_match_shift_finds_the_displacement() -> None:
    frames, labels = render_scene([Obj(1, (200, 40, 40), (20.0, 24.0), (5.0, 2.0), (7, 5))], n=3)
    vis_t = (labels[0] == 1) & (np.arange(64)[None, :] < 20)  # only the left half is visible in frame 0
    dy, dx, rms = match_shift(frames[0], vis_t, frames[2], labels[2] == 1)
    assert (dy, dx) == (4, 10) and rms < 3


def test_a_moved_object_arrives_whole_when_something_hid_part_of_it(tmp_path: Path) -> None:
    # the ball passes behind a static box; moved down by 16 px, it must appear whole at its new place (its
    # hidden part taken from frames where it shows more), not cut like its visible mask
    ball = Obj(1, (200, 40, 40), (6.0, 16.0), (4.0, 0.0), (6, 5))
    box = Obj(2, (40, 160, 60), (32.0, 16.0), (0.0, 0.0), (7, 10), "box", "green")
    frames, labels = render_scene([ball, box], n=14)
    video = write_case(tmp_path, frames)
    masks = [lab == 1 for lab in labels]
    edit = {"op": "move", "dx": 0.0, "dy": 16 / 48}
    out = read_frames(_renderer().render_masks(video, masks, edit, tmp_path / "o.mp4").output)
    _, whole = render_scene([ball], n=14)
    t = max(range(14), key=lambda t: ((whole[t] == 1) & ~masks[t]).sum() if masks[t].sum() > 20 else -1)
    target = np.roll(whole[t] == 1, 16, axis=0)  # where the whole ball belongs after the move
    red = (out[t][:, :, 0] > 150) & (out[t][:, :, 1] < 90)
    assert (red & target).sum() > 0.9 * target.sum()
    off = _renderer(complete_hidden=False).render_masks(video, masks, edit, tmp_path / "o2.mp4").output
    red2 = (read_frames(off)[t][:, :, 0] > 150) & (read_frames(off)[t][:, :, 1] < 90)
    assert (red2 & target).sum() < 0.8 * target.sum()  # without completion only the visible part moves
