"""Sandbox behaviour: output capture, limits, fresh state, restarts, threads, language features snippets use."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from river_agent.errors import TwinError
from river_agent.tools.sandbox import Sandbox, SandboxError, SandboxLimits, SandboxResult
from river_agent.twin import save_twin


def test_prints_inside_functions_are_captured(sandbox):
    code = (
        "def inner(x):\n    print('inner', x)\n"
        "def outer():\n    print('outer')\n    inner(1)\n    [inner(i) for i in range(2, 4)]\n"
        "outer()\nprint('end', sep='', end='!\\n')\n"
    )
    result = sandbox.run(code)
    assert result.ok, result.error
    assert result.output == "outer\ninner 1\ninner 2\ninner 3\nend!\n"


def test_printed_returns_text_so_far(sandbox):
    result = sandbox.run("print('a')\ntext = printed\nprint(len(text))")
    assert result.ok and result.output == "a\n2\n"


def test_output_cap(sandbox):
    cap = sandbox.limits.max_output_chars
    result = sandbox.run("for i in range(10000):\n    print(i)")
    assert result.ok and result.truncated
    assert len(result.output) == cap and result.output.startswith("0\n1\n2\n")
    assert sandbox.run("print('short')").truncated is False
    assert "[output truncated]" in result.for_llm()


def test_fresh_state_per_call(sandbox):
    assert sandbox.run("import math\nsecret = 42\nobjects().clear()").ok
    result = sandbox.run("print(secret)")
    assert not result.ok and result.error_type == "NameError"
    assert sandbox.run("print(math.pi)").error_type == "NameError"
    assert sandbox.run("print(len(objects()))").output == "3\n"


def test_errors_carry_line_numbers(sandbox):
    result = sandbox.run("x = 1\ny = 0\nprint(x / y)")
    assert result.error_type == "ZeroDivisionError"
    assert "line 3" in result.error and "division by zero" in result.error
    assert result.for_llm().endswith("ZeroDivisionError: division by zero")


def test_syntax_error(sandbox):
    result = sandbox.run("for x in :\n    pass")
    assert not result.ok and result.error_type == "SyntaxError" and "Line 1" in result.error


def test_common_language_features_work(sandbox):
    code = """
import collections, statistics, math, itertools, functools, json, re
from statistics import mean
counts = collections.Counter(o.category for o in objects())
by_cat = collections.defaultdict(list)
for o in objects():
    by_cat[o.category].append(o.id)
scores = {}
for o in objects():
    scores[o.id] = 0
    scores[o.id] += speed(o.id)
class Box:
    def __init__(self, v):
        self.v = v
        self.n = 0
    def bump(self):
        self.n += 1
        return self
b = Box(3).bump().bump()
first, *rest = [1, 2, 3]
pairs = [(a, c) for a, c in itertools.combinations(sorted(scores), 2)]
def f(*args, **kw):
    return len(args) + len(kw)
total = f(*[1, 2], **{'k': 3})
xs = [t.x for t in track(1)]
print(dict(counts), dict(by_cat), b.v, b.n, first, rest, pairs, total)
print(round(mean(xs), 1), statistics.median(xs), math.floor(2.7), functools.reduce(lambda a, c: a + c, xs))
print('{} has {:.1f}'.format('car', 1.25), f"{len(xs):03d}", '%s-%d' % ('a', 1), json.dumps({'a': [1]}))
last = sorted(objects(), key=lambda o: -o.id)[0].id
print(re.findall(r'\\d', 'a1b2'), last, max(frame(4), key=lambda r: r.y).id)
try:
    obj(77)
except KeyError as e:
    print('caught', e)
