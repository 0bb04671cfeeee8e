"""Logic forms of RVE-Synth queries and their executor over a twin.

A logic form is a small JSON tree that evaluates to a set of object ids:

- ``{"op": "all"}``: every object of the twin
- ``{"op": "filter", "where": {"category": "car", "color": "red", ...}, "of": X}``
- ``{"op": "concept", "concept": "vehicle", "of": X}`` (a kind's concepts, see ``shapes.KINDS``)
- ``{"op": "pred", "pred": "stops" | "enters" | ..., "of": X}`` (a temporal property of each track)
- ``{"op": "rel", "rel": "left_of" | "overtakes" | ..., "ref": R, "of": X}``: members of X related to the
  single object R designates (empty when R is not exactly one object)
- ``{"op": "same", "attr": "color", "ref": R, "of": X}``: members of X (other than R) sharing R's attribute
- ``{"op": "argmax" | "argmin", "key": "depth" | "size" | "x" | "speed" | "first" | "last", "of": X}``

Every threshold has a margin. ``execute(..., slack=-1)`` applies the strict reading and ``slack=+1`` the loose
one; a query is unambiguous only when both give the same non-empty set (``resolve``). It reads only the twin's
JSON (no masks), so a perception twin can be queried the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from river_agent.bench.shapes import KINDS
from river_agent.twin.schema import Twin

PREDICATES = ("static", "moving", "enters", "leaves", "reappears", "stops", "accelerates", "bounces", "turns")
RELATIONS = ("left_of", "right_of", "in_front_of", "behind", "overtakes", "appears_after")
KEYS = ("depth", "size", "x", "speed", "first", "last")


@dataclass
class Track:
    """Per-object series read from a twin."""

    id: int
    category: str
    attributes: dict[str, str]
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    size: np.ndarray
    depth: np.ndarray
    bbox: np.ndarray

    width: int = 0
    height: int = 0

    @cached_property
    def clean(self) -> np.ndarray:
        """Frames where the object is (nearly) fully visible: not cut by the frame edge and not much occluded,
        so its centroid there is trustworthy."""
        ok = self.size >= 0.85 * self.size.max()
        if self.width and self.height:
            b = self.bbox
            ok &= (b[:, 0] > 0) & (b[:, 1] > 0) & (b[:, 2] < self.width) & (b[:, 3] < self.height)
        return ok

    def _velocities(self, width: int, height: int, num_frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = np.nonzero(self.clean)[0]
        if idx.size < 2:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        t = self.t[idx]
        dt = np.diff(t).astype(float)
        ok = dt <= 3
        vx = np.diff(self.x[idx]) / dt * num_frames / width
        vy = np.diff(self.y[idx]) / dt * num_frames / height
        tm = (t[:-1] + t[1:]) / 2
        return vx[ok], vy[ok], tm[ok]


@dataclass
class World:
    """A twin's tracks plus frame geometry; the executor's input."""

    width: int
    height: int
    num_frames: int
    tracks: dict[int, Track] = field(default_factory=dict)

    @classmethod
    def from_twin(cls, twin: Twin) -> World:
        rows: dict[int, list] = {}
        for frame in twin.frames:
            for inst in frame.instances:
                s = inst.spatial
                bbox = s.bbox or [s.x, s.y, s.x + 1, s.y + 1]
                rows.setdefault(inst.id, []).append((frame.t, s.x, s.y, s.size, s.depth, bbox, inst))
        world = cls(twin.video.width, twin.video.height, max(1, twin.video.num_frames or len(twin.frames)))
        for obj_id, r in rows.items():
            r.sort(key=lambda row: row[0])
            last = r[-1][6]
            world.tracks[obj_id] = Track(
                id=obj_id,
                category=last.category,
                attributes=dict(last.attributes),
                t=np.array([row[0] for row in r]),
                x=np.array([row[1] for row in r], float),
                y=np.array([row[2] for row in r], float),
                size=np.array([row[3] for row in r], float),
                depth=np.array([row[4] for row in r], float),
                bbox=np.array([row[5] for row in r], float),
                width=world.width,
                height=world.height,
            )
        return world

    # -- per-track features -------------------------------------------------------------------------------
    def vel(self, tr: Track) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tr._velocities(self.width, self.height, self.num_frames)

    def speed(self, tr: Track) -> float:
        vx, vy, _ = self.vel(tr)
        return float(np.hypot(vx, vy).mean()) if vx.size else 0.0


def _concepts(kind: str) -> tuple[str, ...]:
    spec = KINDS.get(kind)
    return spec.concepts if spec else ()


def _num(margin: float, slack: int) -> float:
    return margin * slack


def _pred(world: World, tr: Track, pred: str, slack: int) -> bool:
    s = slack  # -1 strict (harder to satisfy), +1 loose
    T = world.num_frames
    if pred == "enters":
        return int(tr.t[0]) >= (2 if s < 0 else 1)
    if pred == "leaves":
        return int(tr.t[-1]) <= T - (3 if s < 0 else 2)
    if pred == "reappears":
        gaps = np.diff(tr.t)
        return bool(gaps.size) and int(gaps.max()) >= (4 if s < 0 else 2)
    vx, vy, _tm = world.vel(tr)
    if vx.size < 3:
        return pred == "static" and s > 0 and vx.size == 0 and tr.t.size <= 2
    sp = np.hypot(vx, vy)
    if pred == "static":
        return float(sp.max()) < 0.08 - _num(0.04, -s)
    if pred == "moving":
        return float(sp.mean()) > 0.2 + _num(0.08, -s)
    n = sp.size
    k = max(1, n // 3)
    if pred == "stops":
        first, last = sp[:k].mean(), sp[-max(1, n // 4) :].mean()
        return bool(first > 0.35 + _num(0.1, -s) and last < 0.06 - _num(0.03, -s))
    if pred == "accelerates":
        first, last = np.abs(vx[:k]).mean(), np.abs(vx[-k:]).mean()
        return bool(last > 0.4 and last > (2.0 - _num(0.4, s)) * max(first, 0.05))
    if pred == "bounces":
        vyf = vy[np.abs(vy) > 0.3]
        flips = int(np.sum(np.diff(np.sign(vyf)) != 0)) if vyf.size > 1 else 0
        path = float(np.abs(vy).mean())
        return flips >= (3 if s < 0 else 2) and path > 0.6 - _num(0.2, s)
    if pred == "turns":
        # a reversal of horizontal motion: strong one way, then strong the other way
        thr = 0.25 - _num(0.08, s)
        sign = np.sign(vx) * (np.abs(vx) > thr)
        nz = sign[sign != 0]
        if nz.size < 4:
            return False
        changes = np.nonzero(np.diff(nz) != 0)[0]
        if changes.size != 1:
            return False
        c = changes[0] + 1
        return min(c, nz.size - c) >= (3 if s < 0 else 2)
    raise ValueError(f"unknown predicate {pred!r}")


def _covisible(a: Track, b: Track, clean: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``a`` and ``b`` of the frames where both are visible (and both clean, if asked)."""
    _common, ia, ib = np.intersect1d(a.t, b.t, return_indices=True)
    if clean:
        keep = a.clean[ia] & b.clean[ib]
        ia, ib = ia[keep], ib[keep]
    return ia, ib


