"""Compile RVE-Synth logic forms (``bench.logic``) into short Python programs over the sandbox's twin API.

    program = compile_program(case["logic"], np.random.default_rng(0))
    with Sandbox(twin) as sb:
        ids = parse_program_output(sb.run(program).output)   # == case["target_ids"]

Output convention: a program's last printed line is a Python list of ints, the target ids in ascending order
(``[3, 5]``; ``[4]`` for one object); ``parse_program_output`` reads it back.

Exactness: the twin API's benchmark helpers (``stops``, ``always_left_of``, ``occludes``, ``passes``, ``is_a``,
``norm_speed``, ...) and the plain expressions used here (``first_seen(i) > 0``, ``max(p.size for p in track(i))``,
...) follow logic.py's definitions on the lenient side of every margin, so a program prints
``execute(logic, twin, slack=+1)``. That is the target of every case the generator accepts (``resolve`` demands
that the strict and lenient readings agree), and because an accepted form's lenient reading is non-empty, every
reference in it designates exactly one object and every superlative has a unique winner: ``find(...)[0]`` and a
plain ``max(..., key=...)`` are exact.

Variety: a program's surface (argmax via ``max`` / ``sorted(...)[-1]`` / a loop, comprehension / ``filter`` / loop,
equivalent tests such as ``enters(i)`` vs ``first_seen(i) > 0``, variable names, optional comments) is drawn from
``rng`` (or from ``style``, a seed); with neither, the canonical (first) choice is taken everywhere.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")

LOOP_VARS = ("i", "k", "j", "oid")
RECORD_VARS = ("p", "rec", "s")
REF_VARS = ("r", "ref", "anchor", "ref_id")
BEST_VARS = ("best", "top", "pick", "winner")
CAND_VARS = ("cands", "candidates", "pool", "group")
RESULT_VARS = ("ids", "out", "result", "found", "hits", "matches")
VALUE_VARS = {"color": ("col", "colour", "c"), "pattern": ("pat", "pattern", "style"), "category": ("kind", "cat")}

# logic.py predicate -> equivalent tests on an id (the first is the canonical one)
PRED_TESTS: dict[str, tuple[str, ...]] = {
    "enters": ("enters({v})", "first_seen({v}) > 0", "obj({v}).first_frame > 0"),
    "leaves": ("leaves({v})", "last_seen({v}) < num_frames - 1"),
    "reappears": ("reappears({v})", "len(obj({v}).frames) < last_seen({v}) - first_seen({v}) + 1"),
    "moving": ("is_moving({v})",),
    "static": ("is_static({v})",),
    "stops": ("stops({v})",),
    "accelerates": ("accelerates({v})",),
    "bounces": ("bounces({v})",),
    "turns": ("turns({v})",),
}
# logic.py relation (member {v}, reference {r}) -> equivalent tests
REL_TESTS: dict[str, tuple[str, ...]] = {
    "left_of": ("always_left_of({v}, {r})", "always_right_of({r}, {v})"),
    "right_of": ("always_right_of({v}, {r})", "always_left_of({r}, {v})"),
    "in_front_of": ("occludes({v}, {r})",),
    "behind": ("occludes({r}, {v})",),
    "overtakes": ("passes({v}, {r})",),
    "appears_after": ("first_seen({v}) > last_seen({r})", "obj({v}).first_frame > obj({r}).last_frame"),
}
# argmax/argmin key -> equivalent key expressions of an id ({p}: a track record variable)
KEY_EXPRS: dict[str, tuple[str, ...]] = {
    "depth": ('average({v}, "depth")', "statistics.mean({p}.depth for {p} in track({v}))"),
    "x": ('average({v}, "x")', "statistics.mean({p}.x for {p} in track({v}))"),
    "size": ("max({p}.size for {p} in track({v}))",),
    "speed": ("norm_speed({v})",),
    "first": ("first_seen({v})", "obj({v}).first_frame"),
    "last": ("last_seen({v})", "obj({v}).last_frame"),
}
PRED_WORDS = {
    "enters": "enters",
    "leaves": "leaves",
    "reappears": "reappears",
    "moving": "moves",
    "static": "never moves",
    "stops": "stops",
    "accelerates": "speeds up",
    "bounces": "bounces",
    "turns": "turns around",
}
SUPERLATIVE_WORDS = {
    ("argmin", "depth"): "the nearest one",
    ("argmax", "depth"): "the farthest one",
    ("argmax", "size"): "the biggest one",
    ("argmin", "size"): "the smallest one",
    ("argmin", "x"): "the leftmost one",
    ("argmax", "x"): "the rightmost one",
    ("argmax", "speed"): "the fastest one",
    ("argmin", "speed"): "the slowest one",
    ("argmin", "first"): "the first to appear",
    ("argmax", "first"): "the last to appear",
    ("argmin", "last"): "the first to disappear",
    ("argmax", "last"): "the last to disappear",
}


@dataclass
class _Cond:
    """A test on the loop variable: ``text.format(v=...)``; ``func`` when it is just ``func(v)``."""

    text: str
    func: str | None = None

    def render(self, v: str) -> str:
        return self.text.format(v=v)


@dataclass
class _Selection:
    """Ids of ``find(**where)`` (or of ``expr`` when set) that pass every condition."""

    where: dict[str, str] = field(default_factory=dict)  # key -> rendered value (a literal or a variable)
    expr: str | None = None
    conds: list[_Cond] = field(default_factory=list)


def _lit(value: Any) -> str:
    return json.dumps(str(value))


def _describe(node: dict[str, Any]) -> str:
    """A short comment naming what a (reference) node designates."""
    op = node["op"]
    if op == "filter":
        where = node["where"]
        words = [str(where[k]) for k in ("size", "color", "pattern") if k in where]
        return "the " + " ".join([*words, str(where.get("category", "object"))])
    if op == "pred":
        return f"the one that {PRED_WORDS.get(node['pred'], node['pred'])}"
    if op in ("argmax", "argmin"):
        return SUPERLATIVE_WORDS.get((op, node["key"]), f"{op} of {node['key']}")
    if op == "concept":
        return f"the {node['concept']}"
    return "the reference object"


class _Writer:
    """Emits one program; every surface choice goes through ``pick`` (first option when there is no rng)."""

    def __init__(self, rng: np.random.Generator | None) -> None:
        self.rng = rng
        self.lines: list[str] = []
        self.imports: set[str] = set()
        self.used: set[str] = set()
        self.v = self.fresh(LOOP_VARS)
        self.p = self.fresh(RECORD_VARS)

    def pick(self, options: Sequence[T], weights: Sequence[float] | None = None) -> T:
        if self.rng is None or len(options) == 1:
            return options[0]
        if weights is None:
            return options[int(self.rng.integers(len(options)))]
        w = np.asarray(weights, float)
        return options[int(self.rng.choice(len(options), p=w / w.sum()))]

    def chance(self, p: float) -> bool:
        return self.rng is not None and bool(self.rng.random() < p)

    def fresh(self, pool: Sequence[str]) -> str:
        free = [n for n in pool if n not in self.used] or [f"{pool[0]}{len(self.used)}"]
        name = self.pick(free)
        self.used.add(name)
        return name

    def emit(self, line: str, comment: str | None = None) -> None:
        if comment and self.chance(0.3):
            self.lines.append(f"# {comment}")
        self.lines.append(line)

    def program(self) -> str:
        head = [f"import {m}" for m in sorted(self.imports)]
        return "\n".join(head + self.lines) + "\n"

    # ------------------------------------------------------------------------------------------- expressions
    def find_call(self, where: dict[str, str]) -> str:
        args = []
        rest = dict(where)
        if "category" in rest and not self.chance(0.15):
            args.append(rest.pop("category"))
        args += [f"{k}={v}" for k, v in rest.items()]
        return f"find({', '.join(args)})"

    def source(self, sel: _Selection) -> str:
        return sel.expr if sel.expr is not None else self.find_call(sel.where)

    def listing(self, sel: _Selection) -> str:
        """A one-expression list of the selection's ids (in ascending order, as ``find`` returns them)."""
        src = self.source(sel)
        if not sel.conds:
            return src
        if len(sel.conds) == 1 and sel.conds[0].func and self.chance(0.25):
            return f"list(filter({sel.conds[0].func}, {src}))"
        v = self.v
        return f"[{v} for {v} in {src} if {' and '.join(c.render(v) for c in sel.conds)}]"

    def key(self, key: str) -> tuple[str, str | None]:
        """(key expression template in {v}, the plain function name when the key is just ``f(v)``)."""
        text = self.pick(KEY_EXPRS[key])
        if "statistics." in text:
            self.imports.add("statistics")
        text = text.replace("{p}", self.p)
        func = text.split("(")[0] if text.endswith("({v})") and text.count("(") == 1 else None
        return text, func

    # ----------------------------------------------------------------------------------------------- nodes
    def selection(self, node: dict[str, Any]) -> _Selection:
        op = node["op"]
        if op == "all":
            return _Selection()
        if op in ("argmax", "argmin"):
            return _Selection(expr=f"[{self.one(node)}]")
        sel = self.selection(node["of"]) if "of" in node else _Selection()
        if op == "filter":
            self.restrict(sel, {k: _lit(v) for k, v in node["where"].items()}, literal=True)
        elif op == "concept":
            sel.conds.append(_Cond(f"is_a({{v}}, {_lit(node['concept'])})"))
        elif op == "pred":
            text = self.pick(PRED_TESTS[node["pred"]])
            func = text.split("(")[0] if text.endswith("({v})") and text.count("(") == 1 else None
            sel.conds.append(_Cond(text, func))
        elif op == "rel":
            r = self.one(node["ref"], _describe(node["ref"]))
            sel.conds.append(_Cond(self.pick(REL_TESTS[node["rel"]]).replace("{r}", r)))
        elif op == "same":
            self.same(sel, node)
        else:
            raise ValueError(f"unknown logic op {op!r}")
        return sel

    def restrict(self, sel: _Selection, where: dict[str, str], literal: bool) -> None:
        """Add ``key == value`` tests: merged into the ``find`` call when they fit, else as conditions."""
        for k, val in where.items():
            mergeable = sel.expr is None and (k not in sel.where or (literal and sel.where[k] == val))
            if mergeable and (k == "category" or not self.chance(0.15)):
                sel.where[k] = val
            else:
                field_ = "obj({v}).category" if k == "category" else f"obj({{v}}).attributes[{_lit(k)}]"
                sel.conds.append(_Cond(f"{field_} == {val}"))

    def same(self, sel: _Selection, node: dict[str, Any]) -> None:
        attr = node["attr"]
        r = self.one(node["ref"], _describe(node["ref"]))
        getter = "obj({x}).category" if attr == "category" else f"obj({{x}}).attributes[{_lit(attr)}]"
        style = self.pick(("var", "inline", "var_cond"))
        if style == "inline":
            sel.conds.append(_Cond(f"{getter.format(x='{v}')} == {getter.format(x=r)}"))
        else:
            name = self.fresh(VALUE_VARS.get(attr, ("val", "value")))
            self.emit(f"{name} = {getter.format(x=r)}")
            if style == "var":
                self.restrict(sel, {attr: name}, literal=False)
            else:
                sel.conds.append(_Cond(f"{getter.format(x='{v}')} == {name}"))
        sel.conds.insert(len(sel.conds) if self.chance(0.5) else 0, _Cond(f"{{v}} != {r}"))

    def one(self, node: dict[str, Any], comment: str | None = None, pool: Sequence[str] = REF_VARS) -> str:
        """Emit lines that bind one object id (the node designates exactly one) and return the variable."""
        if node["op"] in ("argmax", "argmin"):
            return self.arg(node, pool)
        sel = self.selection(node)
        name = self.fresh(pool)
        style = self.pick(("index", "next", "unpack"))
        if style == "next" and sel.conds:
            v = self.v
            tests = " and ".join(c.render(v) for c in sel.conds)
            self.emit(f"{name} = next({v} for {v} in {self.source(sel)} if {tests})", comment)
        elif style == "unpack":
            self.emit(f"({name},) = {self.listing(sel)}", comment)
        else:
            self.emit(f"{name} = {self.listing(sel)}[0]", comment)
        return name

    def arg(self, node: dict[str, Any], pool: Sequence[str]) -> str:
        """Emit an argmax/argmin and return the variable holding the winner."""
        op, key = node["op"], node["key"]
        comment = _describe(node)
        src = self.listing(self.selection(node.get("of", {"op": "all"})))
        if not src.startswith("find(") and self.chance(0.5):
            cands = self.fresh(CAND_VARS)
            self.emit(f"{cands} = {src}")
            src = cands
        text, func = self.key(key)
        v = self.v
        name = self.fresh(pool)
        style = self.pick(("builtin", "sorted", "loop"), (0.5, 0.25, 0.25))
        if style == "loop" and len(text) <= 24:  # a loop repeats the key expression: only short ones
            cmp = ">" if op == "argmax" else "<"
            self.emit(f"{name} = None", comment)
            self.lines.append(f"for {v} in {src}:")
            self.lines.append(f"    if {name} is None or {text.format(v=v)} {cmp} {text.format(v=name)}:")
            self.lines.append(f"        {name} = {v}")
            return name
        keyfn = func if func and self.chance(0.6) else f"lambda {v}: {text.format(v=v)}"
        if style == "sorted":
            self.emit(f"{name} = sorted({src}, key={keyfn})[{-1 if op == 'argmax' else 0}]", comment)
        else:
            self.emit(f"{name} = {'max' if op == 'argmax' else 'min'}({src}, key={keyfn})", comment)
        return name

    def root(self, node: dict[str, Any]) -> None:
        if node["op"] in ("argmax", "argmin"):
            if self.chance(0.25):  # print the winner straight away
                before = len(self.lines)
                best = self.one(node, pool=BEST_VARS)
                last = self.lines[-1]
                if len(self.lines) == before + 1 and not last.startswith("#") and last.startswith(f"{best} = "):
                    self.lines[-1] = f"print([{last.removeprefix(f'{best} = ')}])"
                    return
            else:
                best = self.one(node, pool=BEST_VARS)
            self.lines.append(f"print([{best}])")
            return
        sel = self.selection(node)
        style = self.pick(("print", "assign", "loop", "objects"), (0.35, 0.35, 0.2, 0.1))
        if style == "objects" and not sel.conds and sel.expr is None and sel.where:
            tests = []
            for k, val in sel.where.items():
                tests.append(f"o.category == {val}" if k == "category" else f"o.attributes[{_lit(k)}] == {val}")
            self.lines.append(f"print([o.id for o in objects() if {' and '.join(tests)}])")
            return
        if style == "loop" and sel.conds:
            out, v = self.fresh(RESULT_VARS), self.v
            self.lines.append(f"{out} = []")
            self.lines.append(f"for {v} in {self.source(sel)}:")
            self.lines.append(f"    if {' and '.join(c.render(v) for c in sel.conds)}:")
            self.lines.append(f"        {out}.append({v})")
            self.lines.append(f"print({out})")
            return
        listing = self.listing(sel)
        if self.chance(0.2):
            listing = f"sorted({listing})"
        if style != "print":
            out = self.fresh(RESULT_VARS)
            self.lines.append(f"{out} = {listing}")
            self.lines.append(f"print({out})")
        else:
            self.lines.append(f"print({listing})")


def compile_program(
    logic: dict[str, Any], rng: np.random.Generator | None = None, style: int | None = None
) -> str:
    """A short twin-API program that prints the ids ``logic`` designates (see the module doc for the convention).

    ``style`` (a seed) or ``rng`` draws the surface form; with neither the canonical form is written.
    """
    if style is not None:
        rng = np.random.default_rng(style)
    writer = _Writer(rng)
    writer.root(logic)
    return writer.program()


def parse_program_output(text: str) -> list[int] | None:
    """The ids a program printed: its last non-empty output line read as a list (or tuple/set) of ints, sorted;
    a bare int counts as one id. None when that line is not such a literal."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    if not lines:
        return None
    try:
        value = ast.literal_eval(lines[-1])
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list | tuple | set | frozenset) and all(
        isinstance(x, int) and not isinstance(x, bool) for x in value
    ):
        return sorted(value)
    return None