gen = (i * i for i in range(4))
print(next(gen), list(gen), 'gi' in dir(gen) or 'send' in dir(gen))
"""
    result = sandbox.run(code)
    assert result.ok, result.error
    lines = result.output.splitlines()
    assert (
        lines[0] == "{'car': 1, 'truck': 1, 'person': 1} {'car': [1], 'truck': [2], 'person': [3]} 3 2 1 [2, 3] "
        "[(1, 2), (1, 3), (2, 3)] 3"
    )
    assert lines[1] == "60.0 60.0 2 360.0"
    assert lines[2] == 'car has 1.2 006 a-1 {"a": [1]}'
    assert lines[3] == "['1', '2'] 3 2"
    assert lines[4] == "caught 'no object with id 77; ids: [1, 2, 3]'"
    assert lines[5] == "0 [1, 4, 9] True"


def test_annotated_assignment_runs_without_its_annotation(sandbox):
    result = sandbox.run(
        "x: int = 3\ny: str\nclass A:\n    def __init__(self):\n        self.v: int = x\nprint(A().v)"
    )
    assert result.ok and result.output == "3\n", result.error
    assert sandbox.run("x: int = ().__class__").error_type == "CompileError"


def test_type_of_a_value(sandbox):
    result = sandbox.run("print(type(1) == int, type('a') is str, type(type(1)) is type, type(objects()[0]))")
    assert result.ok and result.output.startswith("True True True <class "), result.error


def test_dir_hides_private_names(sandbox):
    result = sandbox.run("print([n for n in dir(objects()[0]) if n.startswith('_')], 'keys' in dir(objects()[0]))")
    assert result.output == "[] True\n"


def test_worker_restarts_after_it_dies(small_twin):
    with Sandbox(small_twin) as sb:
        pid = sb.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        result = sb.run("print(num_frames)")
        assert result.ok and result.output == "6\n"
        assert sb.restarts == 1 and sb.worker_pid not in (None, pid)


def test_runs_from_threads_are_serialised(sandbox):
    results: list[SandboxResult] = []

    def work(i: int) -> None:
        results.append(sandbox.run(f"print({i} * 2)"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.output for r in results) == sorted(f"{i * 2}\n" for i in range(6))


def test_twin_from_path_and_bad_inputs(small_twin, tmp_path):
    twin_dir = tmp_path / "twin"
    save_twin(small_twin, twin_dir)
    with Sandbox(twin_dir) as sb:
        assert sb.run("print(find('person'))").output == "[3]\n"
    with Sandbox(twin_dir / "twin.json") as sb:
        assert sb.run("print(width, height)").output == "200 160\n"
        with pytest.raises(SandboxError):
            sb.run(b"print(1)")  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="closed"):
        sb.run("print(1)")
    with pytest.raises(TwinError):
        Sandbox(tmp_path / "missing")
    with pytest.raises(SandboxError):
        Sandbox(42)


def test_limits_validation_and_override(sandbox):
    with pytest.raises(ValueError):
        SandboxLimits(cpu_seconds=0)
    small = sandbox.with_limits(max_output_chars=5)
    result = sandbox.run("print('abcdefgh')", small)
    assert result.output == "abcde" and result.truncated


def test_memory_limit_is_per_run(sandbox):
    big = sandbox.run("x = bytearray(200 * 1024 * 1024)\nprint(len(x))")  # 200 MiB of 256 allowed
    assert big.ok, big.error
    too_big = sandbox.run("x = bytearray(400 * 1024 * 1024)")
    assert too_big.error_type == "MemoryError"


def test_worker_start_failure_is_explained(small_twin, monkeypatch):
    from river_agent.tools.sandbox import host

    monkeypatch.setattr(
        host, "_BOOTSTRAP", "import sys; sys.stderr.write('boom: no RestrictedPython'); sys.exit(3)"
    )
    with pytest.raises(SandboxError, match="boom: no RestrictedPython"):
        Sandbox(small_twin)


def test_interrupted_run_does_not_desynchronise(small_twin, monkeypatch):
    from river_agent.tools.sandbox import host

    with Sandbox(small_twin) as sb:
        real = host.Sandbox._read_reply

        def interrupted(self, deadline):
            raise KeyboardInterrupt

        monkeypatch.setattr(host.Sandbox, "_read_reply", interrupted)
        with pytest.raises(KeyboardInterrupt):
            sb.run("print('first')")
        monkeypatch.setattr(host.Sandbox, "_read_reply", real)
        result = sb.run("print('second')")
        assert result.output == "second\n" and sb.restarts == 1


def test_missing_attributes_raise(sandbox):
    """The stock RestrictedPython guard returns None for missing attributes; ours raises AttributeError."""
    assert sandbox.run("x = objects()[0].nope").error_type == "AttributeError"
    assert sandbox.run("import math\nx = math.nope").error_type == "AttributeError"
    assert sandbox.run("x = (1).nope").error_type == "AttributeError"
    assert sandbox.run("print(getattr(1, 'nope', 'dflt'), hasattr(1, 'nope'))").output == "dflt False\n"
