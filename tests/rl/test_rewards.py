"""GRPO rewards on hand-written traces of each kind, with exact values, and called the way trl calls them."""

from __future__ import annotations

import doctest
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import pytest

from river_agent.errors import RiverError
from river_agent.graphs.parsing import parse_blocks
from river_agent.rl import rewards
from river_agent.rl.judges import CaseInfo, GroundTruthJudge, JudgeVerdict
from river_agent.rl.rewards import (
    FORMAT_DEVIATIONS,
    RewardConfig,
    dt_value,
    exec_value,
    make_reward_funcs,
    op_value,
    picked_ids,
    target_value,
    token_value,
    total_reward,
)
from river_agent.trace import Deviation, SandboxRecord, Segment, Trace
from tests.graphs.test_rollout import FakeResult as _Run

OPS = [{"op": "remove", "id": 3}]
EDIT_JSON = json.dumps(OPS)
CASE = CaseInfo(query="Remove the red dog.", target_ids=[3], edit={"op": "remove"}, level=1)


def make_trace(
    strategy: str,
    transcript: str,
    *,
    sandbox: list[SandboxRecord] | None = None,
    deviations: tuple[str, ...] = (),
    ops: list[dict] | None = OPS,
    status: str = "ok",
    think_open: bool = False,
) -> Trace:
    """A trace as the rollout writes it: blocks parsed from the transcript, one results segment per run."""
    blocks, _ = parse_blocks(transcript, think_open=think_open)
    segments = [Segment(tag="think", text=transcript)]
    for rec in sandbox or []:
        segments.append(Segment(tag="execute", text="<execute>...</execute>"))
        segments.append(Segment(tag="results", source="env", text="<results>...</results>", sandbox=rec))
    return Trace(
        query=CASE.query,
        strategy=strategy,
        segments=segments,
        blocks=blocks,
        deviations=[Deviation(tag=d) for d in deviations],
        status=status,  # type: ignore[arg-type]
        valid=status == "ok",
        ops=ops if status == "ok" else None,
        reason="" if status == "ok" else "edit names object 9, which is not in the twin",
    )


OK_RUN = SandboxRecord(ok=True, output="[3]")
ERR_RUN = SandboxRecord(ok=False, error="name 'x' is not defined", error_type="NameError")

STAGED_OK = make_trace("staged", f"<target>3</target>\n<edit>{EDIT_JSON}</edit>")
STAGED_THINK = make_trace("staged", f"<think>the red one</think>\n<target>3</target>\n<edit>{EDIT_JSON}</edit>")
# fused staged generation without </target>: the harness records the deviation, the <edit> opens inside <target>
STAGED_UNCLOSED = make_trace("staged", f"<target>3\n<edit>{EDIT_JSON}</edit>", deviations=("unclosed_target",))
FREE_OK = make_trace(
    "free",
    "<think>find it</think>\n<execute>print(find('dog', color='red'))</execute>\n<results>\n[3]\n</results>\n"
    f"<think>it is 3</think>\n<edit>{EDIT_JSON}</edit>",
    sandbox=[OK_RUN],
)
FREE_NO_CLOSE_THINK = make_trace(
    "free",
    f"<think>find it\n<execute>print(find('dog'))</execute>\n<results>\n[3]\n</results>\n<edit>{EDIT_JSON}</edit>",
    sandbox=[OK_RUN],
)
FREE_EXEC_ERROR = make_trace(
    "free",
    "<think>find it</think>\n<execute>print(x)</execute>\n<results>\nerror: NameError\n</results>\n"
    f"<think>guess 3</think>\n<edit>{EDIT_JSON}</edit>",
    sandbox=[ERR_RUN],
)
FREE_INVALID = make_trace(
    "free",
    "<think>find it</think>\n<execute>print(1)</execute>\n<results>\n1\n</results>\n"
    '<edit>[{"op": "remove", "id": 9}]</edit>',
    sandbox=[OK_RUN],
    status="invalid",
)
CODE_OK = make_trace(
    "code",
    "<execute>\nprint(find('dog', color='red'))</execute>\n<results>\n[3]\n</results>\n\n"
    f"<edit>{EDIT_JSON}</edit>",
    sandbox=[OK_RUN],
)


