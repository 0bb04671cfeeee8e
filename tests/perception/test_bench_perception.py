"""scripts/bench_perception.py: per-case scores, per-object IoU by motion class, the JSON report."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from river_agent.tools.perception.evaluate import iou_by_motion, scene_motions

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "fixtures" / "rve-synth-mini"


def _script():
    spec = importlib.util.spec_from_file_location("bench_perception", ROOT / "scripts" / "bench_perception.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_accuracy_reports_objects_by_motion_and_writes_json(tmp_path):
    mod = _script()
    case = sorted(p for p in MINI.iterdir() if (p / "scene.json").exists())[0]
    suite = tmp_path / "suite"
    shutil.copytree(case, suite / case.name)
    console = Console(record=True, width=200)
    mod.accuracy(suite, "classical", console, tmp_path / "out" / "scores.json")
    text = console.export_text()
    assert "by how it moves" in text and "all moving" in text
    report = json.loads((tmp_path / "out" / "scores.json").read_text())
    (rec,) = report["cases"]
    scene = json.loads((case / "scene.json").read_text())
    assert rec["case"] == case.name
    assert set(map(int, rec["object_iou"])) == {o["id"] for o in scene["objects"]}
    assert {int(k): v for k, v in rec["motions"].items()} == {o["id"]: o["motion"] for o in scene["objects"]}
    assert all(0.0 <= v <= 1.0 for v in rec["object_iou"].values())


def test_iou_by_motion_groups_static_apart_from_moving():
    rows = iou_by_motion([("static", 0.1), ("linear", 0.9), ("stopping", 0.5), ("static", 0.0)])
    assert [r[0] for r in rows] == ["linear", "static", "stopping", "all moving"]
    assert rows[1][:2] == ("static", 2) and rows[1][2] == pytest.approx(0.05) and rows[1][3] == 2
    assert rows[3][:2] == ("all moving", 2) and rows[3][2] == pytest.approx(0.7) and rows[3][3] == 0


def test_scene_motions_reads_the_generator_scene_or_nothing(tmp_path):
    case = sorted(p for p in MINI.iterdir() if (p / "scene.json").exists())[0]
    scene = json.loads((case / "scene.json").read_text())
    assert scene_motions(case) == {o["id"]: o["motion"] for o in scene["objects"]}
    assert scene_motions(tmp_path) == {}  # no scene.json: a case from elsewhere
    (tmp_path / "scene.json").write_text("{not json")
    assert scene_motions(tmp_path) == {}
