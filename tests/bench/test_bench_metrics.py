"""Pixel metrics on hand-made arrays."""

import numpy as np

from river_agent.bench.metrics import PSNR_CAP, edited_region, frame_iou, psnr_from_mse
from river_agent.bench.score import score_case


def _video(n=3, h=40, w=60, value=100):
    return np.full((n, h, w, 3), value, np.uint8)


def test_identical_video_scores_perfectly():
    src = _video()
    masks = np.zeros(src.shape[:3], bool)
    r = score_case({"op": "remove"}, src, src.copy(), masks, expected=src.copy())
    assert r["J"] == 1.0 and r["on_target"] and r["frames_scored"] == 0
    assert r["preservation"]["psnr"] == PSNR_CAP and r["preservation"]["ssim"] == 1.0


def test_known_shifted_region_gives_known_iou():
    src = _video()
    exp, out = src.copy(), src.copy()
    exp[:, 10:20, 10:20] = 250  # reference region: 10x10
    out[:, 10:20, 15:25] = 250  # output region shifted by 5 px: IoU = 50 / 150
    masks = np.zeros(src.shape[:3], bool)
    masks[:, 10:20, 10:20] = True
    r = score_case({"op": "recolor", "rgb": [250, 250, 250]}, src, out, masks, expected=exp)
    assert abs(r["J"] - 1 / 3) < 1e-3 and not r["on_target"]
    assert r["frames_scored"] == 3
    # outside the dilated mask nothing changed except 5 columns beyond it (inside the 7 px dilation)
    assert r["preservation"]["psnr"] == PSNR_CAP


def test_small_differences_and_specks_are_not_edits():
    a = np.full((20, 20, 3), 100, np.uint8)
    b = a.copy()
    b[:, :, 0] += 20  # below the 24/255 threshold
    b[5, 5] = 255  # one-pixel speck: removed by the 3x3 opening
    assert not edited_region(a, b).any()
    assert frame_iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) is None


def test_psnr_values():
    assert psnr_from_mse(0) == PSNR_CAP
    assert abs(psnr_from_mse(255.0**2 / 100) - 20.0) < 1e-9


def test_preservation_sees_damage_outside_the_target():
    src = _video(h=60, w=80)
    out = src.copy()
    out[:, 40:50, 60:70] = 0  # damage far from the target
    masks = np.zeros(src.shape[:3], bool)
    masks[:, 5:10, 5:10] = True
    r = score_case({"op": "remove"}, src, out, masks)
    assert r["preservation"]["psnr"] < 40 and r["reference"] == "target_mask"
    assert r["fidelity"]["kind"] == "op-check:remove" and r["fidelity"]["changed_fraction"] == 0.0
