"""The oracle system hands the renderer the case's ground-truth twin as the scene (perfect perception)."""

from pathlib import Path

from river_agent.bench.cases import list_cases
from river_agent.bench.systems import run_oracle

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rve-synth-mini"


def test_oracle_passes_the_case_twin_as_scene(tmp_path, monkeypatch):
    import river_agent.bench.systems as systems

    seen = {}

    class Recorder:
        def render_masks(self, video, masks, edit, out, scene=None):
            seen.update(video=video, edit=edit, scene=scene)

    monkeypatch.setattr(systems, "_renderer", lambda name: Recorder())
    case = next(c for c in list_cases(FIXTURE) if c.twin_path is not None)
    run = run_oracle(case, tmp_path / "o.mp4")
    assert run.ok
    assert seen["scene"] is not None and seen["scene"].object_ids()
    assert seen["edit"] == dict(case.edit)
