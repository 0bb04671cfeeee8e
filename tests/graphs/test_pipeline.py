"""verify_output: the pipeline's basic checks of a rendered edit."""

from __future__ import annotations

import numpy as np

from river_agent.graphs.pipeline import verify_output
from river_agent.twin.io import instance_mask, load_twin
from river_agent.twin.ops import apply_ops, parse_ops
from river_agent.video.io import read_frames, write_video
from tests.agent_fixtures import make_case


def _edited(twin):
    return apply_ops(twin, parse_ops([{"op": "remove", "id": 2}]))


def test_verify_accepts_an_edit_on_the_object_and_flags_others(tmp_path):
    video, twin_path = make_case(tmp_path / "c")
    twin = load_twin(twin_path)
    frames = read_frames(video)
    good = [f.copy() for f in frames]
    for t, f in enumerate(good):
        f[instance_mask(twin, t, 2)] = (90, 90, 120)  # painted over with the background
    write_video(tmp_path / "good.mp4", good, fps=8.0, quality="lossless")
    rep = verify_output(video, tmp_path / "good.mp4", twin, _edited(twin))
    assert rep["ok"] and rep["changed_in_target_region"] == 1.0 and rep["changed_ids"] == [2]

    wrong = [f.copy() for f in frames]
    for t, f in enumerate(wrong):
        f[instance_mask(twin, t, 1)] = (0, 0, 0)  # the truck changed instead of the car
    write_video(tmp_path / "wrong.mp4", wrong, fps=8.0, quality="lossless")
    rep = verify_output(video, tmp_path / "wrong.mp4", twin, _edited(twin))
    assert not rep["ok"] and "lie on the edited objects" in rep["problems"][0]

    write_video(tmp_path / "short.mp4", frames[:3], fps=8.0, quality="lossless")
    rep = verify_output(video, tmp_path / "short.mp4", twin, _edited(twin))
    assert not rep["ok"] and "3 frames" in rep["problems"][0]

    write_video(tmp_path / "same.mp4", frames, fps=8.0, quality="lossless")
    rep = verify_output(video, tmp_path / "same.mp4", twin, _edited(twin))
    assert not rep["ok"] and "differs visibly" in rep["problems"][0]
    assert not verify_output(video, tmp_path / "none.mp4", twin, _edited(twin))["ok"]
    assert np.all(read_frames(video)[0] == frames[0])  # the source is untouched


def test_verify_counts_where_an_enlarged_object_now_reaches(tmp_path):
    video, twin_path = make_case(tmp_path / "c")
    twin = load_twin(twin_path)
    frames = read_frames(video)
    scale = 3.0
    out = [f.copy() for f in frames]
    for t, f in enumerate(out):
        ys, xs = np.nonzero(instance_mask(twin, t, 2))
        if not len(xs):
            continue
        cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
        hw, hh = (xs.max() - xs.min() + 1) * scale / 2, (ys.max() - ys.min() + 1) * scale / 2
        f[max(0, round(cy - hh)) : round(cy + hh), max(0, round(cx - hw)) : round(cx + hw)] = (250, 20, 20)
    write_video(tmp_path / "big.mp4", out, fps=8.0, quality="lossless")
    edited = apply_ops(twin, parse_ops([{"op": "resize", "id": 2, "scale": scale}]))
    rep = verify_output(video, tmp_path / "big.mp4", twin, edited)
    assert rep["ok"], rep["problems"]
    assert rep["changed_in_target_region"] > 0.9
