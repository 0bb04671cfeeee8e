"""The generator's ground truth: masks, logic, determinism, case format."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from river_agent.bench.cases import list_cases, load_case
from river_agent.bench.generate import GenConfig, case_plan, check_logic, generate_suite, plan_case
from river_agent.bench.queries import CATEGORIES, KIND_WORDS, LEVELS
from river_agent.bench.scene import render_frame
from river_agent.twin.io import label_map, load_twin
from river_agent.video.io import probe_video, read_frames

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rve-synth-mini"
TINY = GenConfig(n=3, seed=3, frames=8, width=160, height=96)


def _fixture_cases():
    return sorted(p for p in FIXTURE.iterdir() if (p / "case.json").exists())


def _check_case(case_dir: Path) -> None:
    case = load_case(case_dir)
    twin = load_twin(case.twin_path)
    info = probe_video(case.video_path)
    exp = probe_video(case.expected_path)
    assert (info.num_frames, info.width, info.height) == (exp.num_frames, exp.width, exp.height)
    assert twin.video.num_frames == info.num_frames
    ids = np.array(case.target_ids, np.uint16)
    for t in range(info.num_frames):
        m = cv2.imread(str(case.masks_path / f"{t:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        assert np.array_equal(m, np.isin(label_map(twin, t), ids)), (case.id, t)
    recorded, executed = check_logic(case_dir)
    assert recorded == executed and recorded, case.id


@pytest.mark.parametrize("case_dir", _fixture_cases(), ids=lambda p: p.name)
def test_fixture_ground_truth(case_dir):
    """Target masks = union of the targets' label-map masks; the logic re-executed gives the recorded set."""
    _check_case(case_dir)


def test_fixture_covers_every_cell():
    cases = list_cases(FIXTURE)
    assert {(c.level, c.category) for c in cases} == {(lv, c) for lv in LEVELS for c in CATEGORIES}


def test_level3_queries_never_name_the_target():
    for case in list_cases(FIXTURE):
        if case.level != 3:
            continue
        twin = load_twin(case.twin_path)
        q = f" {case.query.lower()} "
        for t in case.target_ids:
            inst = next(i for f in twin.frames for i in f.instances if i.id == t)
            for word in [*KIND_WORDS[inst.category], inst.attributes["color"]]:
                assert f" {word} " not in q and f" {word}." not in q, (case.id, word)


def test_generation_is_deterministic_and_writes_valid_cases(tmp_path):
    a = generate_suite(tmp_path / "a", TINY)
    b = generate_suite(tmp_path / "b", TINY)
    assert [p.name for p in a] == [p.name for p in b]
    for pa, pb in zip(a, b, strict=True):
        assert json.loads((pa / "case.json").read_text()) == json.loads((pb / "case.json").read_text())
        assert np.array_equal(read_frames(pa / "video.mp4"), read_frames(pb / "video.mp4"))
        assert np.array_equal(read_frames(pa / "expected.mp4"), read_frames(pb / "expected.mp4"))
        _check_case(pa)
    other = plan_case(0, GenConfig(n=1, seed=4, frames=8, width=160, height=96))
    assert (
        other.query != json.loads((a[0] / "case.json").read_text())["query"]
        or other.scene != plan_case(0, TINY).scene
    )
    manifest = json.loads((tmp_path / "a" / "suite.json").read_text())
    assert manifest["cases"] == [p.name for p in a]


def test_expected_video_differs_only_around_the_target(tmp_path):
    spec = plan_case(0, TINY)  # recolor
    assert spec.edit["op"] == "recolor"
    from river_agent.bench.generate import write_case

    d = write_case(spec, tmp_path)
    src, exp = read_frames(d / "video.mp4"), read_frames(d / "expected.mp4")
    case = load_case(d)
    for t in range(src.shape[0]):
        m = cv2.imread(str(case.masks_path / f"{t:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        diff = (src[t] != exp[t]).any(axis=2)
        assert not (diff & ~m).any()


def test_plan_cycles_cells_and_ops():
    cfg = GenConfig(n=45)
    plans = [case_plan(i, cfg) for i in range(45)]
    assert len({(lv, c) for lv, c, _ in plans}) == 9
    assert {op for *_, op in plans} == {"recolor", "remove", "move", "resize", "restyle", "replace"}
    assert sum(op == "replace" for *_, op in plans) <= 45 // 12 + 1


def test_in_front_of_needs_real_silhouette_overlap():
    from river_agent.bench.generate import occlusion_holds
    from river_agent.bench.groundtruth import build_twin
    from river_agent.bench.logic import World
    from river_agent.bench.scene import PALETTE, Scene, SceneObject

    def obj(i, kind, x, depth, y=60.0):
        return SceneObject(
            id=i,
            kind=kind,
            color="red",
            rgb=PALETTE["red"],
            size="medium",
            depth=depth,
            height_px=40,
            xs=[x] * 4,
            ys=[y] * 4,
            facing=[1] * 4,
        )

    logic = {"op": "rel", "rel": "in_front_of", "ref": {"op": "filter", "where": {"category": "box"}}}
    for person_x, expected in ((80.0, True), (300.0, False)):
        scene = Scene(
            width=400, height=120, num_frames=4, objects=[obj(1, "box", 80, 0.8), obj(2, "person", person_x, 0.2)]
        )
        labels = [render_frame(scene, t)[1] for t in range(4)]
        world = World.from_twin(build_twin(scene, labels))
        assert occlusion_holds(scene, logic, world, [2]) is expected


def test_cli_generate_and_bad_arguments(tmp_path):
    from river_agent.cli import main

    out = tmp_path / "s"
    assert (
        main(
            [
                "bench",
                "generate",
                "--n",
                "1",
                "--frames",
                "6",
                "--width",
                "96",
                "--height",
                "64",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (out / "suite.json").exists() and len(list_cases(out)) == 1
    assert main(["bench", "generate", "--n", "0", "--out", str(tmp_path / "z")]) == 1
    assert main(["bench", "generate", "--n", "1", "--width", "10", "--out", str(tmp_path / "z")]) == 1
