"""Loaders of published benchmark layouts, on tiny hand-made folders in those layouts."""

import json

import cv2
import numpy as np
import pytest

from river_agent.bench.cases import list_cases, read_target_masks
from river_agent.bench.loaders import LoaderError, load_five, load_veggie
from river_agent.video.io import probe_video


def _frames(folder, n=4, h=32, w=48, box=True):
    folder.mkdir(parents=True)
    for t in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        if box:
            img[8:20, 10 + t : 22 + t] = 255
        cv2.imwrite(str(folder / f"{t + 1:05d}.jpg"), img)


def test_five_layout(tmp_path):
    root = tmp_path / "data"
    _frames(root / "images" / "0001_bus", box=False)
    _frames(root / "bmasks" / "0001_bus")
    (root / "edit_prompt").mkdir()
    entries = [
        {
            "video_name": "0001_bus",
            "source_prompt": "a [red bus] on a road",
            "target_prompt": "a [blue bus] on a road",
            "editing_type_id": 3,
            "save_dir": "x",
        },
        {"video_name": "0001_bus", "source_prompt": "a [bus]", "target_prompt": "a road", "editing_type_id": 6},
        {
            "video_name": "0001_bus",
            "source_prompt": "a bus",
            "target_prompt": "a bus and [a bird]",
            "editing_type_id": 5,
        },
    ]
    (root / "edit_prompt" / "edit3_FiVE.json").write_text(json.dumps(entries))
    summary = load_five(root, tmp_path / "suite")
    assert len(summary.written) == 2 and sum(summary.skipped.values()) == 1
    cases = list_cases(tmp_path / "suite")
    recolor = next(c for c in cases if c.edit["op"] == "recolor")
    assert recolor.edit["color"] == "blue" and recolor.target_prompt == "a blue bus on a road"
    info = probe_video(recolor.video_path)
    masks = read_target_masks(recolor, info.num_frames, info.height, info.width)
    assert masks.shape == (4, 32, 48) and masks[0, 10, 15] and not masks[0, 0, 0]
    assert next(c for c in cases if c.edit["op"] == "remove").query == "Remove the bus."
    with pytest.raises(LoaderError):
        load_five(tmp_path, tmp_path / "x")


def test_veggie_manifest(tmp_path):
    _frames(tmp_path / "v1", box=False)
    _frames(tmp_path / "m1")
    rows = [
        {"video": "v1", "instruction": "Make the swan white.", "task": "Color", "mask": "m1"},
        {"video": "v1", "instruction": "Make it on the beach.", "task": "Env", "mask": "m1"},
        {"video": "v1", "instruction": "Please remove the man in black.", "task": "Removal"},
    ]
    (tmp_path / "bench.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    summary = load_veggie(tmp_path / "bench.jsonl", tmp_path / "suite")
    assert len(summary.written) == 1 and sum(summary.skipped.values()) == 2
    (case,) = list_cases(tmp_path / "suite")
    assert case.edit == {"op": "recolor", "color": "white", "rgb": [215, 215, 215]}
