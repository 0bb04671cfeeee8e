"""Parameters a request states outright (move direction, resize way) and ops made to agree with them."""

from __future__ import annotations

import pytest

from river_agent.graphs.request_params import DEFAULT_SHIFT, StatedParams, ground_op, ground_ops, stated_params
from river_agent.graphs.rollout import Rollout, RolloutConfig
from tests.agent_fixtures import make_twin
from tests.scripted_policy import ScriptedPolicy


@pytest.mark.parametrize(
    ("query", "dx", "dy"),
    [
        ("Shift the object that overtakes the pink car up.", 0, -1),
        ("Shift the purple container down.", 0, 1),
        ("Push the automobile with dots a bit to the right.", 1, 0),
        ("Push the fastest of the things in motion a bit to the left and down.", -1, 1),
        # wordings the benchmark generator never uses
        ("Nudge the dog leftwards", -1, 0),
        ("Lower the red ball a little", 0, 1),
        ("Raise the kite", 0, -1),
        ("Put the ball higher up in the frame", 0, -1),
        ("could you slide the van towards the bottom and to the right?", 1, 1),
        # direction words that describe the object, not the move
        ("The thing to the right of the green ball should sit a little further to the left.", -1, 0),
        ("Move the car that pulls up to the left", -1, 0),
        ("Move the left ball right", 1, 0),
        ("Move the rightmost car to the left", -1, 0),
        ("Slide the truck that drives to the left upwards", 0, -1),
        ("Move the car that is left of the truck down", 0, 1),
    ],
)
def test_stated_direction(query, dx, dy):
    s = stated_params(query)
    assert (s.dx, s.dy) == (dx, dy)


@pytest.mark.parametrize(
    "query",
    [
        "Paint the car on the right red",
        "Move the ball somewhere else",
        "Move the car left, no, right",
        "Remove it",
    ],
)
def test_no_or_contradictory_direction_is_unknown(query):
    s = stated_params(query)
    assert s.dx is None and s.dy is None


@pytest.mark.parametrize(
    ("query", "grow"),
    [
        ("Enlarge the smaller ball", 1),
        ("Make the biggest thing smaller", -1),
        ("Scale the dog that is brown down.", -1),
        ("Scale up the box", 1),
        ("Make it twice as big", 1),
        ("Halve the size of the tree", -1),
        ("Shrink the dog that grows", -1),
        ("Recolour the bigger dog", None),
        ("Make the bigger one smaller and larger", None),
    ],
)
def test_stated_resize_way(query, grow):
    assert stated_params(query).grow == grow


def test_move_against_the_request_gets_its_signs_and_keeps_its_magnitudes():
    up = StatedParams(dx=0, dy=-1)
    op, note = ground_op({"op": "move", "id": 3, "dx": 0.12, "dy": 0.08}, up)
    assert op == {"op": "move", "id": 3, "dx": 0.0, "dy": -0.08}
    assert note and "->" in note
    left_down = StatedParams(dx=-1, dy=1)
    op, _ = ground_op({"op": "move", "id": 3, "dx": -0.15, "dy": 0.0}, left_down)
    assert op["dx"] == -0.15 and op["dy"] == DEFAULT_SHIFT  # a stated axis the policy left at 0 gets a shift


def test_agreeing_or_unrelated_ops_are_left_alone():
    up = StatedParams(dx=0, dy=-1, grow=1)
    for op in (
        {"op": "move", "id": 1, "dx": 0.0, "dy": -0.1},
        {"op": "recolor", "id": 1, "color": "red"},
        {"op": "resize", "id": 1, "scale": 1.4},
        {"op": "move", "id": 1, "dx": "far", "dy": 0.1},  # malformed: validation's business
    ):
        assert ground_op(op, up) == (op, None)
    assert ground_op({"op": "move", "id": 1, "dx": 0.3, "dy": 0.1}, StatedParams()) == (
        {"op": "move", "id": 1, "dx": 0.3, "dy": 0.1},
        None,
    )


def test_resize_the_wrong_way_is_inverted():
    op, note = ground_op({"op": "resize", "id": 2, "scale": 1.5}, StatedParams(grow=-1))
    assert op["scale"] == pytest.approx(0.67) and note
    op, _ = ground_op({"op": "resize", "id": 2, "scale": 1.0}, StatedParams(grow=1))
    assert op["scale"] > 1


def test_ground_ops_notes_each_changed_op():
    ops, notes = ground_ops(
        [{"op": "move", "id": 1, "dx": 0.1, "dy": 0.0}, {"op": "remove", "id": 2}], "Move the car to the left."
    )
    assert ops[0]["dx"] == -0.1 and ops[1] == {"op": "remove", "id": 2}
    assert len(notes) == 1 and notes[0].startswith("op 1:")


@pytest.fixture(scope="module")
def twin_path(tmp_path_factory):
    return make_twin(tmp_path_factory.mktemp("ground"))


@pytest.mark.parametrize("ground", [True, False])
def test_rollout_grounds_the_edit_and_records_it(twin_path, ground):
    policy = ScriptedPolicy(
        ['print(find("car", color="red"))\n</execute>', '[{"op": "move", "id": 2, "dx": 0.0, "dy": 0.08}]</edit>']
    )
    cfg = RolloutConfig(strategy="code", constrained=False, ground_params=ground)
    trace = Rollout(policy, cfg).run(twin_path, "Move the red car up a bit")
    assert trace.status == "ok", trace.reason
    dy = trace.ops[0]["dy"]
    if ground:
        assert dy == -0.08 and "param_grounded" in trace.deviation_tags()
    else:
        assert dy == 0.08 and "param_grounded" not in trace.deviation_tags()
