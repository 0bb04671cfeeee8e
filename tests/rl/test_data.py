"""Training items: in-memory RVE-Synth items, case folders, held-out phrasings and kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from river_agent.errors import RiverError
from river_agent.rl.data import HELD_OUT_KIND, Item, case_items, held_out_reason, synth_items

MINI = Path(__file__).parents[1] / "fixtures" / "rve-synth-mini"


def test_synth_items_are_deterministic_and_answerable():
    a = list(synth_items(3, 4, width=160, height=96, frames=8))
    b = list(synth_items(3, 4, width=160, height=96, frames=8))
    assert [i.query for i in a] == [i.query for i in b]
    for item in a:
        ids = item.load_twin().object_ids()
        assert item.target_ids and set(item.target_ids) <= set(ids)
        ops = item.gold_ops()
        assert [op["id"] for op in ops] == item.target_ids
        assert all(op["op"] == item.edit["op"] for op in ops)


def test_an_item_the_generator_cannot_make_is_skipped_not_fatal(monkeypatch, caplog):
    import river_agent.bench.generate as generate

    real = generate.plan_case

    def plan(i, cfg):
        if i == 1:
            raise RiverError(f"case {i}: no unambiguous 2/temporal query found in 60 scenes")
        return real(i, cfg)

    monkeypatch.setattr(generate, "plan_case", plan)
    items = list(synth_items(3, 3, width=160, height=96, frames=8))
    assert [i.id for i in items] == ["synth-s3-0000", "synth-s3-0002"]
    assert "no unambiguous" in caplog.text


def test_case_items_read_the_shared_case_format():
    items = case_items(MINI)
    assert len(items) >= 3
    assert all(Path(i.twin_path).is_file() and i.case_dir for i in items)
    assert items[0].load_twin().object_ids()


def test_case_items_refuse_a_folder_without_cases(tmp_path):
    with pytest.raises(RiverError):
        case_items(tmp_path)
    with pytest.raises(RiverError):
        case_items(tmp_path / "missing")


def _item(query: str, kind: str = "car") -> Item:
    from river_agent.twin.schema import Twin

    twin = Twin.model_validate(
        {
            "video": {"path": "v.mp4", "fps": 8.0, "width": 64, "height": 64, "num_frames": 1},
            "frames": [
                {
                    "t": 0,
                    "instances": [
                        {
                            "id": 1,
                            "category": kind,
                            "attributes": {},
                            "mask": "masks/00000.png#1",
                            "spatial": {"x": 1, "y": 1, "depth": 0.5, "size": 4},
                        }
                    ],
                }
            ],
        }
    )
    return Item(id="x", query=query, target_ids=[1], edit={"op": "remove"}, twin=twin)


@pytest.mark.parametrize(
    ("query", "held"),
    [
        ("Remove the red car.", None),
        ("Erase the red car from the video.", "phrase:erase"),
        ("Make the red car disappear.", "phrase:make {np} disappear"),
        ("Make the red car blue.", None),
        ("Paint the lorry blue.", "phrase:lorry"),
    ],
)
def test_held_out_phrases(query, held):
    assert held_out_reason(_item(query)) == held


def test_held_out_kind():
    assert held_out_reason(_item("Remove it.", kind=HELD_OUT_KIND)) == f"kind:{HELD_OUT_KIND}"


def test_committed_adapter_is_a_small_rank_8_lora():
    import json

    from river_agent.adapters import ADAPTER_DIR, embedded_adapter

    folder = ADAPTER_DIR / "smollm2-code"
    cfg = json.loads((folder / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 8
    assert (folder / "adapter_model.safetensors").stat().st_size <= 20 * 1024 * 1024
    assert embedded_adapter() == folder  # the embedded default
