"""Query grammars of RVE-Synth: (level, category) -> logic form + a natural-language phrasing.

Each family samples a logic form from the ground truth, phrases its noun phrase with one of many templates and
synonyms, and wraps it in an edit instruction. ``make_query`` keeps a candidate only when ``logic.resolve``
finds it unambiguous. Level-3 phrasings never name the target's kind or attributes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from river_agent.bench.logic import World, execute, resolve
from river_agent.bench.scene import PALETTE, PATTERNS
from river_agent.bench.shapes import KINDS

LEVELS = (1, 2, 3)
CATEGORIES = ("semantic", "spatial", "temporal")
ALL: dict[str, Any] = {"op": "all"}

THING = ["object", "thing", "item"]
KIND_WORDS = {
    "car": ["car", "car", "automobile", "sedan"],
    "truck": ["truck", "truck", "lorry"],
    "person": ["person", "person", "pedestrian", "figure"],
    "dog": ["dog", "dog", "pup", "hound"],
    "ball": ["ball", "ball"],
    "tree": ["tree", "tree"],
    "box": ["box", "box", "crate"],
}
PATTERN_WORDS = {
    "striped": ["striped", "stripy"],
    "dotted": ["dotted", "spotted", "polka-dot"],
    "plain": ["plain"],
}
SIZE_WORDS = {"small": ["small", "little"], "large": ["large", "big"], "medium": ["medium-sized"]}
CONCEPT_WORDS = {
    "vehicle": ["vehicle", "vehicle", "thing on wheels"],
    "living": ["living thing", "living being"],
    "animal": ["animal", "four-legged creature"],
    "toy": ["toy", "plaything"],
    "plant": ["plant"],
    "container": ["container"],
    "walker": ["walker", "thing that walks"],
}
# level-3 references by function or context (never the kind's name)
FUNCTION_WORDS = {
    "car": ["the thing someone would drive to work", "the family runabout", "the passenger vehicle"],
    "truck": ["the thing that hauls freight", "the delivery vehicle", "the heavy hauler"],
    "person": ["the human", "the only one who could read a book", "the one on two legs"],
    "dog": ["the thing that barks", "the family pet", "the one that wags its tail"],
    "ball": ["the thing you would kick around", "the round plaything", "what a child would throw"],
    "tree": ["what gives shade", "the thing with leaves", "what birds nest in"],
    "box": ["what the parcel came in", "the cardboard container", "what you would pack things into"],
}
PRED_CLAUSES = {
    "stops": ["that comes to a stop", "that stops", "that comes to a halt", "that pulls up and stays put"],
    "enters": ["that enters the scene", "that comes into view", "that shows up partway through", "that arrives"],
    "leaves": ["that leaves the frame", "that goes out of view", "that exits the picture", "that departs"],
    "reappears": ["that disappears and comes back", "that leaves and then returns", "that reappears"],
    "accelerates": ["that speeds up", "that accelerates", "that goes faster and faster"],
    "bounces": ["that bounces", "that keeps hopping up and down", "that bounces along"],
    "turns": ["that turns around", "that makes a U-turn", "that reverses direction"],
    "static": ["that never moves", "that stays still", "that stands still the whole time"],
}
REL_CLAUSES = {
    "left_of": ["to the left of {ref}", "left of {ref}", "on the left side of {ref}"],
    "right_of": ["to the right of {ref}", "right of {ref}", "on the right side of {ref}"],
    "in_front_of": ["in front of {ref}", "that passes in front of {ref}", "that partly hides {ref}"],
    "behind": ["behind {ref}", "that is hidden behind {ref}", "that goes behind {ref}"],
    "overtakes": ["that overtakes {ref}", "that passes {ref}", "that gets ahead of {ref}"],
    "appears_after": [
        "that shows up after {ref} has gone",
        "that appears once {ref} has left",
        "that arrives after {ref} is gone",
    ],
}
SUPERLATIVES = {
    ("argmin", "depth"): ["nearest", "closest", "front-most"],
    ("argmax", "depth"): ["farthest", "most distant"],
    ("argmax", "size"): ["biggest", "largest"],
    ("argmin", "size"): ["smallest", "tiniest"],
    ("argmin", "x"): ["leftmost", "left-most"],
    ("argmax", "x"): ["rightmost", "right-most"],
    ("argmax", "speed"): ["fastest", "quickest"],
    ("argmin", "first"): ["first-appearing", "earliest"],
}
SAME_CLAUSES = {
    "color": [
        "that has the same colour as {ref}",
        "that matches the colour of {ref}",
        "that shares a colour with {ref}",
    ],
    "pattern": [
        "that has the same pattern as {ref}",
        "that is patterned like {ref}",
        "that carries the same surface pattern as {ref}",
    ],
}


@dataclass
class QueryDraft:
    """A candidate query before the edit instruction is added."""

    logic: dict[str, Any]
    np: str  # noun phrase that designates the target ("the red car")
    singular: bool = True


Family = Callable[[np.random.Generator, World], QueryDraft | None]


def _pick(rng: np.random.Generator, seq: list) -> Any:
    return seq[int(rng.integers(len(seq)))]


def _kind_np(rng: np.random.Generator, kind: str) -> str:
    return _pick(rng, KIND_WORDS.get(kind, [kind]))


def _ref_np(rng: np.random.Generator, w: World, ref_id: int) -> tuple[dict, str]:
    """A reference to one object by its kind (and colour when the kind alone is not unique)."""
    tr = w.tracks[ref_id]
    by_kind = {"op": "filter", "where": {"category": tr.category}}
    if len(execute(by_kind, w)) == 1:
        return by_kind, f"the {_kind_np(rng, tr.category)}"
    by_color = {"op": "filter", "where": {"category": tr.category, "color": tr.attributes["color"]}}
    return by_color, f"the {tr.attributes['color']} {_kind_np(rng, tr.category)}"


def _function_ref(rng: np.random.Generator, w: World, ref_id: int) -> tuple[dict, str] | None:
    """A level-3 reference: by function, valid only when the kind is unique in the scene."""
    tr = w.tracks[ref_id]
    logic = {"op": "filter", "where": {"category": tr.category}}
    if len(execute(logic, w)) != 1:
        return None
    return logic, _pick(rng, FUNCTION_WORDS[tr.category])


def _ids(w: World) -> list[int]:
    return sorted(w.tracks)


# ---------------------------------------------------------------------------------------------- level 1
def l1_semantic(rng: np.random.Generator, w: World) -> QueryDraft | None:
    t = w.tracks[_pick(rng, _ids(w))]
    kind = t.category
    variant = int(rng.integers(5))
    if variant == 4:  # plural: every object of a colour
        color = t.attributes["color"]
        logic = {"op": "filter", "where": {"color": color}}
        phr = _pick(rng, [f"all the {color} objects", f"every {color} thing", f"everything that is {color}"])
        return QueryDraft(logic, phr, singular=False)
    attr = ["color", "pattern", "size", "color"][variant]
    val = t.attributes[attr]
    if attr == "pattern" and val == "plain":
        attr, val = "color", t.attributes["color"]
    if attr == "size" and val == "medium":
        attr, val = "color", t.attributes["color"]
    logic = {"op": "filter", "where": {"category": kind, attr: val}}
    k = _kind_np(rng, kind)
    if attr == "color":
        phr = _pick(
            rng, [f"the {val} {k}", f"the {k} that is {val}", f"that {val} {k}", f"the {val}-coloured {k}"]
        )
    elif attr == "pattern":
        pw = _pick(rng, PATTERN_WORDS[val])
        phr = _pick(rng, [f"the {pw} {k}", f"the {k} with {'stripes' if val == 'striped' else 'dots'}"])
    else:
        sw = _pick(rng, SIZE_WORDS[val])
        phr = _pick(rng, [f"the {sw} {k}", f"the {k} that is {sw}"])
    return QueryDraft(logic, phr)


def l1_spatial(rng: np.random.Generator, w: World) -> QueryDraft | None:
    op, key = _pick(
        rng,
        [
            ("argmin", "depth"),
            ("argmax", "depth"),
            ("argmax", "size"),
            ("argmin", "x"),
            ("argmax", "x"),
            ("argmin", "size"),
        ],
    )
    if rng.random() < 0.6:
        kind = w.tracks[_pick(rng, _ids(w))].category
        of = {"op": "filter", "where": {"category": kind}}
        if len(execute(of, w)) < 2:
            noun_of = of  # a superlative over one object is still one step; phrase it over all objects instead
            of, noun = ALL, _pick(rng, THING)
            _ = noun_of
        else:
            noun = _kind_np(rng, kind)
    else:
        of, noun = ALL, _pick(rng, THING)
    sup = _pick(rng, SUPERLATIVES[(op, key)])
    extra = " to the camera" if key == "depth" and op == "argmin" and rng.random() < 0.5 else ""
    return QueryDraft({"op": op, "key": key, "of": of}, f"the {sup} {noun}{extra}")


def l1_temporal(rng: np.random.Generator, w: World) -> QueryDraft | None:
    t = w.tracks[_pick(rng, _ids(w))]
    pred = _pick(rng, list(PRED_CLAUSES))
    logic = {"op": "pred", "pred": pred, "of": {"op": "filter", "where": {"category": t.category}}}
    return QueryDraft(logic, f"the {_kind_np(rng, t.category)} {_pick(rng, PRED_CLAUSES[pred])}")


# ---------------------------------------------------------------------------------------------- level 2
def l2_semantic(rng: np.random.Generator, w: World) -> QueryDraft | None:
    if rng.random() < 0.5:  # concept + attribute: "the green vehicle"
        t = w.tracks[_pick(rng, _ids(w))]
        concepts = [c for c in KINDS[t.category].concepts if c in CONCEPT_WORDS]
        if not concepts:
            return None
        c = _pick(rng, concepts)
        attr = "color" if t.attributes["pattern"] == "plain" or rng.random() < 0.6 else "pattern"
        val = t.attributes[attr]
        word = val if attr == "color" else _pick(rng, PATTERN_WORDS[val])
        logic = {"op": "filter", "where": {attr: val}, "of": {"op": "concept", "concept": c}}
        return QueryDraft(logic, f"the {word} {_pick(rng, CONCEPT_WORDS[c])}")
    # same attribute as a reference object
    ref_id = _pick(rng, _ids(w))
    ref_logic, ref_np = _ref_np(rng, w, ref_id)
    attr = _pick(rng, ["color", "pattern"])
    kind = w.tracks[_pick(rng, _ids(w))].category
    of = {"op": "filter", "where": {"category": kind}}
    logic = {"op": "same", "attr": attr, "ref": ref_logic, "of": of}
    return QueryDraft(logic, f"the {_kind_np(rng, kind)} {_pick(rng, SAME_CLAUSES[attr]).format(ref=ref_np)}")


def l2_spatial(rng: np.random.Generator, w: World) -> QueryDraft | None:
    ref_id = _pick(rng, _ids(w))
    ref_logic, ref_np = _ref_np(rng, w, ref_id)
    rel = _pick(rng, ["left_of", "right_of", "in_front_of", "behind"])
    if rng.random() < 0.5:
        kind = w.tracks[_pick(rng, _ids(w))].category
        of, noun = {"op": "filter", "where": {"category": kind}}, _kind_np(rng, kind)
    else:
        of, noun = ALL, _pick(rng, THING)
    clause = _pick(rng, REL_CLAUSES[rel]).format(ref=ref_np)
    return QueryDraft({"op": "rel", "rel": rel, "ref": ref_logic, "of": of}, f"the {noun} {clause}")


def l2_temporal(rng: np.random.Generator, w: World) -> QueryDraft | None:
    ref_id = _pick(rng, _ids(w))
    ref_logic, ref_np = _ref_np(rng, w, ref_id)
    rel = _pick(rng, ["overtakes", "appears_after", "overtakes"])
    if rng.random() < 0.6:
        kind = w.tracks[_pick(rng, _ids(w))].category
        of, noun = {"op": "filter", "where": {"category": kind}}, _kind_np(rng, kind)
    else:
        of, noun = ALL, _pick(rng, THING)
    clause = _pick(rng, REL_CLAUSES[rel]).format(ref=ref_np)
    return QueryDraft({"op": "rel", "rel": rel, "ref": ref_logic, "of": of}, f"the {noun} {clause}")


# ---------------------------------------------------------------------------------------------- level 3
WHATEVER = ["whatever", "the thing", "the one", "whichever object"]


def _l3_np(rng: np.random.Generator, clause: str) -> str:
    """'whatever is left of X' / 'the thing that is left of X'."""
    head = _pick(rng, WHATEVER)
    if not clause.startswith("that "):
        clause = "that is " + clause
    if head in ("whatever", "whichever object"):
        clause = clause.removeprefix("that ")
    return f"{head} {clause}"


def _l3_ref(rng: np.random.Generator, w: World) -> tuple[dict, str] | None:
    """A multi-hop reference: by function, by a superlative or by a temporal property over all objects."""
    choice = int(rng.integers(3))
    if choice == 0:
        return _function_ref(rng, w, _pick(rng, _ids(w)))
    if choice == 1:
        op, key = _pick(rng, [("argmin", "depth"), ("argmax", "size"), ("argmax", "speed"), ("argmax", "depth")])
        phr = {
            ("argmin", "depth"): "the thing nearest to the camera",
            ("argmax", "size"): "the biggest thing",
            ("argmax", "speed"): "the fastest mover",
            ("argmax", "depth"): "the most distant thing",
        }[(op, key)]
        return {"op": op, "key": key, "of": ALL}, phr
    pred = _pick(rng, ["stops", "enters", "leaves", "accelerates", "bounces", "turns"])
    return {"op": "pred", "pred": pred, "of": ALL}, f"the one {_pick(rng, PRED_CLAUSES[pred])}"


def l3_semantic(rng: np.random.Generator, w: World) -> QueryDraft | None:
    ref = _function_ref(rng, w, _pick(rng, _ids(w))) if rng.random() < 0.6 else _l3_ref(rng, w)
    if ref is None:
        return None
    attr = _pick(rng, ["color", "pattern", "color"])
    logic = {"op": "same", "attr": attr, "ref": ref[0], "of": ALL}
    return QueryDraft(logic, _l3_np(rng, _pick(rng, SAME_CLAUSES[attr]).format(ref=ref[1])))


def l3_spatial(rng: np.random.Generator, w: World) -> QueryDraft | None:
    ref = _l3_ref(rng, w)
    if ref is None:
        return None
    rel = _pick(rng, ["left_of", "right_of", "in_front_of", "behind"])
    clause = _pick(rng, REL_CLAUSES[rel]).format(ref=ref[1])
    return QueryDraft({"op": "rel", "rel": rel, "ref": ref[0], "of": ALL}, _l3_np(rng, clause))


def l3_temporal(rng: np.random.Generator, w: World) -> QueryDraft | None:
    if rng.random() < 0.3:  # superlative over a temporal set: "the fastest of the things that arrive"
        pred = _pick(rng, ["enters", "leaves", "moving"])
        clause = {
            "enters": "the ones that arrive",
            "leaves": "the ones that leave",
            "moving": "the things in motion",
        }[pred]
        op, key = _pick(rng, [("argmax", "speed"), ("argmin", "depth"), ("argmin", "first")])
        head = {
            ("argmax", "speed"): "the fastest",
            ("argmin", "depth"): "the nearest",
            ("argmin", "first"): "the earliest",
        }[(op, key)]
        return QueryDraft(
            {"op": op, "key": key, "of": {"op": "pred", "pred": pred, "of": ALL}}, f"{head} of {clause}"
        )
    ref = _l3_ref(rng, w)
    if ref is None:
        return None
    rel = _pick(rng, ["overtakes", "appears_after"])
    clause = _pick(rng, REL_CLAUSES[rel]).format(ref=ref[1])
    return QueryDraft({"op": "rel", "rel": rel, "ref": ref[0], "of": ALL}, _l3_np(rng, clause))


FAMILIES: dict[tuple[int, str], Family] = {
    (1, "semantic"): l1_semantic,
    (1, "spatial"): l1_spatial,
    (1, "temporal"): l1_temporal,
    (2, "semantic"): l2_semantic,
    (2, "spatial"): l2_spatial,
    (2, "temporal"): l2_temporal,
    (3, "semantic"): l3_semantic,
    (3, "spatial"): l3_spatial,
    (3, "temporal"): l3_temporal,
}


# ---------------------------------------------------------------------------------------------- edits
def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def sample_edit(rng: np.random.Generator, op: str, target_attrs: dict[str, str], kind: str) -> dict[str, Any]:
    """Edit parameters for ``op`` that actually change the target."""
    if op == "recolor":
        color = _pick(rng, [c for c in PALETTE if c != target_attrs.get("color")])
        return {"op": "recolor", "color": color, "rgb": list(PALETTE[color])}
    if op == "remove":
        return {"op": "remove"}
    if op == "move":
        dx, dy = _pick(rng, [(-0.15, 0.0), (0.15, 0.0), (0.0, -0.1), (0.0, 0.08), (0.12, -0.06), (-0.12, 0.06)])
        return {"op": "move", "dx": dx, "dy": dy}
    if op == "resize":
        return {"op": "resize", "scale": _pick(rng, [0.6, 1.5, 1.4, 0.7])}
    if op == "restyle":
        # patterns only (a classical renderer can draw them; "plain" would need the hidden base colour)
        styles = [p for p in PATTERNS if p not in ("plain", target_attrs.get("pattern"))]
        return {"op": "restyle", "style": _pick(rng, styles)}
    if op == "replace":
        return {"op": "replace", "category": _pick(rng, [k for k in KINDS if k not in (kind, "tree")])}
    raise ValueError(f"unknown edit op {op!r}")


def _direction(dx: float, dy: float) -> str:
    parts = []
    if dx:
        parts.append("to the right" if dx > 0 else "to the left")
    if dy:
        parts.append("down" if dy > 0 else "up")
    return " and ".join(parts)


def phrase_edit(rng: np.random.Generator, edit: dict[str, Any], np_: str, singular: bool = True) -> str:
    """An instruction applying ``edit`` to the noun phrase."""
    op = edit["op"]
    it = np_
    be = "is" if singular else "are"
    if op == "remove":
        t = _pick(
            rng,
            [
                "Remove {np}.",
                "Erase {np} from the video.",
                "Get rid of {np}.",
                "Delete {np}.",
                "{Np} should not be there any more.",
                "Make {np} disappear.",
                "Take out {np}.",
            ],
        )
    elif op == "recolor":
        c = edit["color"]
        t = _pick(
            rng,
            [
                f"Make {{np}} {c}.",
                f"Paint {{np}} {c}.",
                f"Turn {{np}} {c}.",
                f"Recolour {{np}} to {c}.",
                f"Change the colour of {{np}} to {c}.",
                f"{{Np}} should be {c}.",
            ],
        )
    elif op == "move":
        d = _direction(edit["dx"], edit["dy"])
        t = _pick(
            rng,
            [
                f"Move {{np}} {d}.",
                f"Shift {{np}} {d}.",
                f"Push {{np}} a bit {d}.",
                f"{{Np}} should sit a little further {d}.",
            ],
        )
    elif op == "resize":
        big = edit["scale"] > 1
        t = _pick(
            rng,
            ["Make {np} bigger.", "Enlarge {np}.", "Scale {np} up."]
            if big
            else ["Make {np} smaller.", "Shrink {np}.", "Scale {np} down."],
        )
    elif op == "restyle":
        s = edit["style"]
        t = {
            "striped": _pick(rng, ["Give {np} stripes.", "Paint stripes on {np}.", "Make {np} striped."]),
            "dotted": _pick(rng, ["Cover {np} with dots.", "Give {np} polka dots.", "Make {np} spotted."]),
            "plain": _pick(
                rng, ["Make {np} plain.", "Remove the pattern from {np}.", "Give {np} a plain finish."]
            ),
        }[s]
    elif op == "replace":
        k = edit["category"]
        t = _pick(rng, [f"Replace {{np}} with a {k}.", f"Turn {{np}} into a {k}.", f"Swap {{np}} for a {k}."])
    else:
        raise ValueError(op)
    _ = (it, be)
    return t.replace("{Np}", _cap(np_)).replace("{np}", np_)


def make_query(
    rng: np.random.Generator, world: World, level: int, category: str, tries: int = 40
) -> tuple[QueryDraft, set[int]] | None:
    """An unambiguous query draft for one (level, category) cell, or None after ``tries`` attempts."""
    family = FAMILIES[(level, category)]
    for _ in range(tries):
        draft = family(rng, world)
        if draft is None:
            continue
        target = resolve(draft.logic, world, singular=draft.singular)
        if target is None:
            continue
        if not draft.singular and len(target) < 2:
            continue  # "all the red objects" must mean more than one, or it reads oddly
        return draft, target
    return None
