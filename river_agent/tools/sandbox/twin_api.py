"""The read-only twin API a snippet sees: plain numbers, tuples and immutable records, never the twin itself.

Built once in the sandbox worker from the twin's JSON form (no pydantic there), then shared copy-on-write by
every forked child. ``TWIN_API_DOC`` is the description an LLM prompt includes.
"""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

TWIN_API_DOC = """\
Twin API (available in <execute> code; all data is read-only; t = frame index, ids are ints):
  num_frames, width, height, fps          video facts; x grows right, y grows down (pixels)
  objects() -> list of records: id, category, attributes (dict-like), first_frame, last_frame, frames
  obj(id) -> one such record
  track(id) -> list of records per visible frame: t, x, y, depth, size, bbox=(x0, y0, x1, y1)
  frame(t) -> list of records visible at t: id, category, attributes, x, y, depth, size, bbox
  find(category=None, **attributes) -> sorted ids matching, e.g. find("car", color="red")
  visible(id, t) -> bool;  first_seen(id), last_seen(id) -> frame index or None
  position(id, t) -> (x, y) or None when not visible at t
  velocity(id, t) -> (vx, vy) pixels/frame around t, or None
  speed(id) -> mean speed in pixels/frame over its track
  distance(a, b, t=None) -> pixel distance of centres at t; t=None: closest approach; None if never together
  left_of(a, b, t=None), right_of, above, below   centre comparisons
  in_front_of(a, b, t=None)    a nearer the camera (smaller depth) than b
  overlaps(a, b, t=None)       bounding boxes intersect
    relations with t=None hold when true in most frames where both are visible; False if never together
  overtakes(a, b) -> True if a gets past b along a's direction of motion while both are visible
                    (b going the same way or standing still, not coming the other way)
Benchmark definitions (motion is judged on frames where the object is fully visible and unoccluded):
  is_a(id, name) -> name is its category or a concept of it: vehicle, ride, cargo, living, walker,
                    animal, toy, round, plant, container   e.g. is_a(i, "vehicle") for cars and trucks
  enters(id), leaves(id)   first seen after frame 0 / last seen before the final frame
  reappears(id)            missing for some frames between its first and last sighting
  is_moving(id), is_static(id), stops(id) (moves, then stays still), accelerates(id) (horizontal speed
                    grows), bounces(id) (hops up and down), turns(id) (reverses horizontally) -> bool
  norm_speed(id) -> mean speed in frame sizes per video length (x/width, y/height): ranks "fastest"
  average(id, field) -> mean of a track field over its visible frames, e.g. average(i, "depth")
  always_left_of(a, b), always_right_of(a, b)   in every frame both are fully visible (by >= 2% of width)
  occludes(a, b)   a passes in front of b: their boxes overlap in some frame and a is nearer there
  passes(a, b)     a overtakes b: both move the same way, a starts behind b, ends ahead, and is faster
Records: r["x"] or r.x; dict(r) makes a plain copy. depth is in [0, 1], larger = farther.
Allowed imports: math, statistics, itertools, collections, functools, operator, json, re.
print() what you want to see; output is capped. No files, network, or names starting with "_".
Each <execute> block runs fresh: variables and imports do not carry over to the next block.
"""


