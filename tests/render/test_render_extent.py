"""Resize and move geometry: the whole object's centre at the frame edge, and depth order when compositing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from render_scene_helpers import Obj, make_twin, render_scene, write_case

from river_agent.tools.render import get_renderer
from river_agent.tools.render.extent import ExtentTracker
from river_agent.video.io import read_frames


def _box(h: int, w: int, x0: int, x1: int, y0: int = 10, y1: int = 20) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, max(x0, 0) : min(x1, w)] = True
    return m


def test_centre_of_an_object_cut_by_the_left_edge() -> None:
    ext = ExtentTracker(64, 48)
    ext.observe(0, 7, _box(48, 64, 10, 30))  # whole: centroid x 19.5
    ext.observe(1, 7, _box(48, 64, -8, 12))  # cut: visible 0..12, the whole box is -8..12
    ext.observe(2, 7, _box(48, 64, 50, 70))  # cut by the right edge: 50..64 visible
    c = ext.centres(7)
    assert set(c) == {1, 2}
    assert abs(c[1][0] - 1.5) < 1e-6 and abs(c[1][1] - 14.5) < 1e-6  # 12 - (30 - 19.5)
    assert abs(c[2][0] - 59.5) < 1e-6  # 50 + (19.5 - 10)


def test_resize_keeps_a_nearer_object_in_front(tmp_path: Path) -> None:
    far = Obj(1, (200, 40, 40), (30.0, 24.0), (0.0, 0.0), (7, 5))
    near = Obj(2, (40, 60, 220), (40.0, 24.0), (0.0, 0.0), (5, 5), "box", "blue")  # drawn last: in front
    frames, labels = render_scene([far, near], n=4)
    video = write_case(tmp_path, frames)
    twin = make_twin(tmp_path, [far, near], labels)
    for f in twin.frames:
        for inst in f.instances:
            inst.spatial.depth = 0.8 if inst.id == 1 else 0.2
    masks = [lab == 1 for lab in labels]
    r = get_renderer("classical", progress=False, comparison=False, overlay=False)
    out = read_frames(
        r.render_masks(video, masks, {"op": "resize", "scale": 1.8}, tmp_path / "o.mp4", scene=twin).output
    )
    for t, lab in enumerate(labels):
        near_px = lab == 2
        np.testing.assert_array_equal(out[t][near_px], frames[t][near_px])  # the blue box is untouched
        grown = (np.abs(out[t].astype(int) - frames[t]).max(axis=2) > 30) & ~masks[t]
        assert grown.sum() > 50  # the red ball did grow around it
    # without the scene (no depths known) the grown ball covers the blue box
    out2 = read_frames(r.render_masks(video, masks, {"op": "resize", "scale": 1.8}, tmp_path / "o2.mp4").output)
    assert (out2[0][labels[0] == 2] != frames[0][labels[0] == 2]).any()


def test_whole_box_of_an_object_cut_by_an_edge() -> None:
    ext = ExtentTracker(64, 48)
    ext.observe(0, 7, _box(48, 64, 10, 30))
    ext.observe(1, 7, _box(48, 64, -8, 12))
    ext.observe(2, 7, _box(48, 64, 20, 40, 40, 60))  # cut by the bottom edge: rows 40..48 visible
    b = ext.boxes(7)
    assert b[1] == (-8, 10, 20, 10)
    assert b[2] == (20, 40, 20, 10)


def test_restyle_lays_the_pattern_over_the_whole_object_at_the_edge(tmp_path: Path) -> None:
    from river_agent.tools.render.appearance import restyle

    img = np.full((40, 60, 3), 120, np.uint8)
    whole = _box(40, 60, -10, 30, 5, 35)  # 40 px wide, the left 10 px off-frame
    full = np.full((40, 70, 3), 120, np.uint8)
    mfull = np.zeros((40, 70), bool)
    mfull[5:35, 0:40] = True
    restyle(full, full.copy(), mfull, "striped", (20.0, 20.0))  # the same object, all of it in view
    restyle(img, img.copy(), whole, "striped", (10.0, 20.0), box=(-10, 5, 40, 30))
    np.testing.assert_array_equal(img[5:35, 0:30], full[5:35, 10:40])
