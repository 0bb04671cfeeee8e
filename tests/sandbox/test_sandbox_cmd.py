"""``river sandbox run`` and ``river sandbox api``."""

from __future__ import annotations

import json

from river_agent.cli import main
from river_agent.twin import save_twin


def _twin_dir(small_twin, tmp_path):
    out = tmp_path / "twin"
    save_twin(small_twin, out)
    return out


def test_run_prints_output(small_twin, tmp_path, capsys):
    code = tmp_path / "q.py"
    code.write_text("print([o.category for o in objects()])\n")
    assert main(["sandbox", "run", "--twin", str(_twin_dir(small_twin, tmp_path)), "--code", str(code)]) == 0
    assert capsys.readouterr().out == "['car', 'truck', 'person']\n"


def test_run_json_and_failure_status(small_twin, tmp_path, capsys):
    twin = _twin_dir(small_twin, tmp_path) / "twin.json"
    code = tmp_path / "bad.py"
    code.write_text("print('before')\nimport os\n")
    assert main(["sandbox", "run", "--twin", str(twin), "--code", str(code), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and result["error_type"] == "SecurityError" and result["output"] == "before\n"


def test_run_limits_options(small_twin, tmp_path, capsys):
    code = tmp_path / "loop.py"
    code.write_text("while True:\n    pass\n")
    args = ["sandbox", "run", "--twin", str(_twin_dir(small_twin, tmp_path)), "--code", str(code), "--wall", "0.3"]
    assert main([*args, "--cpu", "10"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "wall-clock time limit" in err and "the snippet failed (WallTimeLimit)" in err


def _err(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())  # rich wraps long lines


def test_user_mistakes_are_clear(small_twin, tmp_path, capsys):
    code = tmp_path / "q.py"
    code.write_text("print(1)\n")
    assert main(["sandbox", "run", "--twin", str(tmp_path / "nope"), "--code", str(code)]) == 1
    assert "no such twin file" in _err(capsys)
    twin = str(_twin_dir(small_twin, tmp_path))
    assert main(["sandbox", "run", "--twin", twin, "--code", str(tmp_path / "missing.py")]) == 1
    assert "no such code file" in _err(capsys)
    assert main(["sandbox", "run", "--twin", twin, "--code", str(code), "--cpu", "0"]) == 1
    assert "cpu_seconds must be > 0" in _err(capsys)


def test_api_prints_the_doc(capsys):
    assert main(["sandbox", "api"]) == 0
    out = capsys.readouterr().out
    assert "overtakes(a, b)" in out and "find(category=None" in out
