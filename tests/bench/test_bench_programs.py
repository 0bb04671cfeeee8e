"""Compiled twin-API programs print exactly the target ids of RVE-Synth logic forms (bench/programs.py), and the
twin API's benchmark helpers agree with logic.py's definitions."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from river_agent.bench.generate import GenConfig, label_maps_only, plan_case
from river_agent.bench.groundtruth import build_twin
from river_agent.bench.logic import PREDICATES, World, _pred, _rel, execute, resolve
from river_agent.bench.programs import compile_program, parse_program_output
from river_agent.bench.queries import CATEGORIES, LEVELS
from river_agent.bench.sampler import sample_scene
from river_agent.bench.shapes import KINDS
from river_agent.tools.sandbox import Sandbox, SandboxLimits
from river_agent.tools.sandbox.twin_api import CONCEPTS, PREDICATE_HELPERS, build_api
from river_agent.twin.schema import Twin

SEEDS = range(8)
PER_SEED = 27  # three rounds of the nine (level, category) cells
LIMITS = SandboxLimits(cpu_seconds=2.0, wall_seconds=10.0, memory_mb=256, max_output_chars=2000)


@dataclass
class Case:
    seed: int
    index: int
    level: int
    category: str
    logic: dict[str, Any]
    target_ids: list[int]
    twin: Twin


def small_config(seed: int) -> GenConfig:
    return GenConfig(seed=seed, width=256, height=144, frames=24)


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    out = []
    for seed in SEEDS:
        cfg = small_config(seed)
        for i in range(PER_SEED):
            spec = plan_case(i, cfg)
            twin = build_twin(spec.scene, spec.label_maps)
            out.append(Case(seed, i, spec.level, spec.category, spec.logic, spec.target_ids, twin))
    return out


def run_all(twin: Twin, programs: list[str]) -> list[tuple[bool, list[int] | None, str]]:
    """(ok, parsed ids, error) of each program, all run in one sandbox over ``twin``."""
    results = []
    with Sandbox(twin, LIMITS) as sb:
        for program in programs:
            res = sb.run(program)
            results.append((res.ok, parse_program_output(res.output) if res.ok else None, res.error or ""))
    return results


# ------------------------------------------------------------------------------------------------ the API


def test_concepts_match_the_kinds():
    assert {kind: spec.concepts for kind, spec in KINDS.items()} == CONCEPTS


def test_every_logic_predicate_has_a_helper():
    assert set(PREDICATE_HELPERS.values()) == set(PREDICATES)


@pytest.mark.parametrize("seed", range(6))
def test_benchmark_helpers_match_logic(seed):
    """Every object and every pair of a few scenes: the helpers equal logic.py's lenient reading (slack=+1)."""
    rng = np.random.default_rng([99, seed])
    size = (256, 144, 24) if seed % 2 else (320, 192, 48)
    scene = sample_scene(rng, *size, 4, 7, 24.0)
    twin = build_twin(scene, label_maps_only(scene))
    world = World.from_twin(twin)
    api = build_api(twin.model_dump(mode="json"))
    for oid, tr in world.tracks.items():
        for name, pred in PREDICATE_HELPERS.items():
            assert api[name](oid) == _pred(world, tr, pred, 1), (name, oid)
        assert api["norm_speed"](oid) == pytest.approx(world.speed(tr), abs=1e-12)
        assert api["average"](oid, "depth") == pytest.approx(float(tr.depth.mean()), abs=1e-12)
        for concept in ("vehicle", "living", "toy", tr.category):
            assert api["is_a"](oid, concept) == (concept == tr.category or concept in KINDS[tr.category].concepts)
    pairs = {
        "left_of": "always_left_of",
        "right_of": "always_right_of",
        "in_front_of": "occludes",
        "overtakes": "passes",
    }
    for a, b in itertools.permutations(world.tracks, 2):
        ta, tb = world.tracks[a], world.tracks[b]
        for rel, name in pairs.items():
            assert api[name](a, b) == _rel(world, ta, tb, rel, 1), (rel, a, b)
        assert api["occludes"](b, a) == _rel(world, ta, tb, "behind", 1), ("behind", a, b)


def test_helpers_reject_unknown_ids():
    scene = sample_scene(np.random.default_rng(5), 256, 144, 24, 4, 4, 24.0)
    api = build_api(build_twin(scene, label_maps_only(scene)).model_dump(mode="json"))
    for name in ("stops", "is_moving", "enters", "norm_speed", "is_a"):
        with pytest.raises(KeyError, match="no object with id 99"):
            api[name](99, "car") if name == "is_a" else api[name](99)
    with pytest.raises(KeyError, match="no object with id 99"):
        api["always_left_of"](1, 99)


# ------------------------------------------------------------------------------------------- the compiler


