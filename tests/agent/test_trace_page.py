"""``river trace html`` pages: segments by tag, highlighted code, sandbox results, edit ops and object thumbnails,
checked as text and in a real headless browser (tests/browser.py)."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from river_agent.cli import main
from river_agent.graphs.rollout import Rollout, RolloutConfig
from river_agent.trace import Segment, load_traces, save_traces
from river_agent.trace_view import (
    COLOURS,
    affected_ids,
    find_video,
    object_thumbnails,
    render_html,
    split_segment,
    trace_thumbnails,
)
from river_agent.twin.io import load_twin
from tests.agent_fixtures import COLOURS as OBJECT_RGB
from tests.agent_fixtures import make_case
from tests.browser import browser_page, skip_or_fail_without_browser
from tests.scripted_policy import ScriptedPolicy

MINI = Path(__file__).resolve().parents[1] / "fixtures" / "rve-synth-mini"
DOG_CASE = MINI / "synth-s0-0000"  # "That white dog should be brown.": the white dog is object 2
PROGRAM = '# the white dog\ndogs = find("dog", color="white")\nprint(dogs)\n'


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """Three real rollouts of the graph with the scripted policy: code (fixture case, video beside the twin),
    free (twin in a sub-folder, video in the case folder) and staged over an in-memory twin (no thumbnails)."""
    tmp = tmp_path_factory.mktemp("page")
    code = Rollout(
        ScriptedPolicy([PROGRAM + "</execute>", '[{"op": "recolor", "id": 2, "color": "brown"}]</edit>']),
        RolloutConfig(strategy="code", constrained=False),
    ).run(DOG_CASE / "twin.json", "That white dog should be brown.")
    _, twin_json = make_case(tmp / "case")
    free = Rollout(
        ScriptedPolicy(
            [
                "<think>Which object overtakes the truck?</think><execute>print(find('car'))</execute>",
                '<think>The car 2 overtakes.</think><edit>[{"op": "remove", "id": 2}]</edit>',
            ]
        ),
        RolloutConfig(strategy="free", max_new_tokens=4000),
    ).run(twin_json, "Whatever overtakes the truck should go.")
    staged = Rollout(
        ScriptedPolicy([' 3</target>\n<edit>[{"op": "remove", "id": 3}]</edit>']),
        RolloutConfig(strategy="staged", think_tokens=0, few_shot_k=1),
    ).run(load_twin(twin_json), "remove the tree")
    assert [t.status for t in (code, free, staged)] == ["ok", "ok", "ok"]
    path = save_traces(tmp / "traces.jsonl", [code, free, staged], append=False)
    return path, load_traces(path)


def test_split_segment_labels_text_by_tag():
    seg = Segment(tag="execute", text="<think>car?</think><execute>print(1)</execute>junk")
    parts = [(p.tag, p.text, p.marker) for p in split_segment(seg)]
    assert parts == [
        ("think", "<think>", True),
        ("think", "car?", False),
        ("think", "</think>", True),
        ("execute", "<execute>", True),
        ("execute", "print(1)", False),
        ("execute", "</execute>", True),
        ("other", "junk", False),
    ]
    # a policy piece that continues an opener the environment injected belongs to the tag it closes
    cont = split_segment(Segment(tag="edit", text='[{"op": "remove", "id": 2}]</edit>'))
    assert [(p.tag, p.marker) for p in cont] == [("edit", False), ("edit", True)]


def test_sampled_programs_votes_are_summarised_on_the_page():
    from river_agent.trace_view import segment_html, votes_summary

    votes = [
        {"ids": [], "ok": False, "error": "NameError", "chosen": False},
        {"ids": [2], "ok": True, "error": None, "chosen": True},
        {"ids": [2], "ok": True, "error": None, "chosen": False},
        {"ids": [], "ok": True, "error": None, "chosen": False},
    ]
    line = votes_summary(votes)
    assert line == "4 programs sampled: NameError x1, [2] x2 (kept), no ids x1"
    page = segment_html(Segment(tag="execute", text="print([2])</execute>", votes=votes))
    assert "[2] x2 (kept)" in page
    assert "sampled programs" not in page  # older traces kept no codes: nothing to fold out
    votes[0]["code"] = "print(find('unicorn'))"
    votes[1]["code"] = "print([2])"
    page = segment_html(Segment(tag="execute", text="print([2])</execute>", votes=votes))
    assert "the 2 sampled programs" in page and "program 1: NameError" in page and "program 2: [2] (kept)" in page
    assert "unicorn" in page


def test_thumbnails_crop_the_object_from_the_video(traces):
    _, (code, free, staged) = traces
    assert affected_ids(code) == ([2], "edited")
    th = trace_thumbnails(code)
    assert [x.id for x in th.thumbs] == [2] and th.thumbs[0].from_video and th.note == ""
    assert th.thumbs[0].category == "dog" and "white" in th.thumbs[0].caption

    # the free rollout's twin lies in case/twin/, its video in case/: found in the twin folder's parent
    th = trace_thumbnails(free)
    thumb = th.thumbs[0]
    assert thumb.id == 2 and thumb.from_video and th.video and th.video.endswith("video.mp4")
    img = thumb.image().reshape(-1, 3).astype(int)
    # the car is red in the video, and so is the thumbnail inside its outline
    red = np.array(OBJECT_RGB[2])
    assert (np.abs(img - red).max(axis=1) < 30).sum() > 50
    # without the video, the same object is drawn from its mask alone, and the note says so
    twin = load_twin(free.twin_ref)
    masks_only = object_thumbnails(twin, [2], video=Path("/nonexistent/video.mp4"))
    assert not masks_only.thumbs[0].from_video and "masks only" in masks_only.note
    assert masks_only.thumbs[0].png != thumb.png

    # the staged rollout ran over an in-memory twin: no thumbnails, and why
    th = trace_thumbnails(staged)
    assert th.thumbs == [] and "in memory" in th.note
    # ... unless the caller names the twin
    assert [x.id for x in trace_thumbnails(staged, twin=free.twin_ref).thumbs] == [3]


def test_find_video_candidates(traces, tmp_path):
    _, (code, free, _) = traces
    assert find_video(load_twin(code.twin_ref)) == DOG_CASE / "video.mp4"
    assert find_video(load_twin(free.twin_ref), tmp_path / "missing.mp4") is None


def test_page_text_has_highlighting_results_ops_and_notes(traces):
    _, ts = traces
    page = render_html(ts, title="t")
    assert page.count("<section class='trace'") == 3
    assert "class='overview'" in page  # several rollouts: an overview table first
    assert "<span class='hl hl-python'>" in page and "hl-json" in page
    assert "sandbox ok" in page and "data:image/png;base64," in page and "in memory" in page
    assert "<td>recolor</td><td>2</td>" in page
    assert "<script" not in page  # standalone and inert
    off = render_html(ts[:1], thumbnails=False)
    assert "data:image/png" not in off and "thumbnails switched off" in off


def test_cli_pages_several_files_and_overrides_the_twin(traces, tmp_path):
    path, (code, free, _) = traces
    other = save_traces(tmp_path / "other.jsonl", [code], append=False)
    page = tmp_path / "p.html"
    assert main(["trace", "html", str(path), str(other), "--out", str(page), "--no-thumbnails"]) == 0
    text = page.read_text()
    assert text.count("<section class='trace'") == 4 and "data:image/png" not in text
    # the staged rollout's twin was in memory: --twin names it, and the page gets the tree's thumbnail
    assert main(["trace", "html", str(path), "-i", "2", "--out", str(page), "--twin", free.twin_ref]) == 0
    text = page.read_text()
    assert text.count("<section class='trace'") == 1 and "data-id='3'" in text and "in memory" not in text


def _rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return r, g, b


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def test_missing_browser_skips_or_fails_as_ci_asks(monkeypatch):
    monkeypatch.delenv("RIVER_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no chromium"):
        skip_or_fail_without_browser("no chromium")
    monkeypatch.setenv("RIVER_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="RIVER_REQUIRE_BROWSER=1 but no chromium"):
        skip_or_fail_without_browser("no chromium")


@pytest.mark.slow
@pytest.mark.browser
def test_trace_page_in_a_headless_browser(traces, tmp_path):
    path, ts = traces
    page_file = tmp_path / "traces.html"
    assert main(["trace", "html", str(path), "--out", str(page_file)]) == 0
    with browser_page() as page:
        page.goto(page_file.as_uri())
        sections = page.locator("section.trace")
        assert sections.count() == 3
        for i, trace in enumerate(ts):
            segs = sections.nth(i).locator(".seg[data-tag]")
            # every transcript segment rendered, in order, with its tag and source
            assert segs.count() == len(trace.segments)
            assert segs.evaluate_all("els => els.map(e => e.dataset.tag)") == [s.tag for s in trace.segments]
            assert segs.evaluate_all("els => els.map(e => e.dataset.source)") == [s.source for s in trace.segments]
        # coloured by tag: the computed backgrounds are the tag colours, and differ between tags
        background = "e => getComputedStyle(e).backgroundColor"
        seen = {}
        for tag in ("execute", "results", "edit", "target"):
            seg = page.locator(f".seg[data-tag='{tag}']").first
            assert seg.is_visible(), tag
            seen[tag] = _rgb(seg.evaluate(background))
            assert seen[tag] == _hex(COLOURS[tag][1]), tag
        # the free rollout's <think> inside its execute turn is a piece of its own colour
        think = sections.nth(1).locator(".seg[data-tag='execute'] .part.tag-think:not(.marker)").first
        assert think.inner_text() == "Which object overtakes the truck?"
        seen["think"] = _rgb(think.evaluate(background))
        assert seen["think"] == _hex(COLOURS["think"][1])
        assert len(set(seen.values())) == 5
        # the program is syntax-highlighted: `print` is a token with its own colour
        code = sections.nth(0).locator(".seg[data-tag='execute'][data-source='policy'] .hl-python")
        assert "find(" in code.inner_text()
        builtin = code.locator(".nb", has_text="print").first
        plain = code.locator(".n").first
        assert builtin.is_visible()
        colour_of = "e => getComputedStyle(e).color"
        assert builtin.evaluate(colour_of) != plain.evaluate(colour_of)
        # the sandbox's results and the edit ops
        results = sections.nth(0).locator(".seg[data-tag='results']")
        assert "[2]" in results.inner_text() and results.locator(".sandbox.ok").is_visible()
        ops = sections.nth(0).locator("table.ops tr")
        assert ops.nth(1).locator("td").all_inner_texts()[:2] == ["recolor", "2"]
        # thumbnails: decoded images of the affected objects, laid out with a size
        for i, obj in ((0, 2), (1, 2)):
            img = sections.nth(i).locator(f"figure.thumb[data-id='{obj}'][data-kind='video'] img")
            assert img.count() == 1
            assert img.evaluate("e => e.complete && e.naturalWidth > 0 && e.naturalHeight > 0")
            box = img.bounding_box()
            assert box is not None and box["width"] > 20 and box["height"] > 20
        # the in-memory twin: no image, a visible note
        assert sections.nth(2).locator("figure.thumb").count() == 0
        note = sections.nth(2).locator(".no-thumbs")
        assert note.is_visible() and "in memory" in note.inner_text()
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=True)
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[0] > 900  # three rollouts do not fit one screen
