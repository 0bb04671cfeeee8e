"""The read-only twin API answers correctly on a small twin (see conftest: car 1 overtakes truck 2)."""

from __future__ import annotations

import json

import pytest

from river_agent.tools.sandbox.twin_api import TWIN_API_DOC, Record, build_api


def run_ok(sandbox, code: str) -> str:
    result = sandbox.run(code)
    assert result.ok, result.error
    return result.output.strip()


def test_video_facts(sandbox):
    assert run_ok(sandbox, "print(num_frames, width, height, fps)") == "6 200 160 24.0"


def test_objects_and_find(sandbox):
    out = run_ok(sandbox, "print([(o['id'], o.category, o.first_frame, o.last_frame) for o in objects()])")
    assert out == "[(1, 'car', 0, 5), (2, 'truck', 0, 5), (3, 'person', 3, 5)]"
    assert run_ok(sandbox, "print(find('car'), find(color='BLUE'), find('truck', color='red'), find())") == (
        "[1] [2] [] [1, 2, 3]"
    )
    assert run_ok(sandbox, "print(obj(3).frames, obj(3).attributes['color'])") == "(3, 4, 5) green"


def test_track_and_frame(sandbox):
    out = run_ok(sandbox, "tr = track(1)\nprint(len(tr), tr[2].t, tr[2].x, tr[2]['y'], tr[2].bbox)")
    assert out == "6 2 50.0 100.0 (40, 90, 60, 110)"
    assert run_ok(sandbox, "print([r.id for r in frame(0)], [r.id for r in frame(4)], frame(99))") == (
        "[1, 2] [1, 2, 3] []"
    )


def test_geometry_helpers(sandbox):
    assert run_ok(sandbox, "print(position(1, 1), position(3, 0))") == "(30.0, 100.0) None"
    assert run_ok(sandbox, "print(velocity(1, 2), velocity(2, 5), velocity(3, 4))") == (
        "(20.0, 0.0) (5.0, 0.0) (0.0, 0.0)"
    )
    assert run_ok(sandbox, "print(speed(1), speed(3))") == "20.0 0.0"
    assert run_ok(sandbox, "print(round(distance(1, 2, 0), 3), distance(1, 3, 0))") == "41.231 None"
    # closest approach: t=3 (car x=70, truck x=65, dy=10)
    assert run_ok(sandbox, "print(round(distance(1, 2), 3))") == "11.18"


def test_relations(sandbox):
    assert run_ok(sandbox, "print(left_of(1, 2, 0), right_of(1, 2, 5), left_of(1, 2))") == "True True False"
    assert run_ok(sandbox, "print(above(3, 1), below(1, 3), above(1, 3), above(1, 2, 0))") == (
        "True True False True"
    )
    assert run_ok(sandbox, "print(in_front_of(1, 2), in_front_of(2, 1), in_front_of(1, 3, 0))") == (
        "True False False"
    )
    assert run_ok(sandbox, "print(overlaps(1, 2, 2), overlaps(1, 2, 0), overlaps(1, 3))") == "True False False"
    assert run_ok(sandbox, "print(visible(3, 2), visible(3, 3), first_seen(3), last_seen(3), first_seen(9))") == (
        "False True 3 5 None"
    )


def test_overtakes(sandbox):
    assert run_ok(sandbox, "print(overtakes(1, 2), overtakes(2, 1), overtakes(1, 3), overtakes(3, 1))") == (
        "True False False False"
    )


def test_unknown_id_is_a_clear_error(sandbox):
    result = sandbox.run("track(42)")
    assert not result.ok and result.error_type == "KeyError"
    assert "no object with id 42" in result.error


def test_records_are_read_only_but_copyable(sandbox):
    out = run_ok(sandbox, "d = dict(objects()[0])\nd['id'] = 9\nprint(d['id'], objects()[0]['id'])")
    assert out == "9 1"
    import_json = run_ok(sandbox, "import json\nprint(json.dumps(track(3)[0], sort_keys=True))")
    assert json.loads(import_json)["t"] == 3


def test_record_is_immutable_outside_the_sandbox_too():
    rec = Record({"a": 1})
    with pytest.raises(TypeError):
        rec.a = 2  # type: ignore[misc]
    assert dict(rec) == {"a": 1} and rec.a == 1 and rec["a"] == 1


def test_build_api_on_empty_twin():
    api = build_api({"video": {"width": 4, "height": 3, "fps": 1, "num_frames": 0}, "frames": []})
    assert api["objects"]() == [] and api["num_frames"] == 0 and api["find"]() == []


def test_api_doc_is_short_and_names_every_helper():
    assert len(TWIN_API_DOC.splitlines()) <= 45
    api = build_api({"video": {"width": 1, "height": 1, "fps": 1, "num_frames": 0}, "frames": []})
    for name in api:
        assert name in TWIN_API_DOC, name


def _moving_twin(xs_a: list[float], xs_b: list[float]) -> dict:
    frames = []
    for t, (xa, xb) in enumerate(zip(xs_a, xs_b, strict=True)):
        insts = [
            {"id": i, "category": "car", "mask": "m", "spatial": {"x": x, "y": 10.0, "depth": 0.5, "size": 1}}
            for i, x in ((1, xa), (2, xb))
        ]
        frames.append({"t": t, "instances": insts})
    return {"video": {"width": 100, "height": 20, "fps": 1, "num_frames": len(frames)}, "frames": frames}


def test_overtakes_needs_the_same_direction():
    same_way = build_api(_moving_twin([0, 20, 40, 60], [30, 35, 40, 45]))
    assert same_way["overtakes"](1, 2) and not same_way["overtakes"](2, 1)
    parked = build_api(_moving_twin([0, 20, 40, 60], [30, 30, 30, 30]))
    assert parked["overtakes"](1, 2) and not parked["overtakes"](2, 1)
    crossing = build_api(_moving_twin([0, 20, 40, 60], [60, 40, 20, 0]))
    assert not crossing["overtakes"](1, 2) and not crossing["overtakes"](2, 1)
    leftwards = build_api(_moving_twin([90, 60, 30, 0], [50, 45, 40, 35]))
    assert leftwards["overtakes"](1, 2)
    behind = build_api(_moving_twin([0, 10, 20, 30], [40, 50, 60, 70]))
    assert not behind["overtakes"](1, 2)


def test_find_falls_back_to_perceptions_guess_only_when_nothing_is_called_that():
    twin = _moving_twin([0, 20, 40, 60], [30, 35, 40, 45])
    for frame in twin["frames"]:
        frame["instances"][1].update(category="object", category_guess="truck", category_confidence=0.3)
    api = build_api(twin)
    assert api["find"]("truck") == [2]  # nothing is called a truck: the object perception guessed to be one
    assert api["find"]("car") == [1]  # something is called a car: guesses are not consulted
    assert api["find"]("dog") == [] and api["find"]("object") == [2]
    assert api["obj"](2)["category_guess"] == "truck" and "category_guess" not in api["obj"](1)
