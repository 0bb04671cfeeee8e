"""What a request states outright about an edit's parameters, and edits that contradict it.

Small policies pick the right object and op and then write ``"dy": 0.08`` (down) for "move it up", or a scale
of 0.7 for "enlarge". The direction of a move and whether a resize grows or shrinks are said in so many words
in most requests; this module reads them (a small English lexicon, not a model) and turns an op that
contradicts them into one that agrees, keeping the policy's magnitudes. Words that only describe the object
("the car to the left of the truck", "the one that pulls up", "the bigger dog") are not read as parameters.
When a request says nothing, or says both ("left ... right"), nothing is changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# descriptive uses of direction words: relations, superlatives, phrasal verbs and motion described in a clause
_REFERENT_PATTERNS = [
    r"\b(?:to|on|at)\s+the\s+(?:left|right)(?:[- ]hand)?(?:\s+side)?\s+of\b",
    r"\b(?:left|right)(?:[- ]hand)?(?:\s+side)?\s+of\b",
    r"\b(?:left|right|top|bottom|upper|lower)[- ]?most\b",
    r"\bon\s+the\s+(?:left|right)\b",
    r"(?<!\bto )(?<!\btowards )(?<!\btoward )\b(?:the|a|an)\s+(?:left|right)\s+"
    r"(?!and\b|of\b|side\b|hand\b)(?=[a-z])",
    r"\b(?:above|below|over|under|beneath)\b",
    r"\bupside[- ]down\b",
    r"\b(?:the|a|an)\s+(?:upper|lower|higher)\b",
    r"\b(?:pull|pulls|pulled|pulling|speed|speeds|sped|speeding|slow|slows|slowed|slowing|come|comes|came|"
    r"coming|show|shows|showed|showing|pick|picks|picked|picking|end|ends|ended|ending|wind|winds|wound|"
    r"winding|settle|settles|settled|settling|break|breaks|broke|breaking|line|lines|lined|lining|calm|calms|"
    r"calmed|warm|warms|warmed|touch|touches|touched|sit|sits|sat|sitting|lie|lies|lay|lying|lit|light|"
    r"lights|powers|powered|powering|shuts|shut|shutting|looks|looked|looking|bends|bent|bending)\s+(?:up|down)\b",
    r"\b(?:moves|moving|moved|goes|going|went|gone|heads|heading|headed|drives|driving|drove|runs|running|ran|"
    r"walks|walking|walked|travels|travelling|traveling|travelled|traveled|rolls|rolling|rolled|turns|turning|"
    r"turned|flies|flying|flew|swerves|swerving|swerved|veers|veering|veered|drifts|drifting|drifted|faces|"
    r"facing|faced|points|pointing|pointed|leans|leaning|leaned|jumps|jumping|jumped|climbs|climbing|climbed|"
    r"falls|falling|fell|sinks|sinking|sank|rises|rising|rose|bounces|bouncing|bounced|crosses|crossing|"
    r"crossed|steers|steering|steered|slides|sliding|slid|comes|coming|came)\s+"
    r"(?:(?:off\s+)?(?:to|towards?)\s+the\s+)?(?:left|right|up|down)(?:wards?)?\b",
]
_REFERENT = re.compile("|".join(f"(?:{p})" for p in _REFERENT_PATTERNS))
_RIGHT = re.compile(r"\bright(?:wards?)?\b|\beast(?:wards?)?\b")
_LEFT = re.compile(r"\bleft(?:wards?)?\b|\bwest(?:wards?)?\b")
_UP = re.compile(r"\bup(?:wards?)?\b|\bhigher\b|\b(?:to|towards?)\s+the\s+top\b|^\s*(?:raise|lift)\b")
_DOWN = re.compile(r"\bdown(?:wards?)?\b|\blower\b|\b(?:to|towards?)\s+the\s+bottom\b")

_SIZE_REFERENT = re.compile(
    r"\b(?:the|a|an)\s+(?:bigger|larger|smaller|tinier|taller|shorter)\b|\b(?:grows|growing|grew|shrinks|"
    r"shrinking|shrank|gets\s+(?:bigger|larger|smaller)|getting\s+(?:bigger|larger|smaller))\b"
)
_GROW = re.compile(
    r"\b(?:enlarge|enlarged|bigger|larger|grow|magnify|expand|double|taller|wider|"
    r"scale\b[^.;]*?\bup|blow\b[^.;]*?\bup|increase\s+(?:the\s+|its\s+)?size|upscale|"
    r"twice\s+(?:as\s+(?:big|large)|the\s+size)|\d+\s*x\s+(?:as\s+)?(?:big|large))\b"
)
_SHRINK = re.compile(
    r"\b(?:shrink|shrunk|smaller|tinier|reduce|halve|miniaturi[sz]e|shorter|narrower|"
    r"scale\b[^.;]*?\bdown|decrease\s+(?:the\s+|its\s+)?size|downscale|"
    r"half\s+(?:as\s+(?:big|large)|the\s+size|its\s+size))\b"
)

DEFAULT_SHIFT = 0.1
"""Move on a stated axis, as a fraction of the frame, when the policy moved 0 along it."""
DEFAULT_GROW, DEFAULT_SHRINK = 1.5, 0.67
"""Resize factor when the request states the way and the policy wrote a scale of 1."""


@dataclass(frozen=True)
class StatedParams:
    """Signs the request states: ``dx``/``dy`` of a move (+1 right/down, -1 left/up, 0 not moved along that
    axis; None when no direction is stated) and ``grow`` of a resize (+1 bigger, -1 smaller, None)."""

    dx: int | None = None
    dy: int | None = None
    grow: int | None = None


def _sign(pos: bool, neg: bool) -> int | None:
    if pos == neg:
        return None  # neither, or both ("left ... right"): unknown
    return 1 if pos else -1


def stated_params(query: str) -> StatedParams:
    """The move direction and resize way the request states outright (see the module docstring)."""
    text = " ".join(query.lower().replace("’", "'").split())
    moves = _REFERENT.sub(" ", text)
    sx = _sign(bool(_RIGHT.search(moves)), bool(_LEFT.search(moves)))
    sy = _sign(bool(_DOWN.search(moves)), bool(_UP.search(moves)))
    dx: int | None
    dy: int | None
    if sx is None and sy is None:
        dx = dy = None
    else:  # an axis the request does not name is one the object does not move along
        dx, dy = sx or 0, sy or 0
    sizes = _SIZE_REFERENT.sub(" ", moves)
    grow = _sign(bool(_GROW.search(sizes)), bool(_SHRINK.search(sizes)))
    return StatedParams(dx=dx, dy=dy, grow=grow)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _signed(value: float, sign: int) -> float:
    if sign == 0:
        return 0.0
    return sign * (abs(value) if value else DEFAULT_SHIFT)


def ground_op(op: dict[str, Any], stated: StatedParams) -> tuple[dict[str, Any], str | None]:
    """``op`` made to agree with what the request states, and a note of what changed (None: unchanged)."""
    kind = op.get("op")
    if kind == "move" and stated.dx is not None and stated.dy is not None:
        dx, dy = _num(op.get("dx", 0.0)), _num(op.get("dy", 0.0))
        if dx is None or dy is None:
            return op, None  # malformed numbers: the ops validation reports them
        new = (_signed(dx, stated.dx), _signed(dy, stated.dy))
        if new == (dx, dy):
            return op, None
        return {**op, "dx": new[0], "dy": new[1]}, f"move ({dx:g}, {dy:g}) -> ({new[0]:g}, {new[1]:g})"
    if kind == "resize" and stated.grow is not None:
        scale = _num(op.get("scale"))
        if scale is None or scale <= 0 or (scale != 1 and (scale > 1) == (stated.grow > 0)):
            return op, None  # agrees already (or malformed: the ops validation reports it)
        default = DEFAULT_GROW if stated.grow > 0 else DEFAULT_SHRINK
        new_scale = default if scale == 1 else round(1.0 / scale, 2)
        return {**op, "scale": new_scale}, f"resize {scale:g} -> {new_scale:g}"
    return op, None


def ground_ops(ops: list[dict[str, Any]], query: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Every op made to agree with the request's stated parameters, and one note per changed op."""
    stated = stated_params(query)
    out, notes = [], []
    for op in ops:
        new, note = ground_op(op, stated)
        out.append(new)
        if note:
            notes.append(f"op {op.get('id', '?')}: {note}")
    return out, notes
