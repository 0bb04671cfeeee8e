"""The twin-level evaluation's rows and summary on hand-made rollouts (no model)."""

from __future__ import annotations

import pytest

from river_agent.rl.data import Item, synth_items
from river_agent.rl.evaluate import rollout_row, summarize
from river_agent.rl.judges import GroundTruthJudge
from river_agent.trace import SandboxRecord, Segment, Trace


@pytest.fixture(scope="module")
def item() -> Item:
    return next(synth_items(7, 1, width=160, height=96, frames=8))


def _item(base: Item, level: int, query: str | None = None) -> Item:
    return base.model_copy(update={"level": level, "query": query or base.query, "twin": base.twin})


def _trace(picked: int, votes: list[list[int] | None], op: str) -> Trace:
    recs = [{"ids": v or [], "ok": v is not None, "error": None if v is not None else "NameError"} for v in votes]
    segs = [
        Segment(tag="execute", source="policy", text="print(find())</execute>", votes=recs),
        Segment(tag="results", source="env", text="<results>[2]</results>", sandbox=SandboxRecord(ok=True)),
    ]
    return Trace(
        query="q", strategy="code", segments=segs, ops=[{"op": op, "id": picked}], valid=True, status="ok"
    )


def test_rows_say_whether_any_sampled_program_had_the_answer(item):
    judge = GroundTruthJudge()
    (t,), op = item.target_ids, item.edit["op"]
    other = next(i for i in item.load_twin().object_ids() if i != t)
    right = rollout_row(_item(item, 1), _trace(t, [[t], [other], None], op), judge)
    assert right["on_target"] and right["right_ids"] and right["any_sample_right"]
    assert (right["samples"], right["samples_ok"], right["samples_right"]) == (3, 2, 1)
    # the vote went to [1] although one program printed [2]: a better vote could have been on target
    outvoted = rollout_row(_item(item, 2), _trace(other, [[other], [other], [t]], op), judge)
    assert not outvoted["on_target"] and outvoted["any_sample_right"]
    missed = rollout_row(
        _item(item, 2, "Erase the blue car."), _trace(other, [[other], None, [other, t]], op), judge
    )
    assert not missed["any_sample_right"] and missed["held_out"] == "phrase:erase"

    s = summarize([right, outvoted, missed])
    assert s["all"]["on_target"] == 0.333 and s["all"]["any_sample_right"] == 0.667
    assert s["L2"]["any_sample_right"] == 0.5 and s["L1"]["sample_ok"] == 0.667
    assert s["all"]["sample_right"] == 0.222 and s["L2"]["sample_right"] == 0.167  # 2 of 9 programs; 1 of 6
    assert s["held-out"]["n"] == 1 and s["seen"]["n"] == 2


def test_rows_say_whether_the_params_do_what_the_request_asks(item):
    judge = GroundTruthJudge()
    (t,) = item.target_ids
    move = {"op": "move", "dx": 0.0, "dy": -0.1}
    moved = _item(item, 1).model_copy(update={"edit": move})
    right = _trace(t, [[t]], "move").model_copy(update={"ops": [{"op": "move", "id": t, "dx": 0.0, "dy": -0.08}]})
    wrong = right.model_copy(update={"ops": [{"op": "move", "id": t, "dx": 0.0, "dy": 0.08}]})
    assert rollout_row(moved, right, judge)["right_params"]
    row = rollout_row(moved, wrong, judge)
    assert row["on_target"] and not row["right_params"]  # the default judge checks ids and op only
    assert summarize([rollout_row(moved, right, judge), row])["all"]["right_params"] == 0.5
