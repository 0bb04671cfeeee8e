import json

import numpy as np
import pytest

from river_agent.errors import TwinError
from river_agent.twin import instance_mask, label_map, load_twin, parse_twin, save_twin
from river_agent.twin.io import dump_twin_json
from river_agent.twin.synthetic import make_synthetic_twin


def test_round_trip_is_identical(tmp_path):
    twin = make_synthetic_twin(tmp_path / "a", num_frames=6, num_objects=3)
    save_twin(twin, tmp_path / "b")
    again = load_twin(tmp_path / "b")
    assert again == twin
    assert dump_twin_json(again) == dump_twin_json(twin)
    assert again.root == tmp_path / "b"
    # masks were copied with the twin
    assert np.array_equal(label_map(again, 3), label_map(twin, 3))


def test_extra_keys_are_preserved(tmp_path):
    make_synthetic_twin(tmp_path / "a", num_frames=2)
    data = json.loads((tmp_path / "a" / "twin.json").read_text())
    data["producer"] = {"name": "x"}
    data["frames"][0]["instances"][0]["score"] = 0.9
    data["frames"][0]["instances"][0]["spatial"]["velocity"] = [1, 2]
    back = json.loads(dump_twin_json(parse_twin(json.dumps(data))))
    assert back["producer"] == {"name": "x"}
    assert back["frames"][0]["instances"][0]["score"] == 0.9
    assert back["frames"][0]["instances"][0]["spatial"]["velocity"] == [1, 2]


def test_spec_example_parses():
    example = {
        "format": "river-twin/1",
        "video": {"path": "video.mp4", "fps": 24.0, "width": 832, "height": 480, "num_frames": 48},
        "frames": [
            {
                "t": 0,
                "mask": "masks/00000.png",
                "instances": [
                    {
                        "id": 3,
                        "category": "car",
                        "attributes": {
                            "color": "red",
                            "size": "large",
                            "pattern": "plain",
                            "description": "a red hatchback",
                        },
                        "mask": "masks/00000.png#3",
                        "spatial": {
                            "x": 412.5,
                            "y": 300.0,
                            "depth": 0.42,
                            "size": 5321,
                            "bbox": [380, 270, 447, 331],
                        },
                    }
                ],
            }
        ],
    }
    twin = parse_twin(example)
    inst = twin.frames[0].instances[0]
    assert (inst.id, inst.mask_file, inst.mask_label) == (3, "masks/00000.png", 3)


def test_instance_masks_match_label_maps(tmp_path):
    twin = make_synthetic_twin(tmp_path / "a", num_frames=4, num_objects=3)
    for frame in twin.frames:
        for inst in frame.instances:
            m = instance_mask(twin, frame.t, inst.id)
            assert m.sum() == inst.spatial.size
            _ys, xs = np.nonzero(m)
            assert abs(xs.mean() - inst.spatial.x) < 1e-6
    assert not instance_mask(twin, 0, 99).any()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (
            '{"format": "river-twin/9", "video": '
            '{"path": "v", "fps": 1, "width": 1, "height": 1, "num_frames": 1}}',
            "unsupported twin format",
        ),
        ('{"format": "river-twin/1"}', "video"),
    ],
)
def test_bad_twin_files_give_clear_errors(tmp_path, content, message):
    (tmp_path / "twin.json").write_text(content)
    with pytest.raises(TwinError, match=message):
        load_twin(tmp_path)


def test_missing_twin_and_missing_mask(tmp_path):
    with pytest.raises(TwinError, match="no such twin file"):
        load_twin(tmp_path / "nope")
    twin = make_synthetic_twin(tmp_path / "a", num_frames=2)
    (tmp_path / "a" / "masks" / "00001.png").unlink()
    with pytest.raises(TwinError, match="missing"):
        label_map(twin, 1)


def test_save_is_atomic_on_failure(tmp_path):
    twin = make_synthetic_twin(tmp_path / "a", num_frames=2)

    def bad_maps():
        yield 0, np.zeros((48, 64), np.uint16)
        raise RuntimeError("perception crashed")

    with pytest.raises(RuntimeError):
        save_twin(twin, tmp_path / "a", label_maps=bad_maps())
    # the old twin is intact and nothing half-written is left beside it
    assert load_twin(tmp_path / "a") == twin
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