class Record(Mapping[str, Any]):
    """An immutable dict-like record: ``r["key"]``, ``r.key``, ``r.get``, ``dict(r)``."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", types.MappingProxyType(dict(data)))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"record has no field {name!r}; fields: {', '.join(self._data)}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("twin records are read-only")

    def __delattr__(self, name: str) -> None:
        raise TypeError("twin records are read-only")

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self._data.items()) + "}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, repr(v)) for k, v in self._data.items())))


def _f(value: Any) -> float:
    return float(value)


class TwinIndex:
    """Per-object tracks and per-frame lists, built once from the twin's JSON dict."""

    def __init__(self, twin: Mapping[str, Any]) -> None:
        video = twin.get("video", {})
        self.width = int(video.get("width", 0))
        self.height = int(video.get("height", 0))
        self.fps = float(video.get("fps", 0.0))
        frames = sorted(twin.get("frames", []), key=lambda f: int(f["t"]))
        self.num_frames = max(int(video.get("num_frames", 0)), (int(frames[-1]["t"]) + 1) if frames else 0)
        self.tracks: dict[int, dict[int, Record]] = {}
        self.frames: dict[int, tuple[Record, ...]] = {}
        self.info: dict[int, Record] = {}
        first: dict[int, Mapping[str, Any]] = {}
        for frame in frames:
            t = int(frame["t"])
            visible = []
            for inst in frame.get("instances", []):
                oid = int(inst["id"])
                sp = inst.get("spatial", {})
                bbox = sp.get("bbox")
                pos = {
                    "x": _f(sp.get("x", 0.0)),
                    "y": _f(sp.get("y", 0.0)),
                    "depth": _f(sp.get("depth", 0.0)),
                    "size": int(sp.get("size", 0)),
                    "bbox": tuple(int(v) for v in bbox) if bbox else None,
                }
                attrs = Record({str(k): str(v) for k, v in (inst.get("attributes") or {}).items()})
                self.tracks.setdefault(oid, {})[t] = Record({"t": t, **pos})
                category = str(inst.get("category", "object"))
                visible.append(Record({"id": oid, "category": category, "attributes": attrs, **pos}))
                first.setdefault(oid, {"category": category, "attributes": attrs})
                if inst.get("category_guess") and "category_guess" not in first[oid]:
                    # perception could not tell, but this kind fitted best (see find)
                    first[oid] = {**first[oid], "category_guess": str(inst["category_guess"])}
            self.frames[t] = tuple(sorted(visible, key=lambda r: r["id"]))
        for oid, track in self.tracks.items():
            ts = tuple(sorted(track))
            self.info[oid] = Record(
                {"id": oid, **first[oid], "first_frame": ts[0], "last_frame": ts[-1], "frames": ts}
            )
        self.ids = tuple(sorted(self.tracks))

    def track_of(self, oid: Any) -> dict[int, Record]:
        try:
            return self.tracks[oid]
        except (KeyError, TypeError):
            raise KeyError(f"no object with id {oid!r}; ids: {list(self.ids)}") from None


# Concepts of each category, as river_agent.bench.shapes.KINDS defines them (copied: the worker stays free of numpy
# and OpenCV; tests/bench/test_bench_programs.py keeps the two equal).
CONCEPTS: dict[str, tuple[str, ...]] = {
    "car": ("vehicle", "ride"),
    "truck": ("vehicle", "ride", "cargo"),
    "person": ("living", "walker"),
    "dog": ("living", "animal", "walker"),
    "ball": ("toy", "round"),
    "tree": ("plant", "living"),
    "box": ("container", "cargo"),
}

# API name -> logic.py predicate it implements
PREDICATE_HELPERS = {
    "enters": "enters",
    "leaves": "leaves",
    "reappears": "reappears",
    "is_moving": "moving",
    "is_static": "static",
    "stops": "stops",
    "accelerates": "accelerates",
    "bounces": "bounces",
    "turns": "turns",
}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _sign(v: float) -> int:
    return (v > 0) - (v < 0)


