"""Classical depth: image position (lower in frame = nearer) corrected by occlusion order, normalised to [0, 1]."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from river_agent.tools.perception.base import Occlusion, SegmentedFrame


class PositionOcclusionDepth:
    """depth = 1 - bottom_y / H plus a per-object offset that makes occluders nearer than what they hide."""

    name = "classical"

    def __init__(self, iterations: int = 50, margin: float = 0.02) -> None:
        self.iterations, self.margin = iterations, margin
        self.raw: dict[tuple[int, int], float] = {}

    def observe(self, seg: SegmentedFrame) -> None:
        h = seg.label_map.shape[0]
        for oid, r in seg.regions.items():
            self.raw[(seg.t, oid)] = 1.0 - r.bbox[3] / h

    def depths(self, occlusions: list[Occlusion], id_map: dict[int, int]) -> dict[tuple[int, int], float]:
        def fid(i: int) -> int:
            return id_map.get(i, i)

        raw: dict[tuple[int, int], float] = {}
        for (t, oid), v in self.raw.items():
            if fid(oid):
                raw[(t, fid(oid))] = v
        if not raw:
            return {}
        evidence: dict[tuple[int, int], float] = defaultdict(float)
        for o in occlusions:
            f, b = fid(o.front), fid(o.back)
            if f and b and f != b:
                evidence[(f, b)] += o.pixels
        pairs = [(f, b) for (f, b), p in evidence.items() if p > evidence.get((b, f), 0.0)]
        mean: dict[int, list[float]] = defaultdict(list)
        for (_, oid), v in raw.items():
            mean[oid].append(v)
        base = {oid: float(np.mean(v)) for oid, v in mean.items()}
        offset = dict.fromkeys(base, 0.0)
        for _ in range(self.iterations):
            moved = False
            for f, b in pairs:
                gap = (base[b] + offset[b]) - (base[f] + offset[f])
                if gap < self.margin:
                    push = (self.margin - gap) / 2
                    offset[f] -= push
                    offset[b] += push
                    moved = True
            if not moved:
                break
        values = {k: v + offset[k[1]] for k, v in raw.items()}
        lo, hi = min(values.values()), max(values.values())
        span = hi - lo if hi > lo else 1.0
        return {k: float(np.clip((v - lo) / span, 0.0, 1.0)) if hi > lo else 0.5 for k, v in values.items()}