def _rel(world: World, a: Track, r: Track, rel: str, slack: int) -> bool:
    s = slack
    W = world.width
    if rel in ("left_of", "right_of"):
        ia, ib = _covisible(a, r, clean=True)
        if ia.size < (4 if s < 0 else 2):
            return False
        d = a.x[ia] - r.x[ib]
        m = (0.05 - _num(0.03, s)) * W
        return bool(np.all(d < -m)) if rel == "left_of" else bool(np.all(d > m))
    if rel in ("in_front_of", "behind"):
        ia, ib = _covisible(a, r)
        if ia.size == 0:
            return False
        ba, bb = a.bbox[ia], r.bbox[ib]
        iw = np.clip(np.minimum(ba[:, 2], bb[:, 2]) - np.maximum(ba[:, 0], bb[:, 0]), 0, None)
        ih = np.clip(np.minimum(ba[:, 3], bb[:, 3]) - np.maximum(ba[:, 1], bb[:, 1]), 0, None)
        area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
        frac = iw * ih / np.maximum(1.0, np.minimum(area(ba), area(bb)))
        overlapping = frac > 0.2 - _num(0.12, s)
        if int(overlapping.sum()) < (3 if s < 0 else 1):
            return False
        dz = a.depth[ia][overlapping].mean() - r.depth[ib][overlapping].mean()
        m = 0.04 - _num(0.03, s)
        return bool(dz < -m) if rel == "in_front_of" else bool(dz > m)
    if rel == "overtakes":
        ia, ib = _covisible(a, r, clean=True)
        if ia.size < 3:
            return False
        if not (_pred(world, a, "moving", slack) and _pred(world, r, "moving", slack)):
            return False
        sa, sr = np.sign(a.x[ia][-1] - a.x[ia][0]), np.sign(r.x[ib][-1] - r.x[ib][0])
        if sa == 0 or sa != sr:
            return False
        d = (a.x[ia] - r.x[ib]) * sa  # > 0: a is ahead
        m = (0.03 - _num(0.02, s)) * W
        return bool(d[0] < -m and d[-1] > m and world.speed(a) > world.speed(r))
    if rel == "appears_after":
        return int(a.t[0]) >= int(r.t[-1]) + (3 if s < 0 else 1)
    raise ValueError(f"unknown relation {rel!r}")


