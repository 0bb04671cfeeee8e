"""RiverAgent end to end (scripted test-double policy, real classical renderer, tiny video) and the CLI."""

from __future__ import annotations

import asyncio

import pytest

from river_agent.agent import AgentConfig, RiverAgent
from river_agent.errors import RiverError, VideoError
from river_agent.graphs.events import Finished, RolloutSegment, StageFinished, StageStarted
from river_agent.trace import load_traces
from tests.agent_fixtures import make_case
from tests.scripted_policy import ScriptedPolicy

REMOVE_CAR = ['<think>the red car</think><edit>[{"op": "remove", "id": 2}]</edit>']


def agent(replies, **cfg) -> RiverAgent:
    return RiverAgent(AgentConfig(strategy="free", progress=False, **cfg), policy=ScriptedPolicy(list(replies)))


@pytest.fixture
def case(tmp_path):
    return make_case(tmp_path / "case")


def test_edit_end_to_end_writes_outputs_and_trace(case, tmp_path):
    video, twin = case
    out = tmp_path / "out" / "edited.mp4"
    res = agent(REMOVE_CAR, trace_dir=str(tmp_path / "traces")).edit(video, "remove the red car", out, twin=twin)
    assert res.ok, res.error
    assert res.video == out and out.exists()
    assert res.comparison and res.comparison.exists() and res.overlay and res.overlay.exists()
    assert res.ops == [{"op": "remove", "id": 2}]
    assert res.edited_twin and res.edited_twin.exists()
    assert res.verify["ok"] and res.verify["frames"] == 6 and res.verify["changed_in_target_region"] > 0.9
    assert any("object 2: removed" in c for c in res.changes)
    [saved] = load_traces(res.trace_path)
    assert saved.valid and saved.id == res.trace.id
    assert len(load_traces(tmp_path / "traces" / "traces.jsonl")) == 1
    assert set(res.timings) == {"perceive", "reason", "validate", "render", "verify"}


def test_stream_yields_typed_events_in_order(case, tmp_path):
    video, twin = case
    events = list(agent(REMOVE_CAR).stream(video, "remove the red car", tmp_path / "o.mp4", twin=twin))
    started = [e.stage for e in events if isinstance(e, StageStarted)]
    assert started == ["perceive", "reason", "validate", "render", "verify"]
    assert all(e.ok for e in events if isinstance(e, StageFinished))
    assert [e.tag for e in events if isinstance(e, RolloutSegment)] == ["edit"]
    assert isinstance(events[-1], Finished) and events[-1].result.ok


def test_aedit(case, tmp_path):
    video, twin = case
    res = asyncio.run(agent(REMOVE_CAR).aedit(video, "remove the red car", tmp_path / "a.mp4", twin=twin))
    assert res.ok


def test_invalid_edit_is_a_recorded_failure(case, tmp_path):
    video, twin = case
    out = tmp_path / "bad.mp4"
    res = agent(['<edit>[{"op": "remove", "id": 42}]</edit>']).edit(video, "remove the boat", out, twin=twin)
    assert not res.ok and res.failed_stage == "reason"
    assert "not in the twin" in res.error
    assert not out.exists()
    assert res.trace_path.exists() and load_traces(res.trace_path)[0].status == "invalid"


def test_bad_inputs_raise_clear_errors(case, tmp_path):
    video, twin = case
    a = agent(REMOVE_CAR)
    with pytest.raises(RiverError, match="does not say what to edit"):
        a.edit(video, "  ?!  ", tmp_path / "x.mp4", twin=twin)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(VideoError):
        a.edit(bad, "remove the car", tmp_path / "x.mp4", twin=twin)
    with pytest.raises(RiverError, match="input video"):
        a.edit(video, "remove the car", video, twin=twin)


def test_reason_alone_returns_a_trace(case):
    _, twin = case
    trace = agent(REMOVE_CAR).reason(twin, "remove the red car")
    assert trace.valid and trace.ops == [{"op": "remove", "id": 2}]


def test_config_from_yaml_and_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("backend: litellm\nbackend_options: {model: hosted_vllm/r1}\nmax_turns: 8\n")
    cfg = AgentConfig.from_file(p)
    assert cfg.max_turns == 8 and cfg.resolved_strategy() == "free"
    assert AgentConfig(adapter="none").resolved_strategy() == "staged"
    p.write_text("max_turnz: 3\n")
    with pytest.raises(RiverError, match="max_turnz"):
        AgentConfig.from_file(p)
    assert "max_turns" in AgentConfig.help()


def test_backend_down_is_a_clear_error(case, tmp_path):
    class Down:
        def generate(self, *a, **k):
            raise ConnectionError("connection refused")

    video, twin = case
    a = RiverAgent(AgentConfig(strategy="free", progress=False), policy=Down())
    res = a.edit(video, "remove the red car", tmp_path / "d.mp4", twin=twin)
    assert not res.ok and "LLM backend failed: ConnectionError: connection refused" in res.error


