"""Spatial fill of never-seen background: the exemplar copy keeps stripes and texture that cv2.inpaint blurs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from render_scene_helpers import psnr, write_case

from river_agent.tools.render import get_renderer
from river_agent.tools.render.fill import exemplar_fill, telea
from river_agent.video.io import read_frames


def striped(h: int = 72, w: int = 200) -> np.ndarray:
    """Vertical stripes (period 12) with grain above a plain band: structure that diffusion cannot guess."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.where((xx // 6) % 2 == 0, 170, 70).astype(np.float32)
    grain = np.random.default_rng(0).normal(0, 3, (h, w, 1))
    img = np.stack([base, base * 0.8 + 30, 60 + 0 * base], 2) + grain
    img[yy > 50] = [90, 120, 60]
    return np.clip(img, 0, 255).astype(np.uint8)


def _hole(shape: tuple[int, ...]) -> np.ndarray:
    hole = np.zeros(shape[:2], bool)
    hole[20:42, 40:70] = True
    return hole


def test_exemplar_fill_continues_stripes() -> None:
    img = striped()
    hole = _hole(img.shape)
    src = img.copy()
    src[hole] = 0
    ex = exemplar_fill(src, hole)
    tl = telea(src, hole, hole)
    assert psnr(ex[hole], img[hole]) > 30
    assert psnr(tl[hole], img[hole]) < 20  # the blur cannot reach it
    np.testing.assert_array_equal(ex[~hole], src[~hole])  # only the hole changes


def test_exemplar_fill_never_copies_avoided_pixels() -> None:
    img = striped()
    hole = _hole(img.shape)
    avoid = np.zeros_like(hole)
    avoid[:, 90:] = True  # the only places with a clean window are on the right: forbid them
    src = img.copy()
    src[hole] = 0
    src[avoid] = (255, 0, 255)
    out = exemplar_fill(src, hole, avoid)
    magenta = (out[hole] == (255, 0, 255)).all(axis=1)
    assert not magenta.any()


def test_removing_a_static_object_on_stripes_keeps_the_stripes(tmp_path: Path) -> None:
    bg = striped()
    frames = []
    hole = _hole(bg.shape)
    for _ in range(6):
        f = bg.copy()
        f[hole] = (40, 160, 60)  # a static box: the background behind it is never seen
        frames.append(f)
    video = write_case(tmp_path, frames)
    masks = [hole] * len(frames)
    scores = {}
    for method in ("exemplar", "telea"):
        r = get_renderer("classical", progress=False, comparison=False, overlay=False, fill=method)
        out = read_frames(r.render_masks(video, masks, {"op": "remove"}, tmp_path / f"{method}.mp4").output)
        scores[method] = min(psnr(o[hole], bg[hole]) for o in out)
        # the fill is made once and reused: every frame shows the same pixels there
        assert all(np.array_equal(o[hole], out[0][hole]) for o in out)
    assert scores["exemplar"] > 28 and scores["telea"] < 20, scores


def test_unknown_fill_method_is_a_clear_error() -> None:
    import pytest

    from river_agent.tools.render import RenderError

    with pytest.raises(RenderError, match="fill must be one of"):
        get_renderer("classical", fill="magic")


def test_a_kept_offset_is_reused_while_it_fits() -> None:
    img = striped()
    hole = _hole(img.shape)
    src = img.copy()
    src[hole] = 0
    used: list = []
    first = exemplar_fill(src, hole, used=used)
    assert len(used) == 1
    # the next frame: the same scene shifted by 2 px, with the hole shifted along: the offset is kept
    nxt = np.roll(src, 2, axis=1)
    hole2 = np.roll(hole, 2, axis=1)
    used2: list = []
    second = exemplar_fill(nxt, hole2, hints=used, used=used2)
    assert used2 == used
    np.testing.assert_array_equal(np.roll(first, 2, axis=1)[hole2], second[hole2])


def test_remove_with_a_sub_pixel_pan(tmp_path: Path) -> None:
    from render_scene_helpers import Obj, render_scene

    ball = Obj(1, (200, 40, 40), (16.0, 24.0), (4.0, 0.0))
    frames, labels = render_scene([ball], n=10, pan=(1.5, 0.5))
    video = write_case(tmp_path, frames)
    masks = [lab == 1 for lab in labels]
    r = get_renderer("classical", progress=False, comparison=False, overlay=False)
    out = read_frames(r.render_masks(video, masks, {"op": "remove"}, tmp_path / "o.mp4").output)
    exp, _ = render_scene([], n=10, pan=(1.5, 0.5))
    vals = [psnr(out[t][masks[t]], exp[t][masks[t]]) for t in range(len(out))]
    assert min(vals) > 25, vals  # bilinear sub-pixel carrying of a fine texture: ~27-37 dB
