"""``river twin``: writes twin + overlay; bad input prints one clear error (exit 1)."""

from __future__ import annotations

from river_agent.cli import main
from river_agent.twin.io import load_twin
from tests.perception.synth_scenes import make_scene


def test_twin_command_writes_twin_and_overlay(tmp_path):
    make_scene(tmp_path / "v.mp4", h=64, w=96, n=8)
    assert main(["twin", str(tmp_path / "v.mp4"), "--out", str(tmp_path / "twin")]) == 0
    assert (tmp_path / "twin" / "overlay.mp4").stat().st_size > 0
    assert len(load_twin(tmp_path / "twin").frames) == 8


def test_twin_command_bad_input(tmp_path, capsys):
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["twin", str(tmp_path / "empty.mp4"), "--out", str(tmp_path / "o")]) == 1
    assert "empty" in capsys.readouterr().err
    make_scene(tmp_path / "v.mp4", h=64, w=96, n=4)
    assert main(["twin", str(tmp_path / "v.mp4"), "--out", str(tmp_path)]) == 1  # would replace the input
    assert (tmp_path / "v.mp4").exists()
