"""Score one system output against a case: localization J, preservation and fidelity (see ``metrics``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from river_agent.bench.metrics import (
    RegionScore,
    dilate,
    edited_region,
    frame_iou,
    hue_deg,
    hue_distance,
)

ON_TARGET_J = 0.5


def _centroid(mask: np.ndarray) -> tuple[float, float] | None:
    ys, xs = np.nonzero(mask)
    return (float(xs.mean()), float(ys.mean())) if xs.size else None


def op_check(edit: dict[str, Any], src: np.ndarray, out: np.ndarray, masks: np.ndarray) -> dict[str, Any]:
    """The op-specific fidelity check used when a case has no expected video."""
    op = edit["op"]
    n, h, w = masks.shape
    res: dict[str, Any] = {"kind": f"op-check:{op}"}
    total = int(masks.sum())
    if total == 0:
        res["note"] = "empty target mask"
        return res
    if op == "recolor":
        want = hue_deg(np.asarray(edit["rgb"], np.uint8)[None])[0]
        got = hue_deg(out[masks])
        res["hue_distance_deg"] = round(float(hue_distance(got, want).mean()), 2)
        res["ok"] = res["hue_distance_deg"] < 25.0
    elif op in ("remove", "restyle", "replace"):
        changed = sum(int((edited_region(src[t], out[t]) & masks[t]).sum()) for t in range(n))
        res["changed_fraction"] = round(changed / total, 4)
        res["ok"] = res["changed_fraction"] > 0.5
    elif op == "move":
        errs = []
        dx, dy = float(edit.get("dx", 0)) * w, float(edit.get("dy", 0)) * h
        for t in range(n):
            c0 = _centroid(masks[t])
            new = edited_region(src[t], out[t]) & ~masks[t]
            c1 = _centroid(new)
            if c0 and c1:
                errs.append(float(np.hypot(c1[0] - (c0[0] + dx), c1[1] - (c0[1] + dy))))
        res["centroid_error_px"] = round(float(np.mean(errs)), 2) if errs else None
        res["ok"] = bool(errs) and float(np.mean(errs)) < 0.05 * max(w, h)
    elif op == "resize":
        s = float(edit["scale"])
        grown = sum(int((edited_region(src[t], out[t]) & ~masks[t]).sum()) for t in range(n))
        shrunk = sum(int((edited_region(src[t], out[t]) & masks[t]).sum()) for t in range(n))
        ratio = (total + grown) / total if s >= 1 else (total - shrunk) / total
        res["area_ratio"] = round(ratio, 3)
        res["expected_area_ratio"] = round(s * s, 3)
        res["ok"] = abs(ratio - s * s) < 0.35 * s * s
    return res


def score_case(
    edit: dict[str, Any],
    src: np.ndarray,
    out: np.ndarray,
    masks: np.ndarray,
    expected: np.ndarray | None = None,
) -> dict[str, Any]:
    """All pixel metrics of one case. Arrays: N x H x W x 3 uint8 videos, N x H x W bool target masks."""
    if out.shape != src.shape:
        raise ValueError(f"output shape {out.shape} differs from source {src.shape}")
    n = src.shape[0]
    ious: list[float] = []
    pres, fid = RegionScore(), RegionScore()
    ref_px = 0
    for t in range(n):
        ref = edited_region(src[t], expected[t]) if expected is not None else masks[t]
        ref_px += int(ref.sum())
        got = edited_region(src[t], out[t])
        iou = frame_iou(got, ref)
        if iou is not None:
            ious.append(iou)
        region = dilate(masks[t] | ref)
        pres.add(src[t], out[t], ~region)
        if expected is not None:
            fid.add(out[t], expected[t], region)
    j = float(np.mean(ious)) if ious else 1.0
    result: dict[str, Any] = {
        "J": round(j, 4),
        "on_target": j >= ON_TARGET_J,
        "frames_scored": len(ious),
        "reference": "expected" if expected is not None else "target_mask",
        "reference_pixels": ref_px,
        "preservation": pres.result(),
    }
    if expected is not None:
        result["fidelity"] = {"kind": "vs-expected", **fid.result()}
    else:
        result["fidelity"] = op_check(edit, src, out, masks)
    return result
