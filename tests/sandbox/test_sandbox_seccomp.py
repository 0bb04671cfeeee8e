"""The seccomp deny list: denied system calls fail with EPERM, ordinary work still runs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from river_agent.tools.sandbox import seccomp

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import os, socket, sys
sys.path.insert(0, sys.argv[1])
from river_agent.tools.sandbox import seccomp
assert seccomp.install()
results = {}
for name, fn in [
    ("socket", lambda: socket.socket()),
    ("kill_parent", lambda: os.kill(os.getppid(), 0)),
    ("fork", lambda: os.fork()),
    ("exec", lambda: os.execv("/bin/true", ["true"])),
    ("open", lambda: open("/etc/hostname")),
    ("unlink", lambda: os.unlink(sys.argv[2])),
    ("mkdir", lambda: os.mkdir(sys.argv[2] + ".d")),
    ("rename", lambda: os.rename(sys.argv[2], sys.argv[2] + ".moved")),
]:
    try:
        fn()
        results[name] = "allowed"
    except PermissionError:
        results[name] = "denied"
x = sum(range(100000)) + len([0] * 100000)
os.write(1, repr(results).encode())
"""


@pytest.mark.skipif(not seccomp.supported(), reason="the filter is built for x86_64 Linux")
def test_denied_calls_fail_with_eperm(tmp_path):
    victim = tmp_path / "keep.txt"
    victim.write_text("data")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT), str(victim)], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0 and "AssertionError" in proc.stderr:
        pytest.skip("seccomp filters cannot be installed on this kernel/container")
    assert proc.returncode == 0, proc.stderr
    results = ast.literal_eval(proc.stdout)
    assert set(results.values()) == {"denied"}, results
    assert victim.read_text() == "data" and not (tmp_path / "keep.txt.d").exists()


def test_filter_program_shape():
    prog = seccomp.build_filter({"socket": 41, "fork": 57})
    assert len(prog) % 8 == 0 and len(prog) // 8 == 6 + 2 * 2 + 1


def test_sandbox_reports_hardening(sandbox):
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); from river_agent.tools.sandbox import seccomp; "
        "print(seccomp.probe())"
    )
    probe = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, timeout=60)
    assert sandbox.seccomp is (probe.stdout.strip() == "True")
