"""Tolerant parsing of the rollout's tag format: <think> ... <execute> ... <results> ... <edit>.

Models deviate: R1-style templates put ``<think>`` in the prompt (the completion lacks the opening tag), litellm
may move a leading think block into ``reasoning_content``, closing tags go missing, code comes wrapped in
Markdown fences, JSON comes with trailing junk or Python quoting. Each deviation is repaired where possible and
recorded with a short tag, since that is what the format reward (R_token) scores.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from river_agent.trace import Block, Deviation

TAGS = ("think", "execute", "results", "edit", "target")
_TAG_RE = re.compile(r"<(/?)(think|execute|results|edit|target|answer)\s*>", re.IGNORECASE)
_FENCE_RE = re.compile(r"^\s*```[a-zA-Z0-9_+-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
ACTION_STOPS = ("</execute>", "</edit>")


def _dev(tag: str, detail: str, turn: int) -> Deviation:
    return Deviation(tag=tag, detail=detail[:200], turn=turn)


# --------------------------------------------------------------------------------------------- one generation
@dataclass
class TurnParse:
    """How one policy generation ends: the text kept in the transcript and the action it asks for."""

    text: str
    action: str  # execute | edit | think_done | none
    code: str | None = None
    edit_text: str | None = None
    deviations: list[Deviation] = field(default_factory=list)


def normalise_completion(
    text: str,
    finish_reason: str | None,
    stop_sequence: str | None,
    reasoning: str | None = None,
    think_open: bool = False,
    turn: int = 0,
) -> tuple[str, list[Deviation]]:
    """Put back what backends strip: a matched stop string, a think block moved into ``reasoning``."""
    devs: list[Deviation] = []
    if reasoning:
        devs.append(_dev("reasoning_content", "think block arrived in reasoning_content", turn))
        text = (reasoning + "</think>" if think_open else f"<think>{reasoning}</think>") + text
    if stop_sequence and not text.endswith(stop_sequence):
        text += stop_sequence
    return text, devs


def _open_tag_before(text: str, end: int) -> str | None:
    """The innermost tag opened and not closed before position ``end``."""
    stack: list[str] = []
    for m in _TAG_RE.finditer(text, 0, end):
        name = m.group(2).lower()
        if m.group(1):
            if stack and stack[-1] == name:
                stack.pop()
        else:
            stack.append(name)
    return stack[-1] if stack else None


def split_turn(
    text: str,
    finish_reason: str | None,
    stops: tuple[str, ...] = ACTION_STOPS,
    turn: int = 0,
    opened: str | None = None,
) -> TurnParse:
    """Find the action a generation ends with; cut what follows it (a backend that ignored the stop strings).

    ``opened`` names a tag the harness already opened before this generation (e.g. an injected ``<edit>``).
    """
    if opened:
        head = f"<{opened}>"
        res = split_turn(head + text, finish_reason, stops, turn)
        res.text = res.text[len(head) :]
        return res
    devs: list[Deviation] = []
    low = text.lower()
    # a model that writes its own <results> is hallucinating tool output: cut it
    res = low.find("<results>")
    first_stop = min((low.find(s) for s in stops if s in low), default=-1)
    if res != -1 and (first_stop == -1 or res < first_stop):
        devs.append(_dev("model_wrote_results", "the policy wrote a <results> block itself; cut", turn))
        text, low = text[:res], low[:res]
        first_stop = min((low.find(s) for s in stops if s in low), default=-1)
    if first_stop != -1:
        stop = next(s for s in stops if low.find(s) == first_stop)
        end = first_stop + len(stop)
        if text[end:].strip():
            devs.append(_dev("text_after_action", f"ignored {len(text) - end} chars after {stop}", turn))
        text = text[:end]
        name = stop[2:-1]
        if name == "think":
            return TurnParse(text=text, action="think_done", deviations=devs)
        body, open_missing = _last_body(text, name, end - len(stop))
        if open_missing:
            devs.append(_dev(f"missing_open_{name}", f"</{name}> without <{name}>", turn))
        if name == "execute":
            code, cdevs = extract_code(body, turn)
            return TurnParse(text=text, action="execute", code=code, deviations=devs + cdevs)
        return TurnParse(text=text, action="edit", edit_text=body, deviations=devs)
    # no closing action tag: an unclosed <edit> or <execute> at the end still counts
    open_tag = _open_tag_before(text, len(text))
    if open_tag in ("edit", "execute"):
        start = low.rfind(f"<{open_tag}")
        body = text[text.index(">", start) + 1 :]
        why = "cut by the token limit" if finish_reason == "length" else "never closed"
        devs.append(_dev(f"unclosed_{open_tag}", f"<{open_tag}> {why}", turn))
        text = text + f"</{open_tag}>"
        if open_tag == "execute":
            code, cdevs = extract_code(body, turn)
            return TurnParse(text=text, action="execute", code=code, deviations=devs + cdevs)
        return TurnParse(text=text, action="edit", edit_text=body, deviations=devs)
    why = "token limit reached" if finish_reason == "length" else "ended"
    devs.append(_dev("no_action", f"generation {why} without <execute> or <edit>", turn))
    return TurnParse(text=text, action="none", deviations=devs)


def _last_body(text: str, name: str, close_at: int) -> tuple[str, bool]:
    start = text.lower().rfind(f"<{name}", 0, close_at)
    if start == -1:
        # take what follows the previous closing tag
        prev = max((m.end() for m in _TAG_RE.finditer(text, 0, close_at)), default=0)
        return text[prev:close_at], True
    return text[text.index(">", start) + 1 : close_at], False


def extract_code(body: str, turn: int = 0) -> tuple[str, list[Deviation]]:
    """The Python inside <execute>, without Markdown fences."""
    devs: list[Deviation] = []
    m = _FENCE_RE.match(body)
    if m:
        devs.append(_dev("code_fence", "code wrapped in ``` fences", turn))
        body = m.group(1)
    elif "```" in body:
        devs.append(_dev("code_fence", "stray ``` in code", turn))
        body = "\n".join(line for line in body.splitlines() if not line.strip().startswith("```"))
    return body.strip("\n"), devs


# ------------------------------------------------------------------------------------------- the <edit> body
@dataclass
class EditParse:
    """Edit ops (preferred) or a whole edited twin (the paper's form), or why neither could be read."""

    ops: list[dict[str, Any]] | None = None
    twin: dict[str, Any] | None = None
    error: str | None = None
    deviations: list[Deviation] = field(default_factory=list)


def _decode_json(text: str, turn: int) -> tuple[Any, list[Deviation], str | None]:
    devs: list[Deviation] = []
    s = text.strip()
    m = _FENCE_RE.match(s)
    if m:
        devs.append(_dev("json_fence", "edit JSON wrapped in ``` fences", turn))
        s = m.group(1).strip()
    if not s:
        return None, devs, "the <edit> block is empty"
    try:
        return json.loads(s), devs, None
    except json.JSONDecodeError:
        pass
    starts = [i for i in (s.find("["), s.find("{")) if i != -1]
    if not starts:
        return None, devs, "no JSON array or object in <edit>"
    start = min(starts)
    if start > 0:
        devs.append(_dev("json_leading_text", s[:start], turn))
    try:
        value, end = json.JSONDecoder().raw_decode(s, start)
        if s[end:].strip():
            devs.append(_dev("json_trailing_text", s[end:], turn))
        return value, devs, None
    except json.JSONDecodeError as exc:
        err = f"edit is not valid JSON: {exc.msg} at column {exc.colno}"
    # Python literal (single quotes, True/None)?
    for end in range(len(s), start, -1):
        if s[end - 1] not in "]}":
            continue
        try:
            value = ast.literal_eval(s[start:end])
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        devs.append(_dev("python_literal", "edit written as a Python literal, not JSON", turn))
        return value, devs, None
    return None, devs, err


def parse_edit(text: str, turn: int = 0) -> EditParse:
    """Read the body of <edit>: a list of ops, one op, {"ops": [...]}, or a whole twin with "frames"."""
    value, devs, err = _decode_json(text, turn)
    if err is not None:
        return EditParse(error=err, deviations=devs)
    if isinstance(value, dict):
        if "frames" in value:
            return EditParse(twin=value, deviations=devs)
        if isinstance(value.get("ops"), list):
            devs.append(_dev("ops_wrapped", 'ops given as {"ops": [...]}', turn))
            value = value["ops"]
        elif "op" in value:
            devs.append(_dev("single_op", "one op given as an object, not a list", turn))
            value = [value]
        else:
            return EditParse(error="edit object has neither 'op', 'ops' nor 'frames'", deviations=devs)
    if isinstance(value, list) and value and all(isinstance(f, dict) and "instances" in f for f in value):
        devs.append(_dev("frames_list", "whole twin given as a bare list of frames", turn))
        return EditParse(twin={"frames": value}, deviations=devs)
    if not isinstance(value, list):
        return EditParse(error=f"edit must be a list of ops, got {type(value).__name__}", deviations=devs)
    if not value:
        return EditParse(error="edit is an empty list of ops", deviations=devs)
    if not all(isinstance(v, dict) for v in value):
        return EditParse(error="every edit op must be a JSON object", deviations=devs)
    return EditParse(ops=[_reconcile_colour(op, devs, turn) for op in value], deviations=devs)


_SHADE_TOLERANCE = 120  # RGB distance within which a given rgb counts as a shade of the named colour


def _reconcile_colour(op: dict[str, Any], devs: list[Deviation], turn: int) -> dict[str, Any]:
    """A recolour whose ``rgb`` is far from the colour it names, and nearer another, keeps the name.

    Small policies write the colour's name from the request and guess its RGB ("green", [235, 120, 175]); the
    renderer would paint the guess. The name is what the request said, so the RGB is dropped (the renderer then
    uses the name's palette value) and the disagreement is recorded as a deviation.
    """
    from river_agent.tools.render.palette import PALETTE, RenderError, color_rgb

    rgb = op.get("rgb")
    if op.get("op") != "recolor" or not isinstance(op.get("color"), str) or not isinstance(rgb, list | tuple):
        return op
    try:
        named = color_rgb(op["color"])
        given = tuple(int(c) for c in rgb[:3])
    except (RenderError, TypeError, ValueError):
        return op  # unknown name or odd rgb: the ops validation reports it
    if len(given) != 3 or op["color"].strip().startswith("#"):
        return op

    def dist2(p: tuple[int, ...]) -> int:
        return sum((a - b) ** 2 for a, b in zip(p, given, strict=True))

    # shades of the name (a dark red for "red") stay: only an RGB of another colour altogether is overruled
    if dist2(named) <= _SHADE_TOLERANCE**2 or min(PALETTE.values(), key=dist2) == named:
        return op
    devs.append(_dev("rgb_mismatch", f"rgb {list(given)} is not {op['color']!r}: the name wins", turn))
    return {k: v for k, v in op.items() if k != "rgb"}


# ---------------------------------------------------------------------------------------- whole transcript
def parse_blocks(text: str, think_open: bool = False) -> tuple[list[Block], list[Deviation]]:
    """Split a whole assistant transcript into tagged blocks; untagged text becomes 'other' (a deviation)."""
    blocks: list[Block] = []
    devs: list[Deviation] = []
    current: str | None = "think" if think_open else None
    pos = 0

    def emit(tag: str | None, chunk: str, closed: bool) -> None:
        if not chunk.strip():
            return
        if tag is None:
            devs.append(_dev("untagged_text", chunk.strip(), 0))
        blocks.append(Block(tag=tag or "other", text=chunk.strip("\n"), closed=closed))

    for m in _TAG_RE.finditer(text):
        closing, name = bool(m.group(1)), m.group(2).lower()
        name = "edit" if name == "answer" else name
        chunk = text[pos : m.start()]
        if closing:
            if current == name:
                emit(current, chunk, True)
            else:
                devs.append(_dev("unmatched_close", f"</{name}> while in {current or 'no block'}", 0))
                emit(current or name, chunk, current is None)
            current = None
        else:
            if current is not None:
                devs.append(_dev(f"unclosed_{current}", f"<{name}> opened inside <{current}>", 0))
                emit(current, chunk, False)
            else:
                emit(None, chunk, True)
            current = name
        pos = m.end()
    tail = text[pos:]
    if current is not None:
        if tail.strip():
            devs.append(_dev(f"unclosed_{current}", "transcript ends inside a block", 0))
        emit(current, tail, False)
    else:
        emit(None, tail, True)
    return blocks, devs