def test_shipped_adapter_makes_the_code_strategy_the_embedded_default(tmp_path, monkeypatch):
    import river_agent.adapters as adapters

    shipped = tmp_path / "adapter"
    shipped.mkdir()
    (shipped / "adapter_config.json").write_text("{}")
    monkeypatch.setattr(adapters, "embedded_adapter", lambda: shipped)
    cfg = AgentConfig()
    assert cfg.resolved_adapter() == str(shipped) and cfg.resolved_strategy() == "code"
    assert AgentConfig(adapter="none").resolved_strategy() == "staged"
    assert AgentConfig(adapter=str(tmp_path / "mine")).resolved_adapter() == str(tmp_path / "mine")
    other = AgentConfig(backend="litellm", backend_options={"model": "hosted_vllm/r1"})
    assert other.resolved_adapter() is None and other.resolved_strategy() == "free"
    monkeypatch.setattr(adapters, "embedded_adapter", lambda: None)
    assert AgentConfig().resolved_strategy() == "staged"


@pytest.mark.slow
def test_embedded_default_reasons_through_sampled_programs(tmp_path):
    """The shipped adapter on the bundled demo case: programs, their results, then the edit built from them."""
    from pathlib import Path

    demo = Path(__file__).parents[1] / "fixtures" / "rve-synth-mini" / "synth-s0-0003"
    cfg = AgentConfig(progress=False, torch_threads=1, seed=0)
    assert cfg.resolved_strategy() == "code" and cfg.resolved_adapter().endswith("smollm2-code")
    res = RiverAgent(cfg).edit(
        demo / "video.mp4", "Shrink the brown vehicle.", tmp_path / "e.mp4", twin=demo / "twin.json"
    )
    assert res.ok, res.error
    trace = res.trace
    assert trace.strategy == "code" and (trace.adapter or "").endswith("smollm2-code")
    program = next(s for s in trace.segments if s.source == "policy" and s.tag == "execute")
    assert program.code and len(program.votes) == 6 and sum(v["chosen"] for v in program.votes) == 1
    results = next(s for s in trace.segments if s.tag == "results")
    assert results.sandbox is not None
    edit = [s for s in trace.segments if s.source == "policy" and s.tag == "edit"]
    assert edit and res.ops and res.ops[0]["op"] == "resize"


@pytest.fixture
def built_in(monkeypatch) -> list[str]:
    """Replace the backend factory by one that hands out the scripted policy and records the thread it ran in."""
    import threading

    import river_agent.backends as backends

    names: list[str] = []

    def fake_backend(cfg):
        names.append(threading.current_thread().name)
        return ScriptedPolicy(list(REMOVE_CAR))

    monkeypatch.setattr(backends, "get_backend", fake_backend)
    return names


def test_policy_is_built_in_the_background_while_perception_runs(case, tmp_path, built_in):
    from river_agent.commands.edit import startup_line

    video, _ = case
    a = RiverAgent(AgentConfig(strategy="free", progress=False, adapter="none"))
    res = a.edit(video, "remove the red car", tmp_path / "p.mp4")
    assert res.ok, res.error
    assert built_in == ["river-preload-policy"]  # once, off the main thread
    assert "startup_preload_ms" in res.trace.timings and "startup_preload_ms" in a.startup
    assert startup_line(a.startup, a.startup_info).startswith("start-up ") and "during perception" in (
        startup_line(a.startup, a.startup_info)
    )
    assert a._preload is not None and not a._preload.is_alive()


def test_a_policy_that_fails_to_load_in_the_background_is_a_clear_error(case, tmp_path, monkeypatch):
    import river_agent.backends as backends

    calls: list[int] = []

    def broken_backend(cfg):
        calls.append(1)
        raise OSError("model file is truncated")

    monkeypatch.setattr(backends, "get_backend", broken_backend)
    video, _ = case
    a = RiverAgent(AgentConfig(strategy="free", progress=False, adapter="none"))
    res = a.edit(video, "remove the red car", tmp_path / "f.mp4")
    assert not res.ok and "cannot start LLM backend" in res.error and "model file is truncated" in res.error
    assert len(calls) == 2  # the background try, then the reason stage's, which reports it
    assert not (tmp_path / "f.mp4").exists()


def test_no_preload_when_switched_off_or_the_twin_is_given(case, tmp_path, built_in):
    video, twin = case
    off = RiverAgent(AgentConfig(strategy="free", progress=False, adapter="none", preload_policy=False))
    assert off.edit(video, "remove the red car", tmp_path / "a.mp4").ok
    given = RiverAgent(AgentConfig(strategy="free", progress=False, adapter="none"))
    assert given.edit(video, "remove the red car", tmp_path / "b.mp4", twin=twin).ok
    assert len(built_in) == 2 and "river-preload-policy" not in built_in  # built by the reason stage itself
    assert "startup_preload_ms" not in off.startup
