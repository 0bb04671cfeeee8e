"""The code strategy: one program in <execute>, <results> from the real sandbox, then the edit on those ids."""

from __future__ import annotations

import pytest

from river_agent.graphs.rollout import Rollout, RolloutConfig, ids_from_output
from tests.agent_fixtures import make_twin
from tests.scripted_policy import ScriptedPolicy


@pytest.fixture(scope="module")
def twin_path(tmp_path_factory):
    return make_twin(tmp_path_factory.mktemp("code"))


def code(**kw) -> RolloutConfig:
    return RolloutConfig(strategy="code", constrained=False, **kw)


def test_program_results_then_edit_on_printed_ids(twin_path):
    policy = ScriptedPolicy(['print(find("car", color="red"))\n</execute>', '[{"op": "remove", "id": 2}]</edit>'])
    trace = Rollout(policy, code()).run(twin_path, "remove the red car")
    assert trace.status == "ok", trace.reason
    assert trace.ops == [{"op": "remove", "id": 2}]
    tags = [(s.source, s.tag) for s in trace.segments]
    assert tags == [
        ("env", "execute"),
        ("policy", "execute"),
        ("env", "results"),
        ("env", "edit"),
        ("policy", "edit"),
    ]
    results = trace.segments[2]
    assert results.sandbox is not None and results.sandbox.ok
    assert "[2]" in results.text
    assert trace.segments[1].code == 'print(find("car", color="red"))'
    # the prompt is lean: the object list and the request, no per-frame view
    user = trace.prompt_messages[-1]["content"]
    assert "#2 car (red)" in user and "remove the red car" in user and "t0:(" not in user


def test_failed_program_is_retried_once(twin_path):
    policy = ScriptedPolicy(
        ["print(find('car')[5])</execute>", "print(find('truck'))</execute>", '[{"op": "remove", "id": 1}]</edit>']
    )
    trace = Rollout(policy, code()).run(twin_path, "remove the truck")
    assert trace.status == "ok"
    runs = [s.sandbox for s in trace.segments if s.sandbox is not None]
    assert [r.ok for r in runs] == [False, True]
    assert "IndexError" in (runs[0].error_type or "") + (runs[0].error or "")
    assert trace.segments[3].text.startswith("\n<execute>")  # the second program gets its own opener


def test_no_ids_after_all_programs_edits_over_all_objects_with_a_deviation(twin_path):
    policy = ScriptedPolicy(
        ["print('hello')</execute>", "print(1/0)</execute>", '[{"op": "remove", "id": 3}]</edit>']
    )
    trace = Rollout(policy, code(max_executes=2)).run(twin_path, "remove it")
    assert "no_target_ids" in trace.deviation_tags()
    assert trace.status == "ok" and trace.ops == [{"op": "remove", "id": 3}]


def test_unclosed_program_is_closed_and_recorded(twin_path):
    policy = ScriptedPolicy(["print(find('tree'))", '[{"op": "remove", "id": 3}]</edit>'])
    trace = Rollout(policy, code()).run(twin_path, "remove the tree")
    assert "unclosed_execute" in trace.deviation_tags()
    assert trace.segments[2].sandbox.ok  # the program still ran
    assert trace.status == "ok"


def test_grpo_mask_covers_only_policy_tokens(twin_path):
    policy = ScriptedPolicy(["print(find('tree'))</execute>", '[{"op": "remove", "id": 3}]</edit>'])
    trace = Rollout(policy, code()).run(twin_path, "remove the tree")
    batch = trace.grpo()
    assert len(batch["completion_ids"]) == len(batch["env_mask"]) == len(batch["logprobs"])
    policy_text = "".join(s.text for s in trace.segments if s.source == "policy")
    assert sum(batch["env_mask"]) == len(policy_text)  # scripted tokens are one per character
    assert 0 < sum(batch["env_mask"]) < len(batch["env_mask"])


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("[3, 5]\n", [3, 5]),
        ("candidates: [1, 2]\n[2]", [2]),
        ("2\n", [2]),
        ("[]", []),
        ("[9, 2, 2]", [2]),  # unknown ids dropped, repeats removed
        ("no ids here", []),
        ("", []),
    ],
)
def test_ids_from_output(output, expected):
    assert ids_from_output(output, [1, 2, 3, 5]) == expected


