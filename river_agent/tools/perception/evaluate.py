"""Score a predicted twin against a ground-truth twin (e.g. an RVE-Synth case's ``twin.json``).

Predicted ids are matched to ground-truth ids once for the whole video (Hungarian on the number of frames
where the two masks overlap with IoU >= 0.5, as IDF1 does). Then:
- mask IoU: per ground-truth instance per frame, IoU with its matched prediction (0 when missing), averaged;
  ``object_iou`` is the same per ground-truth object (over the frames where it is visible);
- IDF1: 2 IDTP / (ground-truth instances + predicted instances), IDTP = frames where a matched pair has IoU >= 0.5;
- category accuracy: share of ground-truth objects whose matched prediction has the same category;
- centroid error: mean pixel distance between matched centroids over frames where both are visible;
- depth-order accuracy: over frames and pairs of ground-truth objects both matched and visible, the share whose
  predicted depth order agrees with the ground truth (pairs at equal ground-truth depth are skipped).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from pydantic import BaseModel
from scipy.optimize import linear_sum_assignment

from river_agent.errors import TwinError
from river_agent.twin.io import label_map, load_twin
from river_agent.twin.schema import Twin


class PerceptionScores(BaseModel):
    """Scores of one predicted twin against its ground truth."""

    mask_iou: float
    idf1: float
    category_accuracy: float
    centroid_error_px: float
    depth_order_accuracy: float
    gt_objects: int
    pred_objects: int
    frames: int
    id_map: dict[int, int]  # predicted id -> ground-truth id
    object_iou: dict[int, float] = {}  # ground-truth id -> its mean mask IoU over the frames it is visible


def _pair_counts(
    pred: np.ndarray, gt: np.ndarray
) -> tuple[dict[tuple[int, int], int], dict[int, int], dict[int, int]]:
    p = pred.astype(np.int64).ravel()
    g = gt.astype(np.int64).ravel()
    base = int(g.max()) + 1 if g.size else 1
    key = p * base + g
    uniq, counts = np.unique(key, return_counts=True)
    inter: dict[tuple[int, int], int] = {}
    pa: dict[int, int] = defaultdict(int)
    ga: dict[int, int] = defaultdict(int)
    for k, c in zip(uniq.tolist(), counts.tolist(), strict=True):
        pi, gi = divmod(k, base)
        if pi:
            pa[pi] += c
        if gi:
            ga[gi] += c
        if pi and gi:
            inter[(pi, gi)] = c
    return inter, pa, ga


def evaluate_twins(pred: Twin, gt: Twin) -> PerceptionScores:
    """Compare two twins loaded from folders (both need their masks)."""
    if pred.root is None or gt.root is None:
        raise TwinError("both twins must be loaded from folders so their masks can be read")
    pred_frames = {f.t: f for f in pred.frames}
    n_frames = len(gt.frames)
    per_frame = []  # (t, inter, pa, ga)
    good_frames: dict[tuple[int, int], int] = defaultdict(int)
    for gf in gt.frames:
        pf = pred_frames.get(gf.t)
        g_lm = label_map(gt, gf.t)
        p_lm = label_map(pred, gf.t) if pf is not None else np.zeros_like(g_lm)
        if p_lm.shape != g_lm.shape:
            raise TwinError(f"frame {gf.t}: mask sizes differ ({p_lm.shape} vs {g_lm.shape})")
        inter, pa, ga = _pair_counts(p_lm, g_lm)
        per_frame.append((gf.t, inter, pa, ga))
        for (pi, gi), c in inter.items():
            if c / (pa[pi] + ga[gi] - c) >= 0.5:
                good_frames[(pi, gi)] += 1
    pred_ids, gt_ids = pred.object_ids(), gt.object_ids()
    id_map: dict[int, int] = {}
    if pred_ids and gt_ids:
        score = np.zeros((len(pred_ids), len(gt_ids)))
        pidx = {p: i for i, p in enumerate(pred_ids)}
        gidx = {g: j for j, g in enumerate(gt_ids)}
        soft: dict[tuple[int, int], float] = defaultdict(float)
        for _, inter, pa, ga in per_frame:
            for (pi, gi), c in inter.items():
                if pi in pidx and gi in gidx:
                    soft[(pi, gi)] += c / (pa[pi] + ga[gi] - c)
        for (pi, gi), v in soft.items():
            score[pidx[pi], gidx[gi]] = good_frames.get((pi, gi), 0) + 1e-3 * v
        rows, cols = linear_sum_assignment(-score)
        id_map = {pred_ids[r]: gt_ids[c] for r, c in zip(rows, cols, strict=True) if score[r, c] > 0}
    inv = {g: p for p, g in id_map.items()}
    ious, idtp, n_gt_inst, n_pred_inst = [], 0, 0, 0
    per_object: dict[int, list[float]] = defaultdict(list)
    cents, depth_ok, depth_n = [], 0, 0
    for t, inter, pa, ga in per_frame:
        gf = next(f for f in gt.frames if f.t == t)
        pf = pred_frames.get(t)
        n_gt_inst += len(gf.instances)
        n_pred_inst += len(pf.instances) if pf else 0
        matched = []
        for gi_inst in gf.instances:
            g = gi_inst.id
            p = inv.get(g)
            c = inter.get((p, g), 0) if p is not None else 0
            iou = c / (pa.get(p, 0) + ga.get(g, 0) - c) if p is not None and (pa.get(p, 0) + ga.get(g, 0)) else 0.0
            ious.append(iou)
            per_object[g].append(iou)
            if iou >= 0.5:
                idtp += 1
            pi_inst = pf.instance(p) if (pf is not None and p is not None) else None
            if pi_inst is not None:
                cents.append(
                    np.hypot(pi_inst.spatial.x - gi_inst.spatial.x, pi_inst.spatial.y - gi_inst.spatial.y)
                )
                matched.append((gi_inst.spatial.depth, pi_inst.spatial.depth))
        for a in range(len(matched)):
            for b in range(a + 1, len(matched)):
                gd = matched[a][0] - matched[b][0]
                if abs(gd) < 1e-6:
                    continue
                depth_n += 1
                depth_ok += int(np.sign(gd) == np.sign(matched[a][1] - matched[b][1]))
    gt_cat = {i: gt.track(i)[0][1].category for i in gt_ids}
    pred_cat = {i: pred.track(i)[0][1].category for i in pred_ids}
    cat_ok = sum(1 for g in gt_ids if g in inv and pred_cat[inv[g]] == gt_cat[g])
    denom = n_gt_inst + n_pred_inst
    return PerceptionScores(
        mask_iou=float(np.mean(ious)) if ious else 1.0,
        idf1=2 * idtp / denom if denom else 1.0,
        category_accuracy=cat_ok / len(gt_ids) if gt_ids else 1.0,
        centroid_error_px=float(np.mean(cents)) if cents else 0.0,
        depth_order_accuracy=depth_ok / depth_n if depth_n else 1.0,
        gt_objects=len(gt_ids),
        pred_objects=len(pred_ids),
        frames=n_frames,
        id_map=id_map,
        object_iou={g: float(np.mean(v)) for g, v in sorted(per_object.items())},
    )


def scene_motions(case_dir: str | Path) -> dict[int, str]:
    """Ground-truth object id -> how it moves in the scene ('static', 'linear', 'stopping', ...), from an
    RVE-Synth case's ``scene.json``; empty when the case has none."""
    try:
        scene = json.loads((Path(case_dir) / "scene.json").read_text())
        return {int(o["id"]): str(o["motion"]) for o in scene.get("objects", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def iou_by_motion(per_object: list[tuple[str, float]]) -> list[tuple[str, int, float, int]]:
    """``(motion, objects, mean mask IoU, objects under 0.2)`` per motion class of ``(motion, object IoU)``
    pairs, then ``all moving`` (every class but ``static``): a background model finds moving and standing
    things very differently."""
    groups: dict[str, list[float]] = {}
    for motion, iou in per_object:
        groups.setdefault(motion, []).append(iou)
        if motion != "static":
            groups.setdefault("all moving", []).append(iou)
    out = []
    for motion in sorted(groups, key=lambda m: (m == "all moving", m)):
        v = np.asarray(groups[motion])
        out.append((motion, int(v.size), float(v.mean()), int((v < 0.2).sum())))
    return out


def evaluate_dirs(pred_dir: str | Path, gt_dir: str | Path) -> PerceptionScores:
    """Scores of the twin in ``pred_dir`` against the one in ``gt_dir`` (folders or twin.json paths)."""
    return evaluate_twins(load_twin(pred_dir), load_twin(gt_dir))