def _key(world: World, tr: Track, key: str) -> float:
    if key == "depth":
        return float(tr.depth.mean())
    if key == "size":
        return float(tr.size.max())
    if key == "x":
        return float(tr.x.mean()) / world.width
    if key == "speed":
        return world.speed(tr)
    if key == "first":
        return float(tr.t[0])
    if key == "last":
        return float(tr.t[-1])
    raise ValueError(f"unknown key {key!r}")


_GAPS = {"depth": 0.08, "x": 0.08, "speed": 0.15, "first": 3.0, "last": 3.0}


def _arg(world: World, ids: set[int], key: str, sign: int, slack: int) -> set[int]:
    if not ids:
        return set()
    vals = sorted(((sign * _key(world, world.tracks[i], key), i) for i in ids), reverse=True)
    if len(vals) == 1:
        return {vals[0][1]}
    top, second = vals[0][0], vals[1][0]
    if key == "size":
        ok = (
            abs(top) >= (1.3 if slack < 0 else 1.1) * abs(second)
            if sign > 0
            else abs(second) >= (1.3 if slack < 0 else 1.1) * abs(top)
        )
    else:
        g = _GAPS[key] * (1.5 if slack < 0 else 0.5)
        ok = top - second >= g
    return {vals[0][1]} if ok else set()


def execute(logic: dict[str, Any], world: World | Twin, slack: int = 0) -> set[int]:
    """The set of object ids ``logic`` designates in ``world`` (a World or a Twin)."""
    if isinstance(world, Twin):
        world = World.from_twin(world)
    op = logic["op"]
    if op == "all":
        return set(world.tracks)
    of = execute(logic["of"], world, slack) if "of" in logic else set(world.tracks)
    if op == "filter":
        where = logic["where"]
        out = set()
        for i in of:
            tr = world.tracks[i]
            ok = all((tr.category if k == "category" else tr.attributes.get(k)) == v for k, v in where.items())
            if ok:
                out.add(i)
        return out
    if op == "concept":
        return {i for i in of if logic["concept"] in _concepts(world.tracks[i].category)}
    if op == "pred":
        return {i for i in of if _pred(world, world.tracks[i], logic["pred"], slack)}
    if op in ("rel", "same"):
        ref = execute(logic["ref"], world, slack)
        if len(ref) != 1:
            return set()
        r = next(iter(ref))
        rt = world.tracks[r]
        if op == "same":
            attr = logic["attr"]
            val = rt.category if attr == "category" else rt.attributes.get(attr)
            return {
                i
                for i in of
                if i != r
                and (world.tracks[i].category if attr == "category" else world.tracks[i].attributes.get(attr))
                == val
            }
        return {i for i in of if i != r and _rel(world, world.tracks[i], rt, logic["rel"], slack)}
    if op in ("argmax", "argmin"):
        return _arg(world, of, logic["key"], 1 if op == "argmax" else -1, slack)
    raise ValueError(f"unknown logic op {op!r}")


def resolve(logic: dict[str, Any], world: World | Twin, singular: bool = True) -> set[int] | None:
    """The target set when the query is unambiguous, else None.

    Unambiguous = the strict and the loose reading agree, the set is non-empty, and a singular phrasing
    designates exactly one object.
    """
    if isinstance(world, Twin):
        world = World.from_twin(world)
    strict = execute(logic, world, slack=-1)
    loose = execute(logic, world, slack=+1)
    if strict != loose or not strict:
        return None
    if singular and len(strict) != 1:
        return None
    return strict


def mentions(logic: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node of a logic form (pre-order)."""
    out = [logic]
    for key in ("of", "ref"):
        if key in logic:
            out += mentions(logic[key])
    return out