# ------------------------------------------------------------------------------------------------ R_token
@pytest.mark.parametrize(
    ("trace", "cfg", "want"),
    [
        (STAGED_OK, RewardConfig(), 0.0),
        (STAGED_THINK, RewardConfig(), 0.0),
        (STAGED_UNCLOSED, RewardConfig(), -1.0),
        (STAGED_OK, RewardConfig(staged_format="paper"), -1.0),
        (FREE_OK, RewardConfig(), 0.0),
        (FREE_NO_CLOSE_THINK, RewardConfig(), -1.0),
        (FREE_EXEC_ERROR, RewardConfig(), 0.0),
        (CODE_OK, RewardConfig(), 0.0),
    ],
    ids=["staged", "staged-think", "staged-unclosed-target", "staged-paper", "free", "free-no-</think>",
         "free-exec-error", "code"],
)  # fmt: skip
def test_token_reward_per_kind(trace: Trace, cfg: RewardConfig, want: float) -> None:
    value, why = token_value(trace, cfg)
    assert value == want, why


def test_token_reasons_name_the_problem() -> None:
    assert "unclosed_target" in token_value(STAGED_UNCLOSED)[1]
    assert "unclosed <think>" in token_value(FREE_NO_CLOSE_THINK)[1]
    assert "free rule" in token_value(STAGED_OK, RewardConfig(staged_format="paper"))[1]


def test_token_order_rules() -> None:
    # free without any execute round, edit before execute, think missing: all fail the paper's order
    assert token_value(make_trace("free", f"<think>a</think><edit>{EDIT_JSON}</edit>"))[0] == -1.0
    swapped = f"<think>a</think><edit>{EDIT_JSON}</edit><execute>x</execute><results>1</results>"
    assert token_value(make_trace("free", swapped, sandbox=[OK_RUN]))[0] == -1.0
    no_think = f"<execute>x</execute><results>1</results><edit>{EDIT_JSON}</edit>"
    assert token_value(make_trace("free", no_think, sandbox=[OK_RUN]))[0] == -1.0
    assert token_value(make_trace("code", no_think, sandbox=[OK_RUN]))[0] == 0.0  # code: think optional
    # staged: target after edit, or a missing target
    assert token_value(make_trace("staged", f"<edit>{EDIT_JSON}</edit><target>3</target>"))[0] == -1.0
    assert token_value(make_trace("staged", f"<edit>{EDIT_JSON}</edit>"))[0] == -1.0
    # two rounds of think/execute/results are fine; an R1 template opening <think> in the prompt too
    two = (
        "<think>a</think><execute>x</execute><results>1</results><think>b</think>"
        f"<execute>y</execute><results>2</results><edit>{EDIT_JSON}</edit>"
    )
    assert token_value(make_trace("free", two, sandbox=[OK_RUN, OK_RUN]))[0] == 0.0
    r1 = f"a</think><execute>x</execute><results>1</results><edit>{EDIT_JSON}</edit>"
    assert token_value(make_trace("free", r1, sandbox=[OK_RUN], think_open=True))[0] == 0.0


def test_token_deviation_list_is_configurable() -> None:
    repaired = make_trace("staged", STAGED_OK.completion_text, deviations=("unclosed_edit",))
    fenced = make_trace("staged", STAGED_OK.completion_text, deviations=("json_fence", "code_fence"))
    wrote_results = make_trace("staged", STAGED_OK.completion_text, deviations=("model_wrote_results",))
    untagged = make_trace("staged", "Sure!\n" + STAGED_OK.completion_text, deviations=("untagged_text",))
    assert token_value(repaired)[0] == -1.0  # unclosed_* counts
    assert token_value(wrote_results)[0] == -1.0
    assert token_value(fenced)[0] == 0.0  # content repairs do not
    assert token_value(untagged)[0] == 0.0  # untagged text is ignored by default ...
    strict = RewardConfig(format_deviations=(*FORMAT_DEVIATIONS, "untagged_text"))
    assert token_value(untagged, strict)[0] == -1.0  # ... unless listed


