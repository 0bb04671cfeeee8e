"""Camera-motion compensation in the classical perception: a panning clip, and the static path unchanged."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from river_agent.tools.perception import Perception
from river_agent.tools.perception.base import Region
from river_agent.tools.perception.classical.appearance_check import ring_contrast, shape_stability
from river_agent.tools.perception.classical.categoriser import ShapeCategoriser
from river_agent.tools.perception.classical.depth import PositionOcclusionDepth
from river_agent.tools.perception.classical.motion_check import relative_flows
from river_agent.tools.perception.classical.segmenter import ClassicalSegmenter
from river_agent.tools.perception.classical.stabilise import (
    StabiliseConfig,
    StabilisedSegmenter,
    masked_median,
    plan_segments,
)
from river_agent.twin.io import instance_mask, load_twin
from river_agent.video.camera import CameraPath, FrameMotion, MotionStatus, Segment
from river_agent.video.io import probe_video, write_video
from tests.perception.synth_scenes import make_scene

H, W, N = 112, 192, 24
PAN = 3  # camera pans right by 3 px per frame


def _world(seed: int = 0) -> np.ndarray:
    """A wide textured backdrop (smooth blobs, muted colours)."""
    rng = np.random.default_rng(seed)
    ww = W + PAN * N + 8
    img = np.zeros((H, ww, 3), np.float32)
    for scale in (6, 16):
        noise = rng.random((H // scale + 2, ww // scale + 2, 3)).astype(np.float32)
        img += cv2.resize(noise, (ww, H), interpolation=cv2.INTER_CUBIC)
    img = (img - img.min()) / (img.max() - img.min())
    return (60 + 120 * img).astype(np.uint8)


def _panning_clip(path) -> list[np.ndarray]:
    """Frames of a panning camera over the backdrop, with a red disc moving right faster than the pan."""
    world = _world()
    frames, gts = [], []
    for t in range(N):
        x0 = PAN * t
        frame = world[:, x0 : x0 + W].copy()
        gt = np.zeros((H, W), np.uint8)
        cv2.circle(gt, (40 + 8 * t - x0, 62), 13, 1, -1)  # world x: 40 + 8t; in the frame: 40 + 5t
        frame[gt > 0] = (230, 30, 30)
        frames.append(frame)
        gts.append(gt > 0)
    write_video(path, frames, fps=12, quality="lossless")
    return gts


def _perception(segmenter) -> Perception:
    return Perception(segmenter, ShapeCategoriser(), PositionOcclusionDepth(), None)


@pytest.fixture(scope="module")
def panned(tmp_path_factory):
    root = tmp_path_factory.mktemp("pan")
    gts = _panning_clip(root / "pan.mp4")
    seg = StabilisedSegmenter()
    twin = _perception(seg).run(root / "pan.mp4", root / "twin", progress=False)
    return root, gts, twin, seg


def test_camera_pan_is_measured(panned):
    _, _, _, seg = panned
    assert seg.path is not None and not seg.path.static and len(seg.path.segments) == 1
    off = seg.path.offset(0, N - 1)
    assert off is not None and abs(off[0] + PAN * (N - 1)) < 1.5 and abs(off[1]) < 1.0


def test_moving_object_is_one_track_and_nothing_else(panned):
    root, gts, _, _ = panned
    loaded = load_twin(root / "twin")
    assert loaded.object_ids() == [1]  # no spurious tracks on the panning texture
    ious = []
    for t, gt in enumerate(gts):
        ids = [i.id for i in loaded.frames[t].instances]
        m = instance_mask(loaded, t, 1) if ids else np.zeros_like(gt)
        ious.append((m & gt).sum() / max((m | gt).sum(), 1))
    assert np.mean(ious) > 0.85
    assert sum(1 for f in loaded.frames if f.instances) >= N - 2


@pytest.mark.parametrize("salient", [True, False])
def test_a_salient_track_survives_the_size_test(panned, salient, tmp_path):
    """The red disc (2.5% of the frame) fails a size test asking for 5%; standing out from its surroundings
    (contrast, stable outline) while moving against them keeps it, unless that path is switched off."""
    root, _, _, _ = panned
    cfg = StabiliseConfig(min_area_moving=0.05, keep_salient=salient)
    seg = StabilisedSegmenter(stabilise=cfg)
    twin = _perception(seg).run(root / "pan.mp4", tmp_path / "twin", progress=False)
    assert len(twin.object_ids()) == (1 if salient else 0)


def test_without_compensation_the_pan_breaks_the_twin(panned):
    """The same clip through the plain (static-camera) segmenter: the point of compensating."""
    root, gts, _, _ = panned
    plain = StabilisedSegmenter(stabilise=StabiliseConfig(enabled=False))
    _perception(plain).run(root / "pan.mp4", root / "plain", progress=False)
    loaded = load_twin(root / "plain")
    ok = len(loaded.object_ids()) == 1
    if ok:
        ious = [
            (instance_mask(loaded, t, 1) & gt).sum() / max((instance_mask(loaded, t, 1) | gt).sum(), 1)
            for t, gt in enumerate(gts)
            if loaded.frames[t].instances
        ]
        ok = float(np.mean(ious)) > 0.85
    assert not ok


def test_static_camera_path_is_bit_identical(tmp_path):
    make_scene(tmp_path / "v.mp4")
    info = probe_video(tmp_path / "v.mp4")
    plain = ClassicalSegmenter()
    stab = StabilisedSegmenter()
    a = list(plain.segment(tmp_path / "v.mp4", info))
    b = list(stab.segment(tmp_path / "v.mp4", info))
    assert stab.path is not None and stab.path.static
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.label_map, y.label_map)
        assert sorted(x.regions) == sorted(y.regions)
    assert plain.result().id_map == stab.result().id_map


def test_masked_median_ignores_invalid_samples():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 256, (7, 4, 5, 3)).astype(np.uint8)
    valid = rng.random((7, 4, 5)) > 0.4
    valid[:, 0, 0] = False
    med, seen = masked_median(stack, valid)
    assert not seen[0, 0] and seen.sum() == valid.any(0).sum()
    for y in range(4):
        for x in range(5):
            k = valid[:, y, x]
            if k.sum() % 2 == 1:  # odd count: the median is one of the values, exactly
                assert np.array_equal(med[y, x], np.median(stack[k, y, x], axis=0).astype(np.uint8))


def test_canvas_holds_the_pan_and_is_capped():
    frames = []
    for t in range(10):
        m = np.eye(3)
        m[0, 2] = 20.0 * t  # frame t sits 20 t px right of the reference
        frames.append(FrameMotion(t=t, segment=0, to_ref=m, status=MotionStatus.TRACKED))
    path = CameraPath(width=100, height=50, frames=frames, segments=[Segment(0, 0, 10, cut=True)])
    (plan,) = plan_segments(path, max_canvas_area=10.0)
    assert (plan.width, plan.height, plan.scale) == (280, 50, 1.0)
    (small,) = plan_segments(path, max_canvas_area=2.0)
    assert small.scale < 1.0 and small.width * small.height <= 2.0 * 100 * 50 * 1.02


def test_cut_gives_each_shot_its_own_tracks(tmp_path):
    """Two shots (a static one with a moving disc, then a panning one): no track crosses the cut."""
    world = _world(1)
    other = (255 - _world(2))[..., ::-1].copy()
    frames = []
    for t in range(12):
        f = world[:, :W].copy()
        cv2.circle(f, (30 + 8 * t, 40), 12, (230, 30, 30), -1)
        frames.append(f)
    for t in range(12):
        f = other[:, PAN * t : PAN * t + W].copy()
        cv2.circle(f, (150 - 6 * t, 70), 12, (30, 30, 230), -1)
        frames.append(f)
    write_video(tmp_path / "cut.mp4", frames, fps=12, quality="lossless")
    seg = StabilisedSegmenter()
    _perception(seg).run(tmp_path / "cut.mp4", tmp_path / "twin", progress=False)
    assert seg.path is not None and [(s.start, s.cut) for s in seg.path.segments] == [(0, True), (12, True)]
    loaded = load_twin(tmp_path / "twin")
    spans = [loaded.frames_of(oid) for oid in loaded.object_ids()]
    assert all(max(ts) < 12 or min(ts) >= 12 for ts in spans), spans
    assert any(max(ts) < 12 for ts in spans) and any(min(ts) >= 12 for ts in spans)  # both discs found


@pytest.mark.parametrize("n", [1, 2])
def test_very_short_panning_clips_do_not_crash(tmp_path, n):
    world = _world(3)
    frames = [world[:, 6 * t : 6 * t + W].copy() for t in range(n)]
    write_video(tmp_path / "short.mp4", frames, fps=12, quality="lossless")
    twin = _perception(StabilisedSegmenter()).run(tmp_path / "short.mp4", tmp_path / "twin", progress=False)
    assert len(twin.frames) == n


NEAR, NEAR_Y = 6, 76  # a near layer (rows >= NEAR_Y) pans 6 px per frame, twice the far backdrop: parallax


def _parallax_clip(path) -> None:
    """A panning camera over a far backdrop and a nearer strip (low-contrast texture with bright highlights, like
    bokeh) that one homography cannot register; a red disc moves on its own over the far part."""
    far = _world(4)
    rng = np.random.default_rng(5)
    ww = W + NEAR * N + 8
    noise = rng.random((H // 4 + 2, ww // 4 + 2)).astype(np.float32)
    near = cv2.resize(noise, (ww, H), interpolation=cv2.INTER_CUBIC) * 40 + 70
    near = np.repeat(near[..., None], 3, 2).astype(np.uint8)
    for k in range(8):
        cv2.circle(near, (int(20 + k * ww / 8), int(rng.integers(NEAR_Y + 10, H - 8))), 6, (235, 225, 200), -1)
    frames = []
    for t in range(N):
        f = far[:, PAN * t : PAN * t + W].copy()
        f[NEAR_Y:] = near[NEAR_Y:, NEAR * t : NEAR * t + W]
        cv2.circle(f, (30 + 5 * t, 35), 12, (230, 30, 30), -1)
        frames.append(f)
    write_video(path, frames, fps=12, quality="lossless")


@pytest.fixture(scope="module")
def parallax(tmp_path_factory):
    root = tmp_path_factory.mktemp("parallax")
    _parallax_clip(root / "p.mp4")
    return root


def _tracks(twin) -> dict[int, list[float]]:
    """Per object, its y position in each frame it is seen."""
    out: dict[int, list[float]] = {}
    for f in twin.frames:
        for i in f.instances:
            out.setdefault(i.id, []).append(i.spatial.y)
    return out


def test_parallax_highlights_give_no_track_the_moving_disc_one(parallax):
    seg = StabilisedSegmenter()
    twin = _perception(seg).run(parallax / "p.mp4", parallax / "on", progress=False)
    off = seg.path.offset(0, N - 1) if seg.path else None
    assert off is not None and abs(off[0] + PAN * (N - 1)) < 2.0  # the far (dominant) plane is registered
    tracks = _tracks(twin)
    assert len(tracks) == 1, tracks
    (ys,) = tracks.values()
    assert len(ys) >= N - 2 and max(abs(y - 35) for y in ys) < 4  # the disc, over the whole clip


def test_without_the_motion_test_parallax_leaves_tracks(parallax):
    """The same clip with the relative-motion filter off: tracks on the near strip survive the other filters."""
    seg = StabilisedSegmenter(stabilise=StabiliseConfig(min_moving_share=0.0))
    twin = _perception(seg).run(parallax / "p.mp4", parallax / "off", progress=False)
    tracks = _tracks(twin)
    near = [k for k, ys in tracks.items() if np.median(ys) > NEAR_Y]
    assert len(near) >= 2, tracks
    assert sum(1 for ys in tracks.values() if np.median(ys) < 40) == 1  # the disc is still one track


def test_relative_flow_separates_own_motion_from_moving_with_the_surroundings():
    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur((rng.random((160, 260)) * 255).astype(np.uint8), (0, 0), 1.5)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
    prev = tex[10:150, 10:250].copy()
    cur = tex[10:150, 8:248].copy()  # everything moved 2 px right ...
    s = 44
    patch = tex[100 : 100 + s, 190 : 190 + s]
    prev[40 : 40 + s, 30 : 30 + s] = patch
    cur[40 : 40 + s, 35 : 35 + s] = patch  # ... and an object 5 px right
    regions = {}
    fg = np.zeros(cur.shape, bool)
    for rid, (x0, y0) in {1: (35, 40), 2: (150, 60)}.items():  # 2: a piece of the moving background
        fg[y0 : y0 + s, x0 : x0 + s] = True
        regions[rid] = Region(
            obj_id=rid,
            x=x0 + s / 2,
            y=y0 + s / 2,
            size=s * s,
            bbox=(x0, y0, x0 + s, y0 + s),
            crop=np.ones((s, s), bool),
        )
    flows = relative_flows(prev, cur, regions, fg)
    assert abs(flows[1][0] - 3.0) < 0.5 and abs(flows[1][1]) < 0.5, flows  # own motion minus the surroundings'
    assert np.hypot(*flows[2]) < 0.3, flows  # moves exactly like its surroundings


def _box_region(rid: int, x0: int, y0: int, crop: np.ndarray) -> Region:
    region = Region.from_crop(rid, crop, x0, y0)
    assert region is not None
    return region


def test_ring_contrast_tells_a_thing_in_front_from_a_piece_of_background():
    rng = np.random.default_rng(1)
    frame = (100 + rng.normal(0, 8, (80, 120, 3))).clip(0, 255).astype(np.uint8)
    frame[20:40, 20:40] = (200, 60, 40)  # a red square in front of grey texture
    fg = np.zeros((80, 120), bool)
    fg[20:40, 20:40] = True
    fg[30:50, 70:90] = True  # a blob made of the background itself (misregistration)
    square = _box_region(1, 20, 20, np.ones((20, 20), bool))
    ghost = _box_region(2, 70, 30, np.ones((20, 20), bool))
    assert ring_contrast(frame, square, fg) > 90
    assert ring_contrast(frame, ghost, fg) < 10
    # the ring leaves other blobs out: a red neighbour touching the ghost does not raise its contrast
    frame[30:50, 90:110] = (200, 60, 40)
    fg[30:50, 90:110] = True
    assert ring_contrast(frame, ghost, fg) < 10
    tiny = _box_region(3, 5, 5, np.ones((3, 3), bool))
    assert ring_contrast(frame, tiny, fg) is None  # too few pixels to say


def test_shape_stability_aligns_centroids_and_sees_a_changing_outline():
    disc = np.zeros((21, 21), np.uint8)
    cv2.circle(disc, (10, 10), 9, 1, -1)
    a = _box_region(1, 10, 10, disc > 0)
    moved = _box_region(1, 47, 23, disc > 0)  # the same disc 37 px right, 13 px down
    assert shape_stability(a, moved) == pytest.approx(1.0)
    bar = _box_region(1, 0, 14, np.ones((4, 40), bool))  # a sliver about where the disc was: another outline
    assert shape_stability(a, bar) < 0.3


def test_region_window_is_clipped_and_holds_the_mask():
    region = _box_region(1, 2, 26, np.ones((5, 8), bool))  # x 2..10, y 26..31 in a 40 x 33 frame
    box = region.window(4, 40, 33)
    assert box == (0, 22, 14, 33)  # clipped at the left and bottom edges
    mask = region.mask_in(box)
    assert mask.shape == (11, 14) and mask.sum() == 40
    assert mask[4:9, 2:10].all()  # the region sits at its own place inside the window
