"""Motion-aligned background fill: holes over a zooming textured background come back from other frames
re-projected by the camera homography (the translation-only consensus model cannot); never across a shot cut;
never from pixels an object covers in the source frame; wired into the classical renderer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from render_scene_helpers import Obj, make_twin, psnr, write_case

from river_agent.tools.render import get_renderer
from river_agent.tools.render.aligned import AlignedBackground, _best_shift
from river_agent.tools.render.background import BackgroundModel, dilate
from river_agent.video.io import read_frames

W, H, N = 160, 96, 12


def texture(seed: int = 0, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """A smooth random texture twice the frame size (blobs at several scales), RGB uint8."""
    rng = np.random.default_rng(seed)
    img = np.zeros((2 * H, 2 * W, 3), np.float32)
    for scale in (2, 5, 12):
        noise = rng.random((2 * H // scale + 2, 2 * W // scale + 2, 3)).astype(np.float32)
        img += cv2.resize(noise, (2 * W, 2 * H), interpolation=cv2.INTER_CUBIC) * (scale / 10)
    img = (img - img.min()) / (img.max() - img.min()) * 255 * np.asarray(tint, np.float32)
    return img.astype(np.uint8)


def view(tex: np.ndarray, zoom: float = 1.0, dx: float = 0.0) -> np.ndarray:
    """The W x H frame of ``tex`` seen zoomed by ``zoom`` about the texture centre, panned by ``dx``."""
    c = np.array([[1, 0, W + dx], [0, 1, H], [0, 0, 1.0]])
    m = c @ np.diag([1 / zoom, 1 / zoom, 1.0]) @ np.array([[1, 0, -W / 2], [0, 1, -H / 2], [0, 0, 1.0]])
    return cv2.warpPerspective(tex, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def square(t: int, x0: int = 20, speed: int = 9, y0: int = 38, size: int = 20) -> np.ndarray:
    m = np.zeros((H, W), bool)
    x = x0 + speed * t
    m[y0 : y0 + size, x : x + size] = True
    return m


def zoom_clip() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Backgrounds (truth), frames with a moving red square, and its masks; the camera zooms in 3%/frame."""
    tex = texture()
    truth = [view(tex, 1 + 0.03 * t) for t in range(N)]
    masks = [square(t, y0=8) for t in range(N)]
    frames = []
    for bg, m in zip(truth, masks, strict=True):
        f = bg.copy()
        f[m] = (200, 30, 40)
        frames.append(f)
    return truth, frames, masks


def observed(frames: list[np.ndarray], excludes: list[np.ndarray]) -> AlignedBackground:
    """An aligned background fed every frame of a clip with its excluded (object) pixels."""
    aligned = AlignedBackground(len(frames))
    for t, (f, e) in enumerate(zip(frames, excludes, strict=True)):
        aligned.observe(t, f, e)
    return aligned


def test_zooming_background_is_filled_from_other_frames() -> None:
    truth, frames, masks = zoom_clip()
    aligned = AlignedBackground(N)
    old = BackgroundModel(N, objects_known=True)
    for t, (f, m) in enumerate(zip(frames, masks, strict=True)):
        aligned.observe(t, f, dilate(m, 2))
        old.observe(t, f, dilate(m, 2))
    t = 3
    hole = dilate(masks[t], 2)
    out, got = aligned.fill(t, frames[t], hole)
    assert got[hole].mean() > 0.99 and not got[~hole].any()
    np.testing.assert_array_equal(out[~hole], frames[t][~hole])  # only the hole changes
    before = old.fill(t, frames[t], hole)
    assert psnr(out[hole], truth[t][hole]) > 33
    assert psnr(before[hole], truth[t][hole]) < psnr(out[hole], truth[t][hole]) - 8


def test_nothing_is_borrowed_across_a_shot_cut() -> None:
    a, b = texture(0, (1.0, 0.4, 0.3)), texture(1, (0.3, 0.5, 1.0))
    frames, excludes = [], []
    for t in range(N):
        first = t < N // 2
        f = view(a, dx=2.0 * t) if first else view(b)
        m = square(t) if first else square(0, x0=70)  # shot 2 (static camera): the square never moves
        f[m] = (240, 240, 60)
        frames.append(f)
        excludes.append(dilate(m, 2))
    aligned = observed(frames, excludes)
    assert aligned.camera.transform(2, 8) is None  # the cut is found
    assert aligned.camera.transform(7, 9) is not None and aligned.camera.transform(1, 3) is not None
    _, got = aligned.fill(8, frames[8], excludes[8])
    assert not got.any()  # shot 1 sees that place, but it is another scene


def test_pixels_objects_cover_in_the_source_are_never_used() -> None:
    tex = texture(2)
    bg = view(tex)
    frames, excludes = [], []
    blocker = np.zeros((H, W), bool)
    blocker[30:66, 60:100] = True
    for t in range(N):
        f = bg.copy()
        target = square(5, x0=25, speed=9) if t == 5 else square(t, x0=0, speed=2, y0=2)
        cover = target | (blocker if t in (3, 4, 6, 7) else np.zeros_like(blocker))
        f[cover & blocker] = (0, 255, 0)  # a green passer-by over the target's place in the nearest frames
        f[target] = (200, 30, 40)
        frames.append(f)
        excludes.append(dilate(cover, 2))
    aligned = observed(frames, excludes)
    hole = dilate(square(5, x0=25, speed=9), 2)
    out, got = aligned.fill(5, frames[5], hole)
    assert got[hole].all()
    np.testing.assert_array_equal(out[hole], bg[hole])  # static camera: the exact background, no green


def test_classical_renderer_uses_the_aligned_fill(tmp_path: Path) -> None:
    truth, frames, masks = zoom_clip()
    video = write_case(tmp_path, frames)
    labels = [m.astype(np.uint16) for m in masks]
    twin = make_twin(tmp_path, [Obj(1, (200, 30, 40), (0.0, 0.0))], labels)
    scores = {}
    for on in (True, False):
        out = tmp_path / f"out-{on}.mp4"
        r = get_renderer("classical", progress=False, comparison=False, overlay=False, aligned_fill=on)
        r.render_masks(video, masks, {"op": "remove"}, out, scene=twin)
        got = read_frames(out)
        holes = np.stack([dilate(m, 2) for m in masks])
        scores[on] = psnr(got[holes], np.stack(truth)[holes])
        assert np.array_equal(got[~holes], np.stack(frames)[~holes])  # preservation is exact
    assert scores[True] > 30 and scores[True] > scores[False] + 5


def test_ring_match_finds_the_local_shift_and_scores_an_exact_match_zero() -> None:
    img = texture(3)
    y, x, h, w, R = 40, 60, 30, 40, 3
    region = cv2.cvtColor(img[y : y + h, x : x + w], cv2.COLOR_RGB2GRAY).astype(np.float32) - 128.0
    ring = np.ones((h, w), np.float32)
    ring[8:-8, 8:-8] = 0.0  # the hole inside
    for sx, sy in ((0, 0), (2, -1), (-3, 3)):
        vals = img[y - R - sy : y + h + R - sy, x - R - sx : x + w + R - sx]
        seen = np.ones(vals.shape[:2], np.float32)
        rms, dx, dy = _best_shift(vals, seen, region, ring, R)
        assert (dx, dy) == (sx, sy) and rms == 0.0  # an exact match scores 0, not NaN