def test_sampled_programs_vote_and_the_majority_answer_is_kept(twin_path):
    programs = [
        "print(find('car')[9])</execute>",  # IndexError: no vote
        "print(find('truck'))</execute>",
        "print([i for i in find() if obj(i).category == 'truck'])</execute>",
        "print(find('tree'))</execute>",
    ]
    policy = ScriptedPolicy([programs, '[{"op": "remove", "id": 1}]</edit>'])
    trace = Rollout(policy, code(code_samples=4, temperature=0.0)).run(twin_path, "remove the truck")
    assert policy.calls[0]["params"].n == 4 and policy.calls[0]["params"].temperature == 0.7
    assert policy.calls[1]["params"].temperature == 0.0  # the edit keeps the rollout's temperature
    assert trace.status == "ok" and trace.ops == [{"op": "remove", "id": 1}]
    kept = trace.segments[1]
    assert kept.code == "print(find('truck'))"  # the first program printing the majority ids
    assert [v["ok"] for v in kept.votes] == [False, True, True, True]
    assert [v["ids"] for v in kept.votes] == [[], [1], [1], [3]]
    assert [v["chosen"] for v in kept.votes] == [False, True, False, False]
    assert trace.segments[2].sandbox.ok and "[1]" in trace.segments[2].text


def test_a_retry_after_voting_is_one_program(twin_path):
    policy = ScriptedPolicy(
        [
            ["print(1/0)</execute>", "print(x)</execute>"],
            "print(find('truck'))</execute>",
            '[{"op": "remove", "id": 1}]</edit>',
        ]
    )
    trace = Rollout(policy, code(code_samples=2)).run(twin_path, "remove the truck")
    assert [c["params"].n for c in policy.calls[:2]] == [2, 1]
    assert trace.segments[1].votes is not None and trace.segments[4].votes is None
    assert trace.ops == [{"op": "remove", "id": 1}]


def test_a_one_object_request_prefers_one_id_answers(twin_path):
    programs = [
        "print(find())</execute>",  # all three ids: a misreading of "the truck"
        "print(sorted(find()))</execute>",
        "print([i for i in find() if obj(i).category == 'truck'])</execute>",
    ]
    policy = ScriptedPolicy([programs, '[{"op": "remove", "id": 1}]</edit>'])
    trace = Rollout(policy, code(code_samples=3)).run(twin_path, "remove the truck")
    kept = trace.segments[1]
    assert [v["counted"] for v in kept.votes] == [False, False, True]
    assert [v["chosen"] for v in kept.votes] == [False, False, True]
    assert "[1]" in trace.segments[2].text

    plain = ScriptedPolicy([programs, '[{"op": "remove", "id": 1}]</edit>'])
    trace = Rollout(plain, code(code_samples=3, vote_by_number=False)).run(twin_path, "remove the truck")
    assert trace.segments[1].votes[0]["chosen"]  # plain majority: the two many-id programs win


def test_a_several_object_request_keeps_many_id_answers(twin_path):
    programs = [
        "print(find())</execute>",
        "print(sorted(find()))</execute>",
        "print(find('truck'))</execute>",
    ]
    policy = ScriptedPolicy([programs, '[{"op": "remove", "id": 1}]</edit>'])
    trace = Rollout(policy, code(code_samples=3)).run(twin_path, "remove all the objects")
    assert [v["chosen"] for v in trace.segments[1].votes] == [True, False, False]


def test_a_tied_vote_goes_to_the_likeliest_program(twin_path):
    programs = [
        "print([i for i in find() if obj(i).category == 'tree'])</execute>",  # longer: lower summed logprob
        "print(find('truck'))</execute>",
    ]
    policy = ScriptedPolicy([programs, '[{"op": "remove", "id": 1}]</edit>'])
    trace = Rollout(policy, code(code_samples=2)).run(twin_path, "remove the one that matters")
    votes = trace.segments[1].votes
    assert votes[1]["logprob"] > votes[0]["logprob"]
    assert [v["chosen"] for v in votes] == [False, True]