def test_strategy_unknown_uses_default() -> None:
    trace = STAGED_OK.model_copy(update={"strategy": None})
    assert token_value(trace)[0] == -1.0  # default rule: free (the paper)
    assert token_value(trace, RewardConfig(default_strategy="staged"))[0] == 0.0
    with pytest.raises(RiverError):
        RewardConfig(staged_format="loose")


# ------------------------------------------------------------------------------------------- R_exec, R_dt
def test_exec_reward() -> None:
    assert exec_value(FREE_OK)[0] == 0.0
    value, why = exec_value(FREE_EXEC_ERROR)
    assert value == -0.5 and "NameError" in why
    timed_out = make_trace("code", CODE_OK.completion_text, sandbox=[SandboxRecord(ok=True, timed_out=True)])
    assert exec_value(timed_out)[0] == -0.5
    assert exec_value(make_trace("code", CODE_OK.completion_text, sandbox=[OK_RUN, ERR_RUN]))[0] == -0.5
    # an <execute> block whose code never ran (no sandbox record) is a failure too
    assert exec_value(make_trace("code", CODE_OK.completion_text, sandbox=[]))[0] == -0.5
    # no <execute> at all: configurable, 0 by default
    assert exec_value(STAGED_OK) == (0.0, "no <execute>")
    assert exec_value(STAGED_OK, RewardConfig(no_execute=-0.25))[0] == -0.25


def test_dt_reward() -> None:
    assert dt_value(FREE_OK)[0] == 0.5
    value, why = dt_value(FREE_INVALID)
    assert value == -0.5 and "object 9" in why


# --------------------------------------------------------------------------------------- R_perf and total
@pytest.mark.parametrize(
    ("trace", "want"),
    [
        (STAGED_OK, {"token": 0.0, "execute": 0.0, "dt": 0.5, "perf": 1.0, "total": 1.5}),
        (STAGED_UNCLOSED, {"token": -1.0, "execute": 0.0, "dt": 0.5, "perf": 1.0, "total": 0.5}),
        (FREE_OK, {"token": 0.0, "execute": 0.0, "dt": 0.5, "perf": 1.0, "total": 1.5}),
        (FREE_NO_CLOSE_THINK, {"token": -1.0, "execute": 0.0, "dt": 0.5, "perf": 1.0, "total": 0.5}),
        (FREE_EXEC_ERROR, {"token": 0.0, "execute": -0.5, "dt": 0.5, "perf": 1.0, "total": 1.0}),
        (FREE_INVALID, {"token": 0.0, "execute": 0.0, "dt": -0.5, "perf": -1.0, "total": -1.5}),
        (None, {"token": -1.0, "execute": -0.5, "dt": -0.5, "perf": -1.0, "total": -3.0}),
    ],
    ids=["staged", "staged-unclosed", "free", "free-no-</think>", "exec-error", "invalid", "no-trace"],
)
def test_total_reward(trace: Trace | None, want: dict[str, float]) -> None:
    got = total_reward(trace, CASE, RewardConfig(), GroundTruthJudge())
    assert got.model_dump(include=set(want)) == want
    assert got.target is None and got.op is None  # shaped rewards are off by default


def test_total_reward_weights_and_shaped() -> None:
    cfg = RewardConfig(alpha=0.5, beta=2.0, shaped=True, shaped_weight=0.1)
    got = total_reward(FREE_EXEC_ERROR.model_dump(), CASE.model_dump(), cfg, GroundTruthJudge())
    assert (got.target, got.op) == (1.0, 0.5)
    assert got.total == pytest.approx(0.5 * (0.0 - 0.5 + 0.5) + 2.0 * 1.0 + 0.1 * 1.5)
    wrong = make_trace("staged", STAGED_OK.completion_text, ops=[{"op": "remove", "id": 4}])
    got = total_reward(wrong, CASE, RewardConfig(), GroundTruthJudge())
    assert got.perf == -1.0 and "4" in got.reasons["perf"]


