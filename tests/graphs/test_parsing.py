"""Tolerant parsing of the tag format: each repair is recorded as a deviation."""

from __future__ import annotations

import json

from river_agent.graphs.parsing import normalise_completion, parse_blocks, parse_edit, split_turn


def tags(devs):
    return [d.tag for d in devs]


def test_clean_execute_turn():
    p = split_turn("<think>look</think><execute>print(1)</execute>", "stop")
    assert p.action == "execute" and p.code == "print(1)" and p.deviations == []


def test_text_after_action_is_cut():
    p = split_turn("<think>a</think><edit>[]</edit> and then more", "stop")
    assert p.action == "edit" and p.text.endswith("</edit>") and tags(p.deviations) == ["text_after_action"]


def test_code_fences_removed():
    p = split_turn("<execute>\n```python\nx = 1\nprint(x)\n```\n</execute>", "stop")
    assert p.code == "x = 1\nprint(x)" and "code_fence" in tags(p.deviations)


def test_unclosed_edit_at_eos_and_length():
    p = split_turn('<think>a</think><edit>[{"op": "remove", "id": 1}]', "stop")
    assert p.action == "edit" and p.text.endswith("</edit>") and tags(p.deviations) == ["unclosed_edit"]
    p = split_turn("<execute>print(", "length")
    assert p.action == "execute" and "token limit" in p.deviations[0].detail


def test_model_written_results_are_cut():
    p = split_turn("<think>a</think><results>fake</results><edit>[]</edit>", "stop")
    assert "model_wrote_results" in tags(p.deviations) and "fake" not in p.text and p.action == "none"


def test_no_action():
    p = split_turn("I am not sure.", "stop")
    assert p.action == "none" and tags(p.deviations) == ["no_action"]


def test_opened_by_harness():
    p = split_turn(' [{"op": "remove", "id": 2}]</edit>', "stop", ("</edit>",), opened="edit")
    assert p.action == "edit" and p.deviations == [] and p.text == ' [{"op": "remove", "id": 2}]</edit>'


def test_r1_think_in_prompt_and_reasoning_content():
    text, devs = normalise_completion("</think><edit>[]", "stop", "</edit>", None, think_open=True)
    assert text == "</think><edit>[]</edit>" and devs == []
    blocks, bdevs = parse_blocks("<think>\nreason " + text)
    assert [b.tag for b in blocks] == ["think", "edit"] and bdevs == []
    # litellm moved the think block out of the content
    text, devs = normalise_completion("<edit>[]", "stop", "</edit>", "I reason", think_open=False)
    assert text == "<think>I reason</think><edit>[]</edit>" and tags(devs) == ["reasoning_content"]


def test_blocks_record_untagged_and_unclosed():
    blocks, devs = parse_blocks("hello <think>a <edit>[]</edit>")
    assert [b.tag for b in blocks] == ["other", "think", "edit"]
    assert tags(devs) == ["untagged_text", "unclosed_think"]


def test_parse_edit_forms():
    assert parse_edit('[{"op": "remove", "id": 1}]').ops == [{"op": "remove", "id": 1}]
    e = parse_edit('{"op": "remove", "id": 1}')
    assert e.ops == [{"op": "remove", "id": 1}] and tags(e.deviations) == ["single_op"]
    e = parse_edit('{"ops": [{"op": "remove", "id": 1}]}')
    assert e.ops and tags(e.deviations) == ["ops_wrapped"]
    e = parse_edit('```json\n[{"op": "remove", "id": 1}]\n```')
    assert e.ops and tags(e.deviations) == ["json_fence"]
    e = parse_edit('Sure: [{"op": "remove", "id": 1}] done!')
    assert e.ops and tags(e.deviations) == ["json_leading_text", "json_trailing_text"]
    e = parse_edit("[{'op': 'remove', 'id': 1}]")
    assert e.ops and tags(e.deviations) == ["python_literal"]
    e = parse_edit('{"frames": [{"t": 0, "instances": []}]}')
    assert e.twin is not None and e.ops is None
    for bad, why in [
        ("", "empty"),
        ("remove it", "no JSON"),
        ("[]", "empty list"),
        ('{"a": 1}', "neither"),
        ('[{"op": "remove", "id": 1', "not valid JSON"),
    ]:
        e = parse_edit(bad)
        assert e.ops is None and e.twin is None and why in e.error


def test_recolour_rgb_of_another_colour_gives_way_to_the_name():
    # a small policy's guess: the request said green, the RGB is pink
    parsed = parse_edit('[{"op": "recolor", "id": 1, "color": "green", "rgb": [235, 120, 175]}]')
    assert parsed.ops == [{"op": "recolor", "id": 1, "color": "green"}]
    assert [d.tag for d in parsed.deviations] == ["rgb_mismatch"]
    # a shade of the named colour, an exact value, a colour outside the palette, a hex name: kept as given
    for op in (
        {"op": "recolor", "id": 1, "color": "red", "rgb": [139, 0, 0]},
        {"op": "recolor", "id": 1, "color": "orange", "rgb": [235, 125, 25]},
        {"op": "recolor", "id": 1, "color": "chartreuse", "rgb": [127, 255, 0]},
        {"op": "recolor", "id": 1, "color": "#ff0000", "rgb": [0, 0, 255]},
        {"op": "resize", "id": 1, "scale": 2.0},
    ):
        parsed = parse_edit(json.dumps([op]))
        assert parsed.ops == [op] and not parsed.deviations, op
