"""Camera-motion estimator: known synthetic transforms are recovered; static, textureless and cut clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from river_agent.video.camera import (
    CameraMotionConfig,
    CameraMotionEstimator,
    MotionStatus,
    estimate_camera_path,
    warp_frame,
)

W, H = 320, 192


def _texture(seed: int = 0, w: int = 2 * W, h: int = 2 * H) -> np.ndarray:
    """A large smooth random texture (blobs at several scales), RGB uint8."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for scale in (4, 12, 32):
        noise = rng.random((h // scale + 2, w // scale + 2, 3)).astype(np.float32)
        img += cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC) * (scale / 16)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return img.astype(np.uint8)


def _view(texture: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The W x H frame whose pixel p shows texture point m @ p (m: frame -> texture)."""
    return cv2.warpPerspective(texture, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def _about_centre(a: np.ndarray) -> np.ndarray:
    c = np.array([[1, 0, W / 2 + 80], [0, 1, H / 2 + 48], [0, 0, 1.0]])
    return c @ a @ np.linalg.inv(np.array([[1, 0, W / 2], [0, 1, H / 2], [0, 0, 1.0]]))


def _corner_error(a: np.ndarray, b: np.ndarray) -> float:
    pts = np.array([[[0, 0], [W, 0], [0, H], [W, H]]], np.float64)
    return float(np.abs(cv2.perspectiveTransform(pts, a) - cv2.perspectiveTransform(pts, b)).max())


def _rot(deg: float, zoom: float = 1.0, tx: float = 0.0, ty: float = 0.0) -> np.ndarray:
    r = cv2.getRotationMatrix2D((0, 0), deg, zoom)
    return np.vstack([r, [0, 0, 1]]) @ np.eye(3) + np.array([[0, 0, tx], [0, 0, ty], [0, 0, 0]])


@pytest.mark.parametrize(
    "motion",
    [
        _rot(0, 1.0, 3.0, -2.0),  # pan
        _rot(1.0),  # roll
        _rot(0, 1.02),  # zoom
        _rot(0.5, 0.99, 2.0, 1.0),  # all at once
    ],
    ids=["shift", "rotate", "zoom", "similarity"],
)
def test_known_motion_is_recovered(motion: np.ndarray) -> None:
    tex = _texture()
    steps = 8
    base = _about_centre(np.eye(3))
    frames, truth = [], []
    step = _about_centre(motion) @ np.linalg.inv(_about_centre(np.eye(3)))
    m = base
    for _ in range(steps):
        frames.append(_view(tex, m))
        truth.append(np.linalg.inv(base) @ m)  # frame t pixel -> frame 0 pixel
        m = step @ m
    path = estimate_camera_path(frames)
    assert len(path.segments) == 1 and not path.static
    for t in range(steps):
        assert _corner_error(path.frames[t].to_ref, truth[t]) < 1.0, t
    # frame s -> frame t, and the warp helper that re-projects pixels
    s, t = 2, 6
    assert _corner_error(path.transform(s, t), np.linalg.inv(truth[t]) @ truth[s]) < 1.0
    warped, valid = warp_frame(frames[s], path, s, t)
    inner = cv2.erode(valid.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert inner.mean() > 0.5
    assert np.abs(warped.astype(int) - frames[t])[inner].mean() < 6


def test_static_video_gives_exact_identity() -> None:
    tex = _texture(1)[:H, :W]
    rng = np.random.default_rng(0)
    frames = []
    for t in range(6):  # a still background, a moving square, and sensor noise
        f = tex.astype(np.int16) + rng.integers(-2, 3, tex.shape)
        f[40:80, 20 + 20 * t : 60 + 20 * t] = (255, 0, 0)
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    path = estimate_camera_path(frames)
    assert path.static
    assert all(np.array_equal(f.to_ref, np.eye(3)) for f in path.frames)
    assert path.offset(0, 5) == (0.0, 0.0)


def test_moving_foreground_does_not_bias_the_estimate() -> None:
    tex = _texture(2)
    step = np.array([[1, 0, 4.0], [0, 1, 2.0], [0, 0, 1.0]])  # the camera pans by (4, 2) px per frame
    m = _about_centre(np.eye(3))
    base = m.copy()
    frames, truth = [], []
    rng = np.random.default_rng(3)
    blob = rng.integers(0, 255, (88, 140, 3)).astype(np.uint8)  # ~20% of the frame, textured, moving its own way
    blob = cv2.GaussianBlur(blob, (5, 5), 0)
    for t in range(8):
        f = _view(tex, m)
        y, x = 30 + 3 * t, 40 + 10 * t
        f[y : y + 88, x : x + 140] = blob
        frames.append(f)
        truth.append(np.linalg.inv(base) @ m)
        m = step @ m
    path = estimate_camera_path(frames)
    for t in range(8):
        assert _corner_error(path.frames[t].to_ref, truth[t]) < 1.0, t
    # the same with the object masked out explicitly
    masks = []
    for t in range(8):
        ex = np.zeros((H, W), bool)
        ex[30 + 3 * t : 118 + 3 * t, 40 + 10 * t : 180 + 10 * t] = True
        masks.append(ex)
    path2 = estimate_camera_path(frames, excludes=masks)
    assert _corner_error(path2.frames[7].to_ref, truth[7]) < 1.0


def test_textureless_frames_fall_back_to_identity_with_a_flag() -> None:
    flat = np.full((H, W, 3), 128, np.uint8)
    frames = [flat, flat.copy(), flat.copy()]
    frames[2][:] = 131  # a small exposure change: not the same view, but nothing to track
    est = CameraMotionEstimator()
    out = [est.add(f) for f in frames]
    assert out[0].status == MotionStatus.REFERENCE
    assert out[1].status == MotionStatus.STATIC
    assert out[2].status == MotionStatus.FALLBACK
    assert all(np.array_equal(o.to_ref, np.eye(3)) for o in out)
    assert len(est.path().segments) == 1


def test_scene_cut_starts_an_unrelated_segment() -> None:
    a, b = _texture(4)[:H, :W], _texture(5)[:H, :W]
    b = (255 - b)[..., ::-1].copy()  # different colours too
    path = estimate_camera_path([a, a, a, b, b])
    assert [(s.start, s.end, s.cut) for s in path.segments] == [(0, 3, True), (3, 5, True)]
    assert path.transform(0, 4) is None and path.transform(3, 4) is not None
    assert not path.static


def test_frame_size_change_and_bad_model_are_errors() -> None:
    with pytest.raises(ValueError, match="model"):
        CameraMotionEstimator(CameraMotionConfig(model="projective"))
    est = CameraMotionEstimator()
    est.add(np.zeros((H, W, 3), np.uint8))
    with pytest.raises(ValueError, match="size"):
        est.add(np.zeros((H + 2, W, 3), np.uint8))


def test_long_pan_reanchors_and_stays_related() -> None:
    tex = _texture(6, w=6 * W, h=H + 40)
    frames = []
    for t in range(0, 5 * W // 2, 24):  # pans 2.5 frame widths: past max_shift=2 -> a linked segment
        frames.append(tex[20 : 20 + H, t : t + W].copy())
    path = estimate_camera_path(frames)
    assert len(path.segments) >= 2
    assert not any(s.cut for s in path.segments[1:])
    off = path.offset(0, len(frames) - 1)
    assert off is not None
    assert abs(off[0] + 24 * (len(frames) - 1)) < 3.0 and abs(off[1]) < 2.0


def test_camera_tracker_matches_the_render_motion_tracker_interface() -> None:
    from river_agent.tools.render.motion import MotionTracker
    from river_agent.video.camera import CameraTracker

    world = _texture(7, w=W + 80, h=H + 40)
    frames = [world[10 + t : 10 + t + H, 5 * t : 5 * t + W].copy() for t in range(8)]  # content moves (-5, -1)
    ours, theirs = CameraTracker(), MotionTracker()
    for f in frames:
        ours.add(f)
        theirs.add(f)
    assert len(ours.positions) == len(theirs.positions) == 8
    for t in range(8):
        assert np.allclose(ours.positions[t], theirs.positions[t], atol=0.5), t
        assert np.allclose(ours.positions[t], (-5 * t, -t), atol=0.5)
    assert np.allclose(ours.offset(2, 6), theirs.offset(2, 6), atol=0.5)
    assert not ours.static
    # where frame-6 pixels are seen in frame 2: 20 px right, 4 px down
    xs, ys = np.array([10.0, 100.0]), np.array([20.0, 50.0])
    coords = ours.sample_coords(6, 2, xs, ys)
    assert coords is not None
    assert np.allclose(coords[0], xs + 20, atol=0.5) and np.allclose(coords[1], ys + 4, atol=0.5)