class BenchDefinitions:
    """The RVE-Synth ground truth's definitions (``river_agent.bench.logic``) in plain Python over a TwinIndex.

    Each threshold takes the lenient side of logic.py's margin (``slack=+1``): a query the benchmark accepts is
    unambiguous, i.e. its strict and lenient readings agree, so these helpers reproduce its target exactly.
    """

    def __init__(self, ix: TwinIndex) -> None:
        self.ix = ix
        self.num_frames = max(1, ix.num_frames)
        self.clean: dict[int, list[int]] = {oid: self._clean(oid) for oid in ix.ids}
        self.vel: dict[int, list[tuple[float, float]]] = {oid: self._velocities(oid) for oid in ix.ids}

    @staticmethod
    def box(rec: Record) -> tuple[float, float, float, float]:
        bbox = rec["bbox"]
        return tuple(bbox) if bbox else (rec["x"], rec["y"], rec["x"] + 1, rec["y"] + 1)  # type: ignore[return-value]

    def _clean(self, oid: int) -> list[int]:
        """Frames where the object is nearly whole: >= 85% of its largest area and not cut by the frame edge."""
        ix, tr = self.ix, self.ix.tracks[oid]
        peak = max(r["size"] for r in tr.values())
        out = []
        for t in sorted(tr):
            ok = tr[t]["size"] >= 0.85 * peak
            if ix.width and ix.height:
                x0, y0, x1, y1 = self.box(tr[t])
                ok = ok and x0 > 0 and y0 > 0 and x1 < ix.width and y1 < ix.height
            if ok:
                out.append(t)
        return out

    def _velocities(self, oid: int) -> list[tuple[float, float]]:
        """(vx, vy) between consecutive clean frames at most 3 apart, in frame sizes per video length."""
        tr, n = self.ix.tracks[oid], self.num_frames
        out = []
        for t0, t1 in itertools.pairwise(self.clean[oid]):
            dt = float(t1 - t0)
            if dt <= 3:
                vx = (tr[t1]["x"] - tr[t0]["x"]) / dt * n / (self.ix.width or 1)
                vy = (tr[t1]["y"] - tr[t0]["y"]) / dt * n / (self.ix.height or 1)
                out.append((vx, vy))
        return out

    def speed(self, oid: int) -> float:
        v = self.vel[oid]
        return _mean([math.hypot(vx, vy) for vx, vy in v]) if v else 0.0

    def pred(self, oid: int, name: str) -> bool:
        ts = sorted(self.ix.track_of(oid))
        if name == "enters":
            return ts[0] >= 1
        if name == "leaves":
            return ts[-1] <= self.num_frames - 2
        if name == "reappears":
            return any(b - a >= 2 for a, b in itertools.pairwise(ts))
        v = self.vel[oid]
        if len(v) < 3:
            return name == "static" and not v and len(ts) <= 2
        vx = [a for a, _ in v]
        vy = [b for _, b in v]
        sp = [math.hypot(a, b) for a, b in v]
        n = len(sp)
        k = max(1, n // 3)
        if name == "static":
            return max(sp) < 0.12
        if name == "moving":
            return _mean(sp) > 0.12
        if name == "stops":
            return _mean(sp[:k]) > 0.25 and _mean(sp[-max(1, n // 4) :]) < 0.09
        if name == "accelerates":
            first, last = _mean([abs(a) for a in vx[:k]]), _mean([abs(a) for a in vx[-k:]])
            return last > 0.4 and last > 1.6 * max(first, 0.05)
        if name == "bounces":
            signs = [_sign(b) for b in vy if abs(b) > 0.3]
            flips = sum(1 for a, b in itertools.pairwise(signs) if a != b)
            return flips >= 2 and _mean([abs(b) for b in vy]) > 0.4
        if name == "turns":
            nz = [_sign(a) for a in vx if abs(a) > 0.17]
            if len(nz) < 4:
                return False
            changes = [j + 1 for j in range(len(nz) - 1) if nz[j + 1] != nz[j]]
            return len(changes) == 1 and min(changes[0], len(nz) - changes[0]) >= 2
        raise ValueError(f"unknown predicate {name!r}")

    def _common(self, a: int, b: int, clean: bool) -> list[int]:
        if clean:
            return sorted(set(self.clean[a]) & set(self.clean[b]))
        return sorted(set(self.ix.track_of(a)) & set(self.ix.track_of(b)))

    def left_of(self, a: int, b: int) -> bool:
        ts = self._common(a, b, clean=True)
        ta, tb = self.ix.tracks[a], self.ix.tracks[b]
        m = (0.05 - 0.03) * self.ix.width
        return len(ts) >= 2 and all(ta[t]["x"] - tb[t]["x"] < -m for t in ts)

    def occludes(self, a: int, b: int) -> bool:
        ta, tb = self.ix.track_of(a), self.ix.track_of(b)
        da, db = [], []
        for t in self._common(a, b, clean=False):
            p, q = self.box(ta[t]), self.box(tb[t])
            iw = max(min(p[2], q[2]) - max(p[0], q[0]), 0)
            ih = max(min(p[3], q[3]) - max(p[1], q[1]), 0)
            small = min((p[2] - p[0]) * (p[3] - p[1]), (q[2] - q[0]) * (q[3] - q[1]))
            if iw * ih / max(1.0, small) > 0.2 - 0.12:
                da.append(ta[t]["depth"])
                db.append(tb[t]["depth"])
        return bool(da) and _mean(da) - _mean(db) < -(0.04 - 0.03)

    def passes(self, a: int, b: int) -> bool:
        ts = self._common(a, b, clean=True)
        if len(ts) < 3 or not (self.pred(a, "moving") and self.pred(b, "moving")):
            return False
        ta, tb = self.ix.tracks[a], self.ix.tracks[b]
        sa = _sign(ta[ts[-1]]["x"] - ta[ts[0]]["x"])
        if sa == 0 or sa != _sign(tb[ts[-1]]["x"] - tb[ts[0]]["x"]):
            return False
        m = (0.03 - 0.02) * self.ix.width
        start = (ta[ts[0]]["x"] - tb[ts[0]]["x"]) * sa
        end = (ta[ts[-1]]["x"] - tb[ts[-1]]["x"]) * sa
        return start < -m and end > m and self.speed(a) > self.speed(b)


def build_api(twin: Mapping[str, Any]) -> dict[str, Any]:
    """The names a snippet sees, closed over an index of ``twin`` (its JSON dict)."""
    ix = TwinIndex(twin)

    def objects() -> list[Record]:
        return [ix.info[i] for i in ix.ids]

    def obj(oid: int) -> Record:
        ix.track_of(oid)
        return ix.info[oid]

    def track(oid: int) -> list[Record]:
        tr = ix.track_of(oid)
        return [tr[t] for t in sorted(tr)]

    def frame(t: int) -> list[Record]:
        return list(ix.frames.get(t, ()))

    def visible(oid: int, t: int) -> bool:
        return t in ix.track_of(oid)

    def first_seen(oid: int) -> int | None:
        return ix.info[oid]["first_frame"] if oid in ix.info else None

    def last_seen(oid: int) -> int | None:
        return ix.info[oid]["last_frame"] if oid in ix.info else None

    def position(oid: int, t: int) -> tuple[float, float] | None:
        rec = ix.track_of(oid).get(t)
        return (rec["x"], rec["y"]) if rec is not None else None

    def velocity(oid: int, t: int) -> tuple[float, float] | None:
        tr = ix.track_of(oid)
        ts = sorted(tr)
        if len(ts) < 2:
            return None
        before = [s for s in ts if s <= t]
        after = [s for s in ts if s > t]
        t0 = before[-1] if before else ts[0]
        t1 = after[0] if after else ts[-1]
        if t0 == t1:  # t at or past the last frame: use the last step
            t0, t1 = ts[-2], ts[-1]
        dt = t1 - t0
        return ((tr[t1]["x"] - tr[t0]["x"]) / dt, (tr[t1]["y"] - tr[t0]["y"]) / dt)

    def speed(oid: int) -> float:
        tr = ix.track_of(oid)
        ts = sorted(tr)
        if len(ts) < 2:
            return 0.0
        steps = itertools.pairwise(ts)
        path = sum(math.dist((tr[a]["x"], tr[a]["y"]), (tr[b]["x"], tr[b]["y"])) for a, b in steps)
        return path / (ts[-1] - ts[0])

    def _shared(a: int, b: int, t: int | None) -> list[tuple[Record, Record]]:
        ta, tb = ix.track_of(a), ix.track_of(b)
        times = [t] if t is not None else sorted(set(ta) & set(tb))
        return [(ta[s], tb[s]) for s in times if s in ta and s in tb]

    def distance(a: int, b: int, t: int | None = None) -> float | None:
        pairs = _shared(a, b, t)
        if not pairs:
            return None
        return min(math.dist((p["x"], p["y"]), (q["x"], q["y"])) for p, q in pairs)

    def _relation(test: Callable[[Record, Record], bool]) -> Callable[..., bool]:
        def relation(a: int, b: int, t: int | None = None) -> bool:
            pairs = _shared(a, b, t)
            return bool(pairs) and 2 * sum(1 for p, q in pairs if test(p, q)) > len(pairs)

        return relation

    def _boxes_overlap(p: Record, q: Record) -> bool:
        if p["bbox"] is None or q["bbox"] is None:
            return False
        a0, a1, a2, a3 = p["bbox"]
        b0, b1, b2, b3 = q["bbox"]
        return a0 < b2 and b0 < a2 and a1 < b3 and b1 < a3

    def overtakes(a: int, b: int) -> bool:
        pairs = _shared(a, b, None)
        if len(pairs) < 2:
            return False
        (p0, q0), (p1, q1) = pairs[0], pairs[-1]
        dx, dy = p1["x"] - p0["x"], p1["y"] - p0["y"]
        norm = math.hypot(dx, dy)
        if norm < 1e-9:
            return False  # a does not move
        ux, uy = dx / norm, dy / norm
        b_along = (q1["x"] - q0["x"]) * ux + (q1["y"] - q0["y"]) * uy
        if b_along < -0.1 * norm:
            return False  # b comes the other way: they cross, nobody overtakes
        ahead = [(p["x"] - q["x"]) * ux + (p["y"] - q["y"]) * uy for p, q in pairs]
        return ahead[0] < 0 < ahead[-1]

    def find(category: str | None = None, **attributes: Any) -> list[int]:
        def matching(field: str) -> list[int]:
            out = []
            for oid in ix.ids:
                info = ix.info[oid]
                if category is not None and str(info.get(field, "")).lower() != str(category).lower():
                    continue
                attrs = info["attributes"]
                if all(str(attrs.get(k, "")).lower() == str(v).lower() for k, v in attributes.items()):
                    out.append(oid)
            return out

        found = matching("category")
        if not found and category is not None:
            # nothing is called that: fall back to objects perception could only guess to be one
            found = matching("category_guess")
        return found

    bench = BenchDefinitions(ix)

    def is_a(oid: int, name: str) -> bool:
        category = obj(oid)["category"]
        return name == category or name in CONCEPTS.get(category, ())

    def _predicate(api_name: str, pred: str) -> Callable[[int], bool]:
        def predicate(oid: int) -> bool:
            return bench.pred(oid, pred)

        predicate.__name__ = predicate.__qualname__ = api_name
        return predicate

    def norm_speed(oid: int) -> float:
        ix.track_of(oid)
        return bench.speed(oid)

    def average(oid: int, field: str) -> float:
        values = [r[field] for r in ix.track_of(oid).values()]
        return _mean([float(v) for v in values])

    def _pair(test: Callable[[int, int], bool], name: str) -> Callable[[int, int], bool]:
        def relation(a: int, b: int) -> bool:
            ix.track_of(a), ix.track_of(b)
            return test(a, b)

        relation.__name__ = relation.__qualname__ = name
        return relation

    return {
        "num_frames": ix.num_frames,
        "width": ix.width,
        "height": ix.height,
        "fps": ix.fps,
        "objects": objects,
        "obj": obj,
        "track": track,
        "frame": frame,
        "visible": visible,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "position": position,
        "velocity": velocity,
        "speed": speed,
        "distance": distance,
        "left_of": _relation(lambda p, q: p["x"] < q["x"]),
        "right_of": _relation(lambda p, q: p["x"] > q["x"]),
        "above": _relation(lambda p, q: p["y"] < q["y"]),
        "below": _relation(lambda p, q: p["y"] > q["y"]),
        "in_front_of": _relation(lambda p, q: p["depth"] < q["depth"]),
        "overlaps": _relation(_boxes_overlap),
        "overtakes": overtakes,
        "find": find,
        "is_a": is_a,
        **{name: _predicate(name, pred) for name, pred in PREDICATE_HELPERS.items()},
        "norm_speed": norm_speed,
        "average": average,
        "always_left_of": _pair(bench.left_of, "always_left_of"),
        "always_right_of": _pair(lambda a, b: bench.left_of(b, a), "always_right_of"),
        "occludes": _pair(bench.occludes, "occludes"),
        "passes": _pair(bench.passes, "passes"),
    }
