"""The rollout graph driven by a scripted test-double policy."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from river_agent.errors import RiverError
from river_agent.graphs.rollout import BackendFailure, Rollout, RolloutConfig
from river_agent.trace import load_traces, save_traces
from river_agent.twin.io import load_twin
from tests.agent_fixtures import make_twin
from tests.scripted_policy import ScriptedPolicy


@dataclass
class FakeResult:
    ok: bool
    output: str = ""
    error: str | None = None
    error_type: str | None = None
    duration_ms: float = 0.1
    timed_out: bool = False
    killed: bool = False
    truncated: bool = False


class EchoExecutor:
    """Runs nothing: answers each snippet from a table (a no-op sandbox)."""

    def __init__(self, answers: dict[str, FakeResult]):
        self.answers = answers
        self.ran: list[str] = []

    def run(self, code: str) -> FakeResult:
        self.ran.append(code)
        return self.answers.get(code.strip(), FakeResult(ok=True, output="ok"))


def fake_factory(executor):
    @contextmanager
    def factory(twin):
        yield executor

    return factory


@pytest.fixture
def twin_path(tmp_path):
    return make_twin(tmp_path / "twin")


def free(max_turns=4, **kw):
    return RolloutConfig(strategy="free", max_turns=max_turns, max_new_tokens=4000, **kw)


def test_multi_turn_execute_loop_with_real_sandbox(twin_path):
    policy = ScriptedPolicy(
        [
            "<think>Which object overtakes the truck?</think><execute>print(find('car'))</execute>junk",
            "<think>Check overtaking.</think><execute>\n```python\nprint(overtakes(2, 1))\n```\n</execute>",
            '<think>The car 2 overtakes.</think><edit>[{"op": "remove", "id": 2}]</edit>',
        ]
    )
    trace = Rollout(policy, free()).run(twin_path, "Whatever overtakes the truck should go.")
    assert trace.status == "ok", trace.reason
    assert trace.valid and trace.ops == [{"op": "remove", "id": 2}]
    results = [s for s in trace.segments if s.tag == "results"]
    assert [r.sandbox.output.strip() for r in results] == ["[2]", "True"]
    assert "<results>\n[2]\n</results>" in trace.completion_text
    # the results of turn 1 were in the prompt of turn 2
    assert "[2]" in policy.calls[1]["prompt"][-1]["content"]
    tags = trace.deviation_tags()
    assert "code_fence" in tags
    assert [b.tag for b in trace.blocks] == [
        "think",
        "execute",
        "results",
        "think",
        "execute",
        "results",
        "think",
        "edit",
    ]
    g = trace.grpo()
    assert len(g["completion_ids"]) == len(g["env_mask"]) == len(g["logprobs"]) == len(trace.completion_text)
    n_env = sum(len(s.text) for s in trace.segments if s.source == "env")
    assert g["env_mask"].count(0) == n_env > 0
    assert trace.turns == 3


def test_failing_snippet_reports_error_and_continues(twin_path):
    ex = EchoExecutor(
        {"print(1/0)": FakeResult(ok=False, error="division by zero", error_type="ZeroDivisionError")}
    )
    policy = ScriptedPolicy(
        [
            "<think>x</think><execute>print(1/0)</execute>",
            '<edit>[{"op": "recolor", "id": 1, "color": "blue", "rgb": [0, 0, 255]}]</edit>',
        ]
    )
    trace = Rollout(policy, free(), executor_factory=fake_factory(ex)).run(twin_path, "paint the truck blue")
    res = next(s for s in trace.segments if s.tag == "results")
    assert not res.sandbox.ok and "ZeroDivisionError: division by zero" in res.text
    assert trace.status == "ok"


def test_malformed_output_is_repaired_and_recorded(twin_path):
    policy = ScriptedPolicy(["I think it is the car.\n<edit>\n```json\n{'op': 'remove', 'id': 2}\n```\n"])
    trace = Rollout(policy, free(), executor_factory=fake_factory(EchoExecutor({}))).run(twin_path, "no car")
    assert trace.status == "ok", trace.reason
    tags = set(trace.deviation_tags())
    assert {"unclosed_edit", "single_op", "untagged_text"} <= tags
    assert "python_literal" in tags or "json_fence" in tags


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ('<edit>[{"op": "remove", "id": 9}]</edit>', "not in the twin"),
        ('<edit>[{"op": "explode", "id": 1}]</edit>', "bad edit op"),
        ("<edit>remove the car please</edit>", "no JSON"),
        ('<edit>{"frames": [{"t": 0, "instances": [{"id": 1}]}]}</edit>', "missing required field"),
    ],
)
def test_invalid_edits_fail_with_reason(twin_path, reply, reason):
    trace = Rollout(ScriptedPolicy([reply]), free()).run(twin_path, "q")
    assert trace.status == "invalid" and not trace.valid
    assert reason in trace.reason


def test_whole_twin_edit_is_validated(twin_path):
    d = load_twin(twin_path).to_json_dict()
    for f in d["frames"]:
        f["instances"] = [i for i in f["instances"] if i["id"] != 3]
    import json

    trace = Rollout(ScriptedPolicy([f"<edit>{json.dumps(d)}</edit>"]), free()).run(twin_path, "no tree")
    assert trace.status == "ok" and trace.edited_twin is not None


def test_max_turn_exhaustion_records_failure(twin_path):
    policy = ScriptedPolicy(["<think>hmm</think><execute>print(1)</execute>"] * 10)
    ex = EchoExecutor({})
    trace = Rollout(policy, free(max_turns=3), executor_factory=fake_factory(ex)).run(twin_path, "q")
    assert trace.status == "max_turns" and not trace.valid
    assert len(policy.calls) == 3 and len(ex.ran) == 3
    assert "3 turns" in trace.reason


def test_staged_strategy_picks_target_then_edit(twin_path):
    policy = ScriptedPolicy(["The red car passes the truck.</think>", " 2", ' [{"op": "remove", "id": 2}]'])
    cfg = RolloutConfig(strategy="staged", few_shot_k=2, think_tokens=500, edit_tokens=500, fused=False)
    trace = Rollout(policy, cfg).run(twin_path, "Whatever overtakes the truck should go.")
    assert trace.status == "ok", trace.reason
    assert trace.ops == [{"op": "remove", "id": 2}]
    assert trace.completion_text.startswith("The red car")
    assert "<target> 2</target>" in trace.completion_text
    assert [b.tag for b in trace.blocks] == ["think", "target", "edit"]
    # few-shot pairs precede the real question
    roles = [m["role"] for m in trace.prompt_messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]


def test_staged_bad_target_is_recorded(twin_path):
    policy = ScriptedPolicy(["x</think>", "the car", ' [{"op": "remove", "id": 2}]'])
    trace = Rollout(policy, RolloutConfig(strategy="staged", think_tokens=50, fused=False)).run(twin_path, "q")
    assert "bad_target" in trace.deviation_tags()


def test_staged_fused_without_think(twin_path):
    policy = ScriptedPolicy([' 2</target>\n<edit>[{"op": "remove", "id": 2}]</edit>'])
    trace = Rollout(policy, RolloutConfig(strategy="staged", think_tokens=0, few_shot_k=1)).run(twin_path, "q")
    assert trace.status == "ok" and trace.ops == [{"op": "remove", "id": 2}]
    assert len(policy.calls) == 1 and trace.deviations == []
    assert trace.completion_text == '<target> 2</target>\n<edit>[{"op": "remove", "id": 2}]</edit>'
    assert [b.tag for b in trace.blocks] == ["target", "edit"]
    # the few-shot answer has the same form
    assert trace.prompt_messages[-2]["content"].startswith("<target>")


def test_staged_constraints_compile():
    pytest.importorskip("llguidance")
    from river_agent.graphs.rollout import build_constraint

    class P:
        supports_constraints = True

    for kind in ("think", "ids", "edit", "target_edit", "turn"):
        c, name = build_constraint(P(), kind, [1, 2, 5], max_ops=2, allow_frames=False)
        assert name and c.grammar()


def test_resume_after_exception_with_sqlite_checkpointer(twin_path, tmp_path):
    from river_agent.graphs.checkpoint import sqlite_checkpointer

    replies = [
        "<think>a</think><execute>print(find('car'))</execute>",
        "<think>b</think><execute>print(2)</execute>",
        '<edit>[{"op": "remove", "id": 2}]</edit>',
    ]
    policy = ScriptedPolicy(replies, fail_on_call=1)
    ex = EchoExecutor({})
    with sqlite_checkpointer(tmp_path / "ckpt.db") as saver:
        ro = Rollout(policy, free(), executor_factory=fake_factory(ex), checkpointer=saver)
        with pytest.raises(BackendFailure, match="scripted crash"):
            ro.run(twin_path, "q", thread_id="t1")
        assert len(ex.ran) == 1
    with sqlite_checkpointer(tmp_path / "ckpt.db") as saver:
        ro = Rollout(policy, free(), executor_factory=fake_factory(ex), checkpointer=saver)
        trace = ro.resume("t1")
    assert trace.status == "ok", trace.reason
    assert len(ex.ran) == 2  # the first snippet was not run again
    assert trace.completion_text.count("<results>") == 2
    assert trace.id == "t1"


def test_trace_jsonl_round_trip(twin_path, tmp_path):
    policy = ScriptedPolicy(
        ["<think>a</think><execute>print(1)</execute>", '<edit>[{"op": "remove", "id": 2}]</edit>']
    )
    ro = Rollout(policy, free(), executor_factory=fake_factory(EchoExecutor({})))
    traces = [ro.run(twin_path, "q"), ro.run(twin_path, "q2")]
    path = save_traces(tmp_path / "t.jsonl", traces)
    back = load_traces(path)
    assert [t.model_dump() for t in back] == [t.model_dump() for t in traces]
    assert back[1].query == "q2" and back[0].grpo() == traces[0].grpo()


class R1Policy(ScriptedPolicy):
    """Scripted double with an R1-Distill-like chat template: the prompt ends inside <think>."""

    def apply_chat_template(self, messages):
        return "".join(f"<|{m['role']}|>{m['content']}" for m in messages) + "<|Assistant|><think>\n"


def test_r1_template_think_in_prompt(twin_path):
    policy = R1Policy(['The car overtakes.</think><edit>[{"op": "remove", "id": 2}]</edit>'])
    trace = Rollout(policy, free()).run(twin_path, "q")
    assert trace.status == "ok" and trace.deviations == []
    assert [b.tag for b in trace.blocks] == ["think", "edit"]
    assert isinstance(policy.calls[0]["prompt"], str) and policy.calls[0]["prompt"].endswith("<think>\n")


def test_litellm_reasoning_content_is_put_back(twin_path):
    class Moved(ScriptedPolicy):
        def generate(self, prompt, params, constraint=None):
            out = super().generate(prompt, params, constraint)
            out[0].reasoning_content = "The car overtakes."
            return out

    trace = Rollout(Moved(['<edit>[{"op": "remove", "id": 2}]</edit>']), free()).run(twin_path, "q")
    assert trace.status == "ok" and trace.deviation_tags() == ["reasoning_content"]
    assert trace.completion_text.startswith("<think>The car overtakes.</think><edit>")


def test_registry_keeps_a_bounded_number_of_edited_twins(twin_path):
    from river_agent.graphs.state import TwinRegistry
    from river_agent.twin.io import load_twin

    reg = TwinRegistry(max_edited=3)
    twin = load_twin(twin_path)
    for i in range(5):
        reg.put(twin, key=f"edited:{i}")
    mem = reg.put(twin)
    assert sorted(k for k in reg._twins if k.startswith("edited:")) == ["edited:2", "edited:3", "edited:4"]
    reg.drop(mem)
    with pytest.raises(RiverError):
        reg.get(mem)


def test_op_stage_restricts_the_edit_op(twin_path):
    pytest.importorskip("llguidance")

    class Constrainable(ScriptedPolicy):
        supports_constraints = True  # the double ignores the constraints it is given

    policy = Constrainable(["remove", ' 2</target>\n<edit>[{"op": "remove", "id": 2}]</edit>'])
    trace = Rollout(policy, RolloutConfig(strategy="staged", few_shot_k=2)).run(twin_path, "delete the car")
    assert trace.status == "ok" and trace.extra["op_stage"]["op"] == "remove"
    op_prompt = policy.calls[0]["prompt"]
    assert op_prompt[-1]["content"] == "Request: delete the car" and len(op_prompt) == 6
    grammar = policy.calls[1]["constraint"].lark()
    assert '"remove"' in grammar and '"recolor"' not in grammar
