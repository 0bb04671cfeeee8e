"""The evaluator on the committed mini suite: systems, report files, failures."""

import json
from pathlib import Path

import pytest

from river_agent.bench.cases import CaseError, list_cases
from river_agent.bench.evaluate import EvalConfig, run_eval
from river_agent.bench.systems import baseline_targets
from river_agent.cli import main
from river_agent.errors import NotBuiltError, RiverError
from river_agent.twin.io import load_twin
from river_agent.video.io import probe_video

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rve-synth-mini"


@pytest.mark.slow
def test_oracle_beats_baseline_and_writes_the_report(tmp_path):
    oracle = run_eval(FIXTURE, tmp_path / "oracle", EvalConfig(system="oracle"))
    base = run_eval(FIXTURE, tmp_path / "base", EvalConfig(system="baseline"))
    assert oracle["summary"]["overall"]["J"] > base["summary"]["overall"]["J"] + 0.3
    assert oracle["summary"]["overall"]["on_target"] >= 0.6
    rep = json.loads((tmp_path / "oracle" / "report.json").read_text())
    assert len(rep["cases"]) == len(list_cases(FIXTURE))
    assert set(rep["summary"]["by_cell"]) == {
        f"L{lv}/{c}" for lv in (1, 2, 3) for c in ("semantic", "spatial", "temporal")
    }
    html = (tmp_path / "oracle" / "index.html").read_text()
    for r in rep["cases"]:
        src = probe_video(FIXTURE / r["id"] / "video.mp4")
        out = probe_video(tmp_path / "oracle" / r["id"] / "output.mp4")
        assert (out.num_frames, out.width, out.height, out.fps) == (src.num_frames, src.width, src.height, src.fps)
        for name in r["thumbs"].values():
            if isinstance(name, str):
                assert (tmp_path / "oracle" / r["id"] / name).exists()
                assert f"{r['id']}/{name}" in html


def test_a_renderer_failure_is_recorded_not_raised(tmp_path, monkeypatch):
    import river_agent.bench.systems as systems

    class Broken:
        def render_masks(self, *a, **k):
            raise RiverError("cannot render this")

    monkeypatch.setattr(systems, "_renderer", lambda name: Broken())
    rep = run_eval(FIXTURE, tmp_path / "r", EvalConfig(system="oracle", limit=1))
    case = rep["cases"][0]
    assert not case["ok"] and "cannot render this" in case["error"]
    assert case["J"] == 0.0 and rep["summary"]["overall"]["failures"] == 1


def test_baseline_matches_words_only():
    case = next(c for c in list_cases(FIXTURE) if c.id.endswith("0000"))
    twin = load_twin(case.twin_path)
    assert baseline_targets(case.query, twin, case.edit) == case.target_ids  # "That white dog should be brown."
    assert baseline_targets("Remove whatever overtakes the thing.", twin) == []


@pytest.mark.slow
def test_river_system_runs_the_full_pipeline_on_a_case(tmp_path):
    """The embedded agent over the case's ground-truth twin: an output video of the source's shape, or a
    recorded failure with its reason; either way the case is scored and the report is written."""
    rep = run_eval(FIXTURE, tmp_path / "river", EvalConfig(system="river", gt_twin=True, limit=1))
    case = rep["cases"][0]
    assert len(rep["cases"]) == 1 and 0.0 <= case["J"] <= 1.0
    if case["ok"]:
        src = probe_video(FIXTURE / case["id"] / "video.mp4")
        out = probe_video(tmp_path / "river" / case["id"] / "output.mp4")
        assert (out.num_frames, out.width, out.height) == (src.num_frames, src.width, src.height)
    else:
        assert case["error"]
    assert (tmp_path / "river" / "report.json").exists()


def test_river_system_without_the_agent_is_not_built(tmp_path, monkeypatch):
    import river_agent.bench.systems as systems

    def missing():
        raise NotBuiltError("the `river` system needs river_agent.agent")

    monkeypatch.setattr(systems, "river_agent_class", missing)
    with pytest.raises(NotBuiltError):
        run_eval(FIXTURE, tmp_path / "river", EvalConfig(system="river", limit=1))


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(CaseError):
        list_cases(tmp_path / "nope")
    with pytest.raises(RiverError):
        run_eval(FIXTURE, tmp_path / "x", EvalConfig(system="magic"))
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "case.json").write_text('{"id": "x", "query": "q", "level": 7}')
    with pytest.raises(CaseError):
        list_cases(tmp_path)
    assert main(["bench", "eval", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1


def test_model_metrics_are_reported_as_not_configured(tmp_path, monkeypatch):
    for var in ("RIVER_CLIP_MODEL", "RIVER_GDINO_MODEL", "RIVER_MUSIQ", "RIVER_JUDGE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    rep = run_eval(FIXTURE, tmp_path / "m", EvalConfig(system="baseline", limit=1, model_metrics=True))
    assert set(rep["model_metrics"]) == {"clip", "gdino", "musiq", "judge"}
    assert all(v.startswith("not configured") for v in rep["cases"][0]["model_metrics"].values())
