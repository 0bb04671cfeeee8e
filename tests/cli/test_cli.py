import json
import subprocess
import sys

import pytest

from river_agent import __version__
from river_agent.cli import main
from river_agent.twin import Remove, apply_ops
from river_agent.twin.synthetic import make_synthetic_twin


def test_help_and_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("twin", "edit", "bench", "sandbox", "trace", "view", "validate", "diff", "probe"):
        assert name in out


def test_user_errors_print_one_line_without_traceback(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_text("not a video")
    proc = subprocess.run(
        [sys.executable, "-m", "river_agent.cli", "probe", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "not a readable video" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["view", "--no-such-flag"]) == 2


def test_view_validate_diff(tmp_path, capsys):
    twin = make_synthetic_twin(tmp_path / "t", num_frames=5, num_objects=3)
    assert main(["view", str(tmp_path / "t")]) == 0
    assert "#1 " in capsys.readouterr().out

    edited = apply_ops(twin, [Remove(id=2)])
    (tmp_path / "edited.json").write_text(json.dumps(edited.to_json_dict()))
    assert main(["validate", str(tmp_path / "t"), str(tmp_path / "edited.json")]) == 0
    assert "valid" in capsys.readouterr().out

    broken = edited.to_json_dict()
    del broken["frames"][0]["instances"][0]["spatial"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    assert main(["validate", str(tmp_path / "t"), str(tmp_path / "broken.json")]) == 1
    assert "missing required field 'spatial'" in capsys.readouterr().out

    from river_agent.twin import save_twin

    save_twin(edited, tmp_path / "e")
    assert main(["diff", str(tmp_path / "t"), str(tmp_path / "e")]) == 0
    assert "removed" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["view", "/nonexistent/twin"], ["probe", "/nonexistent.mp4"]])
def test_missing_inputs(args, capsys):
    assert main(args) == 1
    assert "no such" in capsys.readouterr().err
