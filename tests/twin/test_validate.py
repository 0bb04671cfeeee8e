import copy
import json

import pytest

from river_agent.twin import Recolor, Remove, apply_ops, validate_edited_twin
from river_agent.twin.synthetic import make_synthetic_twin


@pytest.fixture
def twin(tmp_path):
    return make_synthetic_twin(tmp_path / "t", num_frames=4, num_objects=3)


def test_valid_edited_twin_is_accepted_in_all_forms(twin):
    edited = apply_ops(twin, [Remove(id=2), Recolor(id=1, color="green")])
    for form in (edited, edited.to_json_dict(), json.dumps(edited.to_json_dict())):
        result = validate_edited_twin(form, twin)
        assert result.ok, result.reason
        assert result.twin == edited


def test_frames_only_form_is_accepted(twin):
    """The paper's D' may carry only the frames; video metadata is taken from D."""
    data = {"frames": twin.to_json_dict()["frames"]}
    result = validate_edited_twin(data, twin)
    assert result.ok, result.reason
    assert result.twin.video == twin.video


def _mutated(twin, mutate):
    data = copy.deepcopy(twin.to_json_dict())
    mutate(data)
    return data


def _inst(d):
    return d["frames"][1]["instances"][0]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: _inst(d).pop("category"), "missing required field 'category'"),
        (lambda d: _inst(d).pop("mask"), "missing required field 'mask'"),
        (lambda d: _inst(d)["spatial"].pop("depth"), "missing required field 'spatial.depth'"),
        (lambda d: _inst(d).__setitem__("id", "1"), "field 'id' should be integer"),
        (lambda d: _inst(d).__setitem__("id", 1.0), "field 'id' should be integer"),
        (lambda d: _inst(d).__setitem__("category", 7), "field 'category' should be string"),
        (lambda d: _inst(d).__setitem__("attributes", ["red"]), "field 'attributes' should be object"),
        (lambda d: _inst(d)["attributes"].__setitem__("color", 3), "attribute 'color' should be string"),
        (lambda d: _inst(d)["spatial"].__setitem__("x", "left"), "'spatial.x' should be number"),
        (lambda d: _inst(d)["spatial"].__setitem__("size", 10.5), "'spatial.size' should be integer"),
        (lambda d: _inst(d)["spatial"].__setitem__("depth", True), "'spatial.depth' should be number"),
        (lambda d: _inst(d).__setitem__("id", 77), "unknown id 77"),
        (lambda d: d["frames"][0].pop("instances"), "'instances' missing"),
        (lambda d: d["frames"][0].__setitem__("t", 999), "not in the original twin"),
        (lambda d: d.pop("frames"), "missing field 'frames'"),
    ],
)
def test_each_schema_violation_is_rejected_with_a_reason(twin, mutate, reason):
    result = validate_edited_twin(_mutated(twin, mutate), twin)
    assert not result.ok
    assert reason in result.reason
    assert result.twin is None


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2", "null", "[]", '"a string"'])
def test_bad_json_is_rejected(twin, text):
    result = validate_edited_twin(text, twin)
    assert not result.ok
    assert result.reason
