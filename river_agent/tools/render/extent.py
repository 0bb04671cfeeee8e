"""The whole object's centroid and box where the frame edge cuts it off (resize about the true centre, lay a
restyle's pattern over the whole object).

A resize scales an object about its centroid. Where the object runs off the frame, the visible mask's centroid
lies inside the frame, away from the object's; scaling about it shifts the object. ``ExtentTracker`` records
each edited object's visible box and centroid per frame (a few numbers per frame) and, for a frame where the box
touches an edge, places the centroid from the nearest frame where the object is whole: its distance from the
box side that the edge does not cut is kept (the object's size is taken to change little in between).
"""

from __future__ import annotations

import numpy as np


class ExtentTracker:
    """Visible boxes and centroids of objects per frame; ``centres(obj)`` for the frames where an edge cuts it."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._seen: dict[int, dict[int, tuple[int, int, int, int, float, float]]] = {}

    def observe(self, t: int, obj_id: int, mask: np.ndarray) -> None:
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            return
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        self._seen.setdefault(obj_id, {})[t] = (*box, float(xs.mean()), float(ys.mean()))

    def _cut(self, rec: tuple[int, int, int, int, float, float]) -> tuple[bool, bool, bool, bool]:
        x0, y0, x1, y1 = rec[:4]
        return x0 <= 0, x1 >= self.width, y0 <= 0, y1 >= self.height

    def centres(self, obj_id: int) -> dict[int, tuple[float, float]]:
        """Frame -> estimated whole-object centroid, for the frames where an edge cuts the object."""
        seen = self._seen.get(obj_id, {})
        whole_x = sorted(t for t, r in seen.items() if not any(self._cut(r)[:2]))
        whole_y = sorted(t for t, r in seen.items() if not any(self._cut(r)[2:]))
        out: dict[int, tuple[float, float]] = {}
        for t, rec in seen.items():
            left, right, top, bottom = self._cut(rec)
            if not (left or right or top or bottom):
                continue
            x0, y0, x1, y1, cx, cy = rec
            if left != right and whole_x:
                u = seen[min(whole_x, key=lambda u: abs(u - t))]
                cx = x1 - (u[2] - u[4]) if left else x0 + (u[4] - u[0])
            if top != bottom and whole_y:
                u = seen[min(whole_y, key=lambda u: abs(u - t))]
                cy = y1 - (u[3] - u[5]) if top else y0 + (u[5] - u[1])
            out[t] = (cx, cy)
        return out

    def boxes(self, obj_id: int) -> dict[int, tuple[int, int, int, int]]:
        """Frame -> estimated whole-object box (x0, y0, w, h; may reach outside the frame), for the frames where
        an edge cuts the object: the nearest whole frame's width/height, laid from the side not cut."""
        seen = self._seen.get(obj_id, {})
        whole_x = sorted(t for t, r in seen.items() if not any(self._cut(r)[:2]))
        whole_y = sorted(t for t, r in seen.items() if not any(self._cut(r)[2:]))
        out: dict[int, tuple[int, int, int, int]] = {}
        for t, rec in seen.items():
            left, right, top, bottom = self._cut(rec)
            if not (left or right or top or bottom):
                continue
            x0, y0, x1, y1 = rec[:4]
            if left != right and whole_x:
                u = seen[min(whole_x, key=lambda u: abs(u - t))]
                w = u[2] - u[0]
                x0, x1 = (x1 - w, x1) if left else (x0, x0 + w)
            if top != bottom and whole_y:
                u = seen[min(whole_y, key=lambda u: abs(u - t))]
                h = u[3] - u[1]
                y0, y1 = (y1 - h, y1) if top else (y0, y0 + h)
            out[t] = (x0, y0, x1 - x0, y1 - y0)
        return out
