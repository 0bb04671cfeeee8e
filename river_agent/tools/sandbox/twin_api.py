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
        out = []
        for oid in ix.ids:
            info = ix.info[oid]
            if category is not None and info["category"].lower() != str(category).lower():
                continue
            attrs = info["attributes"]
            if all(str(attrs.get(k, "")).lower() == str(v).lower() for k, v in attributes.items()):
                out.append(oid)
        return out

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
    }