@pytest.mark.slow
def test_programs_print_exactly_the_targets(cases):
    """Every case of 8 seeds x 27 (all nine cells): the canonical program and one drawn at random."""
    assert len(cases) >= 200
    assert {(c.level, c.category) for c in cases} == set(itertools.product(LEVELS, CATEGORIES))
    jobs = [
        (c, [compile_program(c.logic), compile_program(c.logic, np.random.default_rng([c.seed, c.index]))])
        for c in cases
    ]
    with ThreadPoolExecutor(2) as pool:  # sandboxes are separate processes: overlap their start-ups
        results = list(pool.map(lambda job: run_all(job[0].twin, job[1]), jobs))
    failures, lengths = [], []
    for (c, programs), res in zip(jobs, results, strict=True):
        for program, (ok, ids, error) in zip(programs, res, strict=True):
            lengths.append(len(program))
            if not ok or ids != c.target_ids:
                failures.append((c.seed, c.index, c.logic, c.target_ids, program, ids, error))
    assert not failures, f"{len(failures)} of {len(lengths)} programs wrong; first: {failures[0]}"
    assert float(np.median(lengths)) < 160 and max(lengths) < 400


@pytest.mark.slow
def test_styles_differ_in_text_but_agree(cases):
    """The first case of each cell: twelve styles give several different programs, all printing the target."""
    firsts = {}
    for c in cases:
        firsts.setdefault((c.level, c.category), c)
    for c in firsts.values():
        programs = list(dict.fromkeys(compile_program(c.logic, style=s) for s in range(12)))
        assert len(programs) >= 3, (c.logic, programs)
        for program, (ok, ids, error) in zip(programs, run_all(c.twin, programs), strict=True):
            assert ok and ids == c.target_ids, (c.logic, program, ids, error)


def _forms(world: World) -> list[dict[str, Any]]:
    """Forms beyond what the query families sample: every predicate, key, relation and attribute."""
    all_ = {"op": "all"}
    kinds = sorted({tr.category for tr in world.tracks.values()})
    refs: list[dict[str, Any]] = [{"op": "filter", "where": {"category": k}} for k in kinds]
    refs += [
        {"op": op, "key": key, "of": all_} for op in ("argmax", "argmin") for key in ("speed", "first", "last")
    ]
    refs += [{"op": "pred", "pred": p, "of": all_} for p in PREDICATES]
    forms = list(refs)
    forms += [{"op": "concept", "concept": c, "of": all_} for c in ("vehicle", "living", "cargo")]
    forms += [
        {"op": "filter", "where": {"size": "small"}, "of": {"op": "filter", "where": {"category": k}}}
        for k in kinds
    ]
    forms += [
        {"op": "pred", "pred": p, "of": {"op": "filter", "where": {"category": k}}}
        for p in PREDICATES
        for k in kinds
    ]
    for ref in refs:
        forms += [{"op": "rel", "rel": rel, "ref": ref, "of": all_} for rel in REL_NAMES]
        forms += [
            {"op": "same", "attr": a, "ref": ref, "of": all_} for a in ("color", "pattern", "size", "category")
        ]
    forms += [
        {"op": op, "key": key, "of": {"op": "pred", "pred": p, "of": all_}}
        for op in ("argmax", "argmin")
        for key in ("depth", "size", "x", "speed", "first", "last")
        for p in ("moving", "enters", "leaves", "static")
    ]
    return forms


REL_NAMES = ("left_of", "right_of", "in_front_of", "behind", "overtakes", "appears_after")


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_every_accepted_form_compiles_exactly(seed):
    """All forms of a scene that resolve() accepts (plural ones too), in two styles each."""
    rng = np.random.default_rng([7, seed])
    scene = sample_scene(rng, 256, 144, 24, 5, 7, 24.0)
    twin = build_twin(scene, label_maps_only(scene))
    world = World.from_twin(twin)
    accepted = [(f, resolve(f, world, singular=False)) for f in _forms(world)]
    accepted = [(f, sorted(t)) for f, t in accepted if t]
    assert len(accepted) >= 20
    programs = [(f, t, compile_program(f, style=s)) for f, t in accepted for s in (seed, seed + 100)]
    results = run_all(twin, [p for _, _, p in programs])
    for (form, target, program), (ok, ids, error) in zip(programs, results, strict=True):
        assert ok and ids == target, (form, program, ids, error)
        assert sorted(execute(form, world, slack=1)) == target


def test_canonical_program_is_deterministic_and_short():
    logic = {
        "op": "rel",
        "rel": "left_of",
        "ref": {"op": "argmin", "key": "depth", "of": {"op": "all"}},
        "of": {"op": "filter", "where": {"category": "car"}},
    }
    program = compile_program(logic)
    assert program == compile_program(logic)
    assert program == (
        'r = min(find(), key=lambda i: average(i, "depth"))\n'
        'print([i for i in find("car") if always_left_of(i, r)])\n'
    )
    assert compile_program(logic, style=3) == compile_program(logic, style=3)
    gen = np.random.default_rng(0)
    assert len({compile_program(logic, gen) for _ in range(20)}) >= 4


def test_unknown_op_is_an_error():
    with pytest.raises(ValueError, match="unknown logic op"):
        compile_program({"op": "nope", "of": {"op": "all"}})


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("[3, 5]\n", [3, 5]),
        ("debug 1\n[5, 3]", [3, 5]),
        ("[]", []),
        ("[4]\n\n", [4]),
        ("7", [7]),
        ("(2, 1)", [1, 2]),
        ("", None),
        ("[1, 'a']", None),
        ("ids: [1]", None),
        ("[True]", None),
        ("[1, 2", None),
    ],
)
def test_parse_program_output(text, ids):
    assert parse_program_output(text) == ids