def test_judge_that_raises_scores_minus_one() -> None:
    class Broken:
        def judge(self, trace: Trace, case: CaseInfo) -> JudgeVerdict:
            raise RuntimeError("boom")

    got = total_reward(STAGED_OK, CASE, RewardConfig(), Broken())
    assert got.perf == -1.0 and "boom" in got.reasons["perf"]


# ------------------------------------------------------------------------------------------- shaped rewards
def test_target_and_op_rewards() -> None:
    two = make_trace(
        "staged", STAGED_OK.completion_text, ops=[{"op": "remove", "id": 3}, {"op": "remove", "id": 4}]
    )
    assert target_value(STAGED_OK, [3])[0] == 1.0
    assert target_value(two, [3])[0] == pytest.approx(2 * 0.5 - 1)  # Jaccard 1/2
    assert target_value(two, [3, 4, 5, 6])[0] == pytest.approx(2 * 0.5 - 1)  # 2 of 4
    assert target_value(STAGED_OK, [7])[0] == -1.0
    assert target_value(STAGED_OK, None)[0] == 0.0
    assert op_value(STAGED_OK, {"op": "remove"})[0] == 0.5
    assert op_value(STAGED_OK, {"op": "recolor", "color": "red"})[0] == -0.5
    assert op_value(FREE_INVALID, {"op": "remove"})[0] == 0.0  # no ops
    assert op_value(None, {"op": "remove"})[0] == -0.5


def test_picked_ids_fall_back_to_target_block() -> None:
    assert picked_ids(STAGED_OK) == [3]
    no_ops = make_trace("staged", "<target>4, 2</target>\n<edit>oops</edit>", ops=None, status="invalid")
    assert picked_ids(no_ops) == [2, 4]
    assert picked_ids(no_ops.model_copy(update={"extra": {"target_ids": [5]}})) == [5]


# --------------------------------------------------------------------------------------------- trl calling
def _trl_kwargs(traces: list) -> dict:
    n = len(traces)
    return {
        "prompts": [f"item-{i}" for i in range(n)],
        "completions": [""] * n,
        "completion_ids": [[1, 2]] * n,
        "trace": traces,
        "target_ids": [[3]] * n,
        "edit": [json.dumps({"op": "remove"})] * n,  # trl datasets store the edit as JSON text
        "level": [1] * n,
        "case_dir": [""] * n,
        "query": [CASE.query] * n,
        "trainer_state": None,
        "log_metric": lambda name, value: None,
    }


def test_make_reward_funcs_the_trl_way() -> None:
    funcs, weights = make_reward_funcs(RewardConfig(alpha=0.5, beta=2.0), GroundTruthJudge())
    assert [f.__name__ for f in funcs] == ["token_reward", "exec_reward", "dt_reward", "perf_reward"]
    assert weights == [0.5, 0.5, 0.5, 2.0]
    traces = [STAGED_OK.model_dump(mode="json", exclude_none=True), FREE_EXEC_ERROR, FREE_INVALID, None]
    logged: dict[str, list] = {}
    kwargs = {**_trl_kwargs(traces), "log_extra": lambda col, values: logged.setdefault(col, values)}
    out = {f.__name__: f(**kwargs) for f in funcs}
    assert out == {
        "token_reward": [0.0, 0.0, 0.0, -1.0],
        "exec_reward": [0.0, -0.5, 0.0, -0.5],
        "dt_reward": [0.5, 0.5, -0.5, -0.5],
        "perf_reward": [1.0, 1.0, -1.0, -1.0],
    }
    assert all(isinstance(v, float) for vals in out.values() for v in vals)
    assert len(logged["judge"]) == 4 and "not valid" in logged["judge"][2]


def test_make_reward_funcs_shaped() -> None:
    funcs, weights = make_reward_funcs(RewardConfig(shaped=True, shaped_weight=0.3), GroundTruthJudge())
    assert [f.__name__ for f in funcs][4:] == ["target_reward", "op_reward"]
    assert weights == [1.0, 1.0, 1.0, 1.0, 0.3, 0.3]
    kwargs = _trl_kwargs(
        [STAGED_OK, make_trace("staged", STAGED_OK.completion_text, ops=[{"op": "move", "id": 4}])]
    )
    assert funcs[4](**kwargs) == [1.0, -1.0]
    assert funcs[5](**kwargs) == [0.5, -0.5]


