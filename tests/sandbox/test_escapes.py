"""A corpus of escape and abuse attempts: every one must be blocked with a clear error_type, none may hang, and
the sandbox must keep working afterwards. Attempts that would succeed print ESCAPED (checked too)."""

from __future__ import annotations

import pytest

from river_agent.tools.sandbox import SandboxLimits

COMPILE = {"CompileError"}
SEC = {"SecurityError"}
LIMIT = {"CPUTimeLimit", "WallTimeLimit"}
MEM = {"MemoryError", "CPUTimeLimit", "Crashed"}

# (name, code, accepted error types)
ATTEMPTS: list[tuple[str, str, set[str]]] = [
    # --- class hierarchy walks
    ("subclasses_walk", "print('ESCAPED', ().__class__.__bases__[0].__subclasses__())", COMPILE),
    (
        "subclasses_getattr",
        "c = getattr(getattr((), '__cl' + 'ass__'), '__ba' + 'ses__')\nprint('ESCAPED', c)",
        SEC,
    ),
    ("type_mro_dunder", "print('ESCAPED', type(()).__mro__)", COMPILE),
    ("type_mro_method", "print('ESCAPED', type(()).mro())", SEC),
    ("getattr_type_mro", "print('ESCAPED', getattr(type, 'mro')(type(())))", SEC),
    ("object_subclasses", "print('ESCAPED', object.__subclasses__())", COMPILE),
    ("object_subclasses_getattr", "print('ESCAPED', getattr(object, '__subclasses__')())", SEC),
    ("type_three_args", "X = type('X', (), {})\nprint('ESCAPED', X)", SEC),
    (
        "type_of_type_three_args",
        "T = type(type(1))\nX = T('X', (), {'__str__': lambda s: 'ESCAPED'})\nprint(X())",
        SEC,
    ),
    ("metaclass_subclass", "class M(type(int)):\n    pass\nprint('ESCAPED', M('X', (), {}))", {"TypeError"}),
    ("abcmeta_from_record", "M = type(type(objects()[0]))\nprint('ESCAPED', M('X', (), {}))", SEC),
    ("vars_object", "print('ESCAPED', vars(object))", SEC),
    ("homoglyph_dunder", "print('ESCAPED', ().__\uff43lass__)", COMPILE),
    ("escaped_dunder_string", "print('ESCAPED', getattr((), '\\x5f_class__'))", SEC),
    ("map_getattr", "print('ESCAPED', list(map(getattr, [()], ['__class__'])))", SEC),
    ("reduce_getattr", "import functools\nprint('ESCAPED', functools.reduce(getattr, ['__class__'], ()))", SEC),
    ("sorted_key_getattr", "print('ESCAPED', sorted([1], key=lambda x: getattr(x, '__class__')))", SEC),
    (
        "hasattr_probe_then_get",
        "if hasattr((), '__class__'):\n    print('ESCAPED')\nx = getattr((), '__class__')",
        SEC,
    ),
    # --- frames, generators, code objects, closures
    ("gen_frame_walk", "g = (i for i in [1])\nprint('ESCAPED', g.gi_frame.f_back.f_globals)", SEC | COMPILE),
    ("gen_frame_getattr", "g = (i for i in [1])\nprint('ESCAPED', getattr(g, 'gi_' + 'frame'))", SEC),
    ("gen_code", "def gen():\n    yield 1\nprint('ESCAPED', gen().gi_code)", SEC | COMPILE),
    ("sys_getframe", "import sys\nprint('ESCAPED', sys._getframe(1).f_globals)", COMPILE),
    ("import_sys", "import sys\nprint('ESCAPED', sys.modules)", SEC),
    ("import_inspect", "import inspect\nprint('ESCAPED', inspect.currentframe())", SEC),
    ("func_globals_dunder", "f = lambda: 0\nprint('ESCAPED', f.__globals__)", COMPILE),
    ("func_globals_getattr", "f = lambda: 0\nprint('ESCAPED', getattr(f, '__glo' + 'bals__'))", SEC),
    ("api_closure", "print('ESCAPED', getattr(track, '__closure__'))", SEC),
    ("api_code", "print('ESCAPED', getattr(objects, '__code__').co_consts)", SEC),
    ("function_constructor", "F = type(objects)\nprint('ESCAPED', F(None, {}))", {"TypeError"}),
    ("traceback_dunder", "try:\n    1/0\nexcept Exception as e:\n    print('ESCAPED', e.__traceback__)", COMPILE),
    (
        "traceback_getattr",
        "try:\n    1/0\nexcept Exception as e:\n    print('ESCAPED', getattr(e, '__traceback__').tb_frame)",
        SEC | COMPILE,
    ),
    ("exception_context", "try:\n    1/0\nexcept Exception as e:\n    print('ESCAPED', e.__context__)", COMPILE),
    (
        "attributeerror_obj",
        "try:\n    getattr(objects()[0], 'nope')\nexcept AttributeError as e:\n    print('ESCAPED', e.obj)",
        SEC,
    ),
    # --- format strings
    ("format_class", "print('ESCAPED', '{0.__class__}'.format(1))", SEC),
    ("format_subclasses", "print('ESCAPED', '{0.__class__.__base__.__subclasses__}'.format(()))", SEC),
    ("format_map_globals", "print('ESCAPED', '{x.__globals__}'.format_map({'x': objects}))", SEC),
    ("str_format_unbound", "print('ESCAPED', str.format('{0.__class__}', 1))", SEC),
    ("format_built_string", "fmt = '{0.' + '__globals__}'\nprint('ESCAPED', fmt.format(track))", SEC),
    ("fstring_dunder", "print('ESCAPED', f'{().__class__}')", COMPILE),
    # --- imports
    ("dunder_import", "print('ESCAPED', __import__('os'))", COMPILE),
    ("import_os_system", "import os\nos.system('echo ESCAPED')", SEC),
    ("import_importlib", "import importlib\nprint('ESCAPED', importlib.import_module('os'))", SEC),
    ("from_os_import", "from os import system\nsystem('echo ESCAPED')", SEC),
    ("import_os_path", "import os.path\nprint('ESCAPED')", SEC),
    ("relative_import", "from . import worker\nprint('ESCAPED')", SEC | {"ImportError", "CompileError"}),
    ("math_loader_dunder", "import math\nprint('ESCAPED', math.__loader__)", COMPILE),
    ("math_loader_getattr", "import math\nprint('ESCAPED', getattr(math, '__loader__'))", SEC),
    ("statistics_sys", "import statistics\nprint('ESCAPED', statistics.sys.modules['os'])", {"AttributeError"}),
    ("from_statistics_import_sys", "from statistics import sys\nprint('ESCAPED', sys)", {"ImportError"}),
    (
        "statistics_func_globals",
        "import statistics\nprint('ESCAPED', getattr(statistics.mean, '__glob' + 'als__')['sys'])",
        SEC,
    ),
    ("collections_abc", "import collections\nprint('ESCAPED', collections.abc)", {"AttributeError"}),
    ("json_decoder_module", "import json\nprint('ESCAPED', json.decoder)", {"AttributeError"}),
    (
        "operator_attrgetter",
        "import operator\nprint('ESCAPED', operator.attrgetter('__class__')(1))",
        {"AttributeError"},
    ),
    ("import_star", "from math import *\nprint('ESCAPED')", COMPILE),
    ("import_as_private", "import math as _m\nprint('ESCAPED', _m)", COMPILE),
    ("module_write", "import math\nmath.pi = 3\nprint('ESCAPED')", SEC),
    (
        "namedtuple_module_kw",
        "import collections\nprint('ESCAPED', collections.namedtuple('X', 'a', module='os'))",
        {"TypeError"},
    ),
    # --- builtins
    ("builtins_name", "print('ESCAPED', __builtins__)", COMPILE),
    ("globals_call", "print('ESCAPED', globals())", SEC),
    ("locals_call", "print('ESCAPED', locals())", SEC),
    ("vars_call", "print('ESCAPED', vars())", SEC),
    ("eval_call", "print('ESCAPED', eval('1+1'))", COMPILE),
    ("exec_call", "exec('import os')\nprint('ESCAPED')", COMPILE),
    ("eval_alias", "e = eval\nprint('ESCAPED', e('1+1'))", SEC),
    ("compile_call", "print('ESCAPED', compile('1', 'x', 'eval'))", SEC),
    ("open_file", "print('ESCAPED', open('/etc/passwd').read())", SEC),
    ("open_alias_write", "w = open\nw('/tmp/river_sandbox_escape', 'w').write('x')\nprint('ESCAPED')", SEC),
    ("breakpoint_call", "breakpoint()\nprint('ESCAPED')", COMPILE),
    ("setattr_twin", "setattr(objects()[0], 'id', 5)\nprint('ESCAPED')", SEC),
    ("input_call", "print('ESCAPED', input())", SEC),
    ("exit_call", "exit(0)\nprint('ESCAPED')", SEC),
    ("help_call", "help(objects)\nprint('ESCAPED')", SEC),
    ("memoryview_call", "print('ESCAPED', memoryview(b'x'))", SEC),
    ("guard_name", "print('ESCAPED', _getattr_)", COMPILE),
    ("print_to_file", "print('ESCAPED', file=1)", SEC),
    # --- finalisers and magic methods
    ("del_finaliser", "class A:\n    def __del__(self):\n        print('ESCAPED')\nA()", COMPILE),
    ("assign_dunder", "class A:\n    pass\nA.__del__ = lambda self: 0\nprint('ESCAPED')", COMPILE),
    (
        "getattribute_override",
        "class A:\n    def __getattribute__(self, n):\n        return 1\nprint('ESCAPED')",
        COMPILE,
    ),
    ("metaclass_kw", "class A(metaclass=type):\n    pass\nprint('ESCAPED')", COMPILE),
    # --- fork bombs and system access
    ("fork_bomb_os", "import os\nwhile True:\n    os.fork()", SEC),
    ("import_subprocess", "import subprocess\nsubprocess.run(['echo', 'ESCAPED'])", SEC),
    ("import_multiprocessing", "import multiprocessing\nprint('ESCAPED')", SEC),
    ("import_threading", "import threading\nprint('ESCAPED')", SEC),
    ("import_socket", "import socket\nsocket.create_connection(('example.com', 80))\nprint('ESCAPED')", SEC),
    ("import_ctypes", "import ctypes\nprint('ESCAPED')", SEC),
    ("import_time_sleep", "import time\ntime.sleep(100)", SEC),
    # --- writes to the twin API objects
    ("write_record_item", "objects()[0]['id'] = 99\nprint('ESCAPED')", SEC),
    ("write_record_attr", "track(1)[0].x = 5\nprint('ESCAPED')", SEC),
    ("write_attributes", "objects()[0].attributes['color'] = 'x'\nprint('ESCAPED')", SEC),
    ("delete_record_item", "del objects()[0]['id']\nprint('ESCAPED')", SEC),
    ("write_bbox_tuple", "frame(0)[0]['bbox'][0] = 1\nprint('ESCAPED')", SEC),
    ("write_api_function_attr", "track.x = 1\nprint('ESCAPED')", SEC),
    ("augassign_record", "r = objects()[0]\nr['id'] += 1\nprint('ESCAPED')", SEC),
    ("dict_update_record", "dict.update(objects()[0], {'id': 1})\nprint('ESCAPED')", {"TypeError"}),
    ("append_frames_tuple", "objects()[0].frames.append(1)\nprint('ESCAPED')", {"AttributeError"}),
    # --- resource abuse
    ("infinite_loop", "while True:\n    pass", LIMIT),
    ("huge_power", "x = 10**10**10\nprint('ESCAPED')", LIMIT | MEM),
    ("huge_string", "x = ' ' * 10**10\nprint('ESCAPED')", MEM),
    ("huge_list", "x = [0] * 10**9\nprint('ESCAPED')", MEM),
    ("growing_list", "x = []\nwhile True:\n    x.append('a' * 10**6)", MEM),
    ("deep_recursion", "def f(n):\n    return f(n + 1)\nf(0)", {"RecursionError"}),
    (
        "swallow_limit_signals",
        "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass",
        LIMIT,
    ),
    ("huge_sum", "print('ESCAPED', sum(range(10**12)))", LIMIT),
    ("infinite_iterator", "import itertools\nx = list(itertools.count())", MEM | LIMIT),
    ("regex_backtracking", "import re\nprint('ESCAPED', re.match('(a+)+$', 'a' * 40 + 'b'))", LIMIT),
    ("overflow_repeat", "x = 'a' * (2**63)\nprint('ESCAPED')", {"OverflowError", "MemoryError"}),
    ("deep_nesting_source", "x = " + "(" * 5000 + "1" + ")" * 5000, {"SyntaxError", "CompileError"}),
    (
        "nested_repr",
        "x = []\nfor i in range(100000):\n    x = [x]\nprint('ESCAPED', repr(x)[:5])",
        {"RecursionError"},
    ),
    (
        "json_deep_nesting",
        "import json\nprint('ESCAPED', json.loads('[' * 100000 + ']' * 100000))",
        {"RecursionError"},
    ),
]


