import pytest
from pydantic import ValidationError

from river_agent.errors import EditError
from river_agent.twin import (
    Move,
    Recolor,
    Remove,
    Replace,
    Resize,
    Restyle,
    SetAttribute,
    apply_ops,
    diff_twins,
    ops_from_diff,
    parse_ops,
)
from river_agent.twin.synthetic import make_synthetic_twin


@pytest.fixture
def twin(tmp_path):
    return make_synthetic_twin(tmp_path / "t", num_frames=10, num_objects=4, width=96, height=64, seed=1)


def _key(op):
    return op.model_dump()


@pytest.mark.parametrize(
    "ops",
    [
        [Remove(id=2)],
        [Recolor(id=1, color="purple", rgb=(120, 30, 200))],
        [Recolor(id=3, color="teal")],
        [Move(id=1, dx=0.1, dy=-0.05)],
        [Resize(id=4, scale=1.5)],
        [Replace(id=2, category="bicycle")],
        [Restyle(id=3, style="striped")],
        [SetAttribute(id=1, key="pattern", value="dotted")],
        [Recolor(id=1, color="orange", frames=(2, 5)), Remove(id=2, frames=(6, 9)), Move(id=3, dx=0.05, dy=0.0)],
    ],
)
def test_apply_then_diff_recovers_ops(twin, ops):
    edited = apply_ops(twin, ops)
    recovered = ops_from_diff(twin, diff_twins(twin, edited))
    assert sorted(map(_key, recovered), key=str) == sorted(map(_key, ops), key=str)
    # and re-applying the recovered ops gives the same edited twin
    assert apply_ops(twin, recovered) == edited


def test_apply_does_not_touch_the_original(twin):
    before = twin.copy_twin()
    apply_ops(twin, [Remove(id=1), Recolor(id=2, color="red")])
    assert twin == before


def test_remove_drops_instances_only_in_range(twin):
    edited = apply_ops(twin, [Remove(id=1, frames=(0, 4))])
    assert edited.frames_of(1) == [t for t in twin.frames_of(1) if t > 4]


def test_move_shifts_positions_and_bbox(twin):
    edited = apply_ops(twin, [Move(id=1, dx=0.25, dy=0.5)])
    a, b = twin.frames[0].instance(1), edited.frames[0].instance(1)
    assert b.spatial.x == pytest.approx(a.spatial.x + 24)
    assert b.spatial.y == pytest.approx(a.spatial.y + 32)
    assert b.spatial.bbox[0] == a.spatial.bbox[0] + 24


def test_unknown_id_and_bad_params_are_rejected(twin):
    with pytest.raises(EditError, match="not in the twin"):
        apply_ops(twin, [Remove(id=42)])
    with pytest.raises(EditError, match="empty frame range"):
        apply_ops(twin, [Remove(id=1, frames=(5, 2))])
    with pytest.raises(ValidationError):
        parse_ops([{"op": "recolor", "id": 1, "color": "red", "rgb": [300, 0, 0]}])
    with pytest.raises(ValidationError):
        parse_ops([{"op": "explode", "id": 1}])
    with pytest.raises(ValidationError):
        parse_ops([{"op": "resize", "id": 1, "scale": -2}])


def test_parse_ops_from_llm_json():
    ops = parse_ops([{"op": "remove", "id": 3}, {"op": "move", "id": 1, "dx": 0.1, "dy": 0, "frames": [0, 4]}])
    assert isinstance(ops[0], Remove) and isinstance(ops[1], Move) and ops[1].frames == (0, 4)


def test_diff_reports_frames_and_kinds(twin):
    edited = apply_ops(twin, [Remove(id=2, frames=(3, 5)), Replace(id=1, category="bus")])
    diff = diff_twins(twin, edited)
    kinds = {(c.id, c.kind): c.frames for c in diff.changes}
    assert kinds[(2, "removed")] == [t for t in twin.frames_of(2) if 3 <= t <= 5]
    assert kinds[(1, "category")] == twin.frames_of(1)
    assert diff.changed_ids == [1, 2]
    assert not diff_twins(twin, twin)