def test_reward_funcs_without_traces_score_worst() -> None:
    funcs, _ = make_reward_funcs(RewardConfig(), GroundTruthJudge())
    outs = [f(prompts=["a", "b"], completions=["x", "y"]) for f in funcs]
    assert outs == [[-1.0, -1.0], [-0.5, -0.5], [-0.5, -0.5], [-1.0, -1.0]]


def test_docstring_examples() -> None:
    result = doctest.testmod(rewards, raise_on_error=False)
    assert result.attempted >= 8 and result.failed == 0


# ------------------------------------------------------------------------------------ traces of real rollouts


class _TableExecutor:
    """A no-op sandbox answering each snippet from a table (anything else prints nothing)."""

    table: ClassVar[dict[str, _Run]] = {
        'print(find("car", color="red"))': _Run(ok=True, output="[2]"),
        "print(1/0)": _Run(ok=False, error="division by zero", error_type="ZeroDivisionError"),
    }

    def run(self, code: str) -> _Run:
        return self.table.get(code.strip(), _Run(ok=True, output=""))


@contextmanager
def _executor(twin: object) -> Iterator[_TableExecutor]:
    yield _TableExecutor()


REMOVE_2 = '[{"op": "remove", "id": 2}]'
FIND = 'print(find("car", color="red"))'
STAGED = {"strategy": "staged", "think_tokens": 0, "few_shot_k": 1}
FREE = {"strategy": "free", "max_new_tokens": 4000}
CODE = {"strategy": "code", "constrained": False}
REAL_ROLLOUTS = {
    "staged": (STAGED, [f" 2</target>\n<edit>{REMOVE_2}</edit>"], (0.0, 0.0, 0.5)),
    "staged-no-</target>": ({**STAGED, "constrained": False}, [f" 2\n<edit>{REMOVE_2}</edit>"], (-1.0, 0.0, 0.5)),
    "staged-think": (
        {**STAGED, "think_tokens": 50, "fused": False},
        ["The red car.</think>", " 2</target>", f" {REMOVE_2}</edit>"],
        (0.0, 0.0, 0.5),
    ),
    "free": (
        FREE,
        [f"<think>a</think><execute>{FIND}</execute>", f"<think>b</think><edit>{REMOVE_2}</edit>"],
        (0.0, 0.0, 0.5),
    ),
    "free-exec-error": (
        FREE,
        ["<think>a</think><execute>print(1/0)</execute>", f"<edit>{REMOVE_2}</edit>"],
        (0.0, -0.5, 0.5),
    ),
    "free-no-</think>": (
        FREE,
        ["<think>a<execute>print(2)</execute>", f"<think>b</think><edit>{REMOVE_2}</edit>"],
        (-1.0, 0.0, 0.5),
    ),
    "code": (CODE, [f"{FIND}\n</execute>", f"{REMOVE_2}</edit>"], (0.0, 0.0, 0.5)),
    "code-invalid": (CODE, [f"{FIND}\n</execute>", '[{"op": "remove", "id": 99}]</edit>'], (0.0, 0.0, -0.5)),
}


@pytest.mark.parametrize(("config", "replies", "want"), list(REAL_ROLLOUTS.values()), ids=list(REAL_ROLLOUTS))
def test_rewards_of_real_rollouts(tmp_path, config: dict, replies: list[str], want: tuple) -> None:
    from river_agent.graphs.rollout import Rollout, RolloutConfig
    from tests.agent_fixtures import make_twin
    from tests.scripted_policy import ScriptedPolicy

    rollout = Rollout(ScriptedPolicy(replies), RolloutConfig(**config), executor_factory=_executor)
    trace = rollout.run(make_twin(tmp_path / "twin"), "remove the red car")
    got = (token_value(trace)[0], exec_value(trace)[0], dt_value(trace)[0])
    assert got == want, (token_value(trace), exec_value(trace), dt_value(trace), trace.completion_text)
