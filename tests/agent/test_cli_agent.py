"""``river trace show|html`` and the error paths of ``river edit`` (no model is loaded for these)."""

from __future__ import annotations

from river_agent.cli import main
from river_agent.graphs.rollout import Rollout, RolloutConfig
from river_agent.trace import save_traces
from tests.agent_fixtures import make_case, make_twin
from tests.scripted_policy import ScriptedPolicy


def _traces(tmp_path):
    twin = make_twin(tmp_path / "twin")
    ro = Rollout(
        ScriptedPolicy(['<think>car</think><edit>[{"op": "remove", "id": 2}]</edit>', "<edit>nope</edit>"]),
        RolloutConfig(strategy="free"),
    )
    return save_traces(tmp_path / "t.jsonl", [ro.run(twin, "remove the car"), ro.run(twin, "q2")])


def test_trace_show(tmp_path, capsys):
    path = _traces(tmp_path)
    assert main(["trace", "show", str(path), "--index", "0"]) == 0
    out = capsys.readouterr().out
    assert "remove the car" in out and '"op": "remove"' in out and "q2" not in out
    assert main(["trace", "show", str(path)]) == 0
    assert "no JSON" in capsys.readouterr().out


def test_trace_html(tmp_path):
    path = _traces(tmp_path)
    page = tmp_path / "p.html"
    assert main(["trace", "html", str(path), "--out", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "&lt;edit&gt;" in text and "remove the car" in text


def test_trace_errors_are_one_line(tmp_path, capsys):
    assert main(["trace", "show", str(tmp_path / "missing.jsonl")]) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": 1}\n')
    assert main(["trace", "show", str(bad)]) == 1
    path = _traces(tmp_path)
    assert main(["trace", "show", str(path), "-i", "5"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "no such trace file" in err and "bad.jsonl:1" in err and "out of range" in err
    assert "Traceback" not in err


def test_edit_bad_inputs_print_errors_without_traceback(tmp_path, capsys):
    video, twin = make_case(tmp_path / "case")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"junk")
    assert main(["edit", str(bad), "remove the car", "--out", str(tmp_path / "o.mp4")]) == 1
    assert main(["edit", str(video), "???", "--out", str(tmp_path / "o.mp4"), "--twin", str(twin)]) == 1
    assert main(["edit", str(video), "remove it", "--out", str(tmp_path / "o.mp4"), "--twin", str(tmp_path)]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("error:") == 3 and "does not say what to edit" in err and "Traceback" not in err