def test_corpus_is_large_and_unique():
    names = [name for name, _, _ in ATTEMPTS]
    assert len(names) >= 50
    assert len(set(names)) == len(names)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("name", "code", "accepted"), ATTEMPTS, ids=[a[0] for a in ATTEMPTS])
def test_attempt_is_blocked(sandbox, name: str, code: str, accepted: set[str]):
    result = sandbox.run(code)
    assert not result.ok, f"{name} was not blocked; output: {result.output!r}"
    assert result.error_type in accepted, f"{name}: {result.error_type}: {result.error}"
    assert result.error  # a message the model can read
    assert "ESCAPED" not in result.output
    assert result.duration_ms < 10_000
    if result.error_type in LIMIT:
        assert result.timed_out
    after = sandbox.run("print(sum([1, 2, 3]))")  # the host and the worker survive
    assert after.ok and after.output == "6\n", after


def test_output_flood_is_capped(sandbox):
    result = sandbox.run("while True:\n    print('flood' * 100)")
    assert not result.ok and result.error_type in LIMIT and result.timed_out
    assert result.truncated and len(result.output) <= sandbox.limits.max_output_chars


def test_wall_clock_limit_alarm(sandbox):
    limits = SandboxLimits(cpu_seconds=30, wall_seconds=0.5, memory_mb=256)
    result = sandbox.run("while True:\n    pass", limits)
    assert result.error_type == "WallTimeLimit" and result.timed_out and not result.killed
    assert result.duration_ms < 3000


def test_wall_clock_hard_kill(sandbox):
    """A snippet that swallows the alarm is killed with SIGKILL shortly after the wall-clock limit."""
    limits = SandboxLimits(cpu_seconds=30, wall_seconds=0.5, memory_mb=256)
    code = "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass"
    result = sandbox.run(code, limits)
    assert result.error_type == "WallTimeLimit" and result.timed_out and result.killed
    assert result.duration_ms < 3000
    assert sandbox.run("print(1)").output == "1\n"


def test_no_file_was_written():
    import os

    assert not os.path.exists("/tmp/river_sandbox_escape")
