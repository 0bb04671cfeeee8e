"""One run inside the forked child: lock the process down, compile, execute, report over a pipe, exit.

Called only right after ``os.fork()`` in the worker. Nothing here returns: the child ends with ``os._exit``.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import signal
import sys
import traceback
from typing import Any

from river_agent.tools.sandbox import seccomp
from river_agent.tools.sandbox.policy import FILENAME, OutputCollector, compile_snippet, make_globals

MAX_ERROR_CHARS = 2000
RECURSION_LIMIT = 400


class CPULimitExceeded(BaseException):
    """Raised by the SIGPROF/SIGXCPU handlers (a BaseException: ``except Exception`` cannot catch it)."""


class WallLimitExceeded(BaseException):
    """Raised by the SIGALRM handler when the wall-clock limit is reached."""


def _on_xcpu(signum: int, frame: Any) -> None:
    raise CPULimitExceeded()


def _on_alarm(signum: int, frame: Any) -> None:
    raise WallLimitExceeded()


def _vm_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _lock_down(result_fd: int, limits: dict[str, Any]) -> None:
    """Only ``result_fd`` stays open; no new files, processes or core dumps; CPU and memory capped."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if fd != devnull:
            os.dup2(devnull, fd)
    keep = sorted({0, 1, 2, result_fd})
    start = 3
    for fd in keep:
        if fd >= start:
            os.closerange(start, fd)
            start = fd + 1
    os.closerange(start, 1 << 16)
    # cpu_seconds is enforced by a CPU-time timer (SIGPROF -> CPULimitExceeded, exact); RLIMIT_CPU (whole seconds)
    # is the backstop for code stuck in C or swallowing the exception: the kernel SIGKILLs at ceil(cpu) + 1 s.
    cpu_seconds = float(limits["cpu_seconds"])
    hard = int(-(-cpu_seconds // 1)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
    address_space = _vm_bytes() + int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    for limit in (resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE, resource.RLIMIT_CORE, resource.RLIMIT_NPROC):
        try:
            resource.setrlimit(limit, (0, 0))
        except (ValueError, OSError):
            pass
    if limits.get("seccomp", True):
        seccomp.install()  # no sockets, processes, signals to others, file changes (x86_64 Linux)
    signal.signal(signal.SIGXCPU, _on_xcpu)
    signal.signal(signal.SIGPROF, _on_xcpu)
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds, 0.25)  # repeats in case the snippet swallows it
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, float(limits["wall_seconds"]))


def _quiet() -> None:
    """Stop the limit timers; a limit signal may still land while doing so, hence the retries."""
    for _ in range(5):
        try:
            for signum in (signal.SIGALRM, signal.SIGPROF, signal.SIGXCPU):
                signal.signal(signum, signal.SIG_IGN)
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.setitimer(signal.ITIMER_PROF, 0)
            return
        except (CPULimitExceeded, WallLimitExceeded):
            continue


def _clean(text: str) -> str:
    """Valid UTF-8 only (lone surrogates from a snippet become '?')."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _short_traceback(exc: BaseException, source_lines: list[str]) -> str:
    lines = ["Traceback (most recent call last):"]
    frames = traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__), lookup_lines=False)
    for fs in frames:
        if fs.filename != FILENAME:
            continue
        code = source_lines[fs.lineno - 1].strip() if fs.lineno and 0 < fs.lineno <= len(source_lines) else ""
        lines.append(f"  line {fs.lineno}, in {fs.name}" + (f": {code}" if code else ""))
    try:
        message = str(exc)
    except BaseException:  # a snippet-defined __str__ may fail
        message = "<unprintable message>"
    lines.append(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
    text = "\n".join(lines[-12:]) if len(lines) > 12 else "\n".join(lines)
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 15] + "... [truncated]"


def _execute(source: str, api: dict[str, Any], output: OutputCollector, limits: dict[str, Any]) -> dict[str, Any]:
    code, kind, message = compile_snippet(source)
    if code is None:
        return {"ok": False, "error_type": kind, "error": (message or "")[:MAX_ERROR_CHARS]}
    glb = make_globals(api, output)
    try:
        exec(code, glb)
    except CPULimitExceeded:
        return {
            "ok": False,
            "error_type": "CPUTimeLimit",
            "timed_out": True,
            "error": f"CPU time limit of {limits['cpu_seconds']} s exceeded (the snippet was stopped)",
        }
    except WallLimitExceeded:
        return {
            "ok": False,
            "error_type": "WallTimeLimit",
            "timed_out": True,
            "error": f"wall-clock time limit of {limits['wall_seconds']} s exceeded (the snippet was stopped)",
        }
    except BaseException as exc:
        name = "SecurityError" if type(exc).__name__ == "SecurityError" else type(exc).__name__
        return {"ok": False, "error_type": name, "error": _short_traceback(exc, source.splitlines())}
    finally:
        glb.clear()
    return {"ok": True}


def run_child(source: str, limits: dict[str, Any], api: dict[str, Any], result_fd: int) -> None:
    """Entry point after fork; never returns."""
    status = 0
    try:
        gc.disable()
        sys.setrecursionlimit(RECURSION_LIMIT)
        _lock_down(result_fd, limits)
        output = OutputCollector(int(limits["max_output_chars"]))
        try:
            result = _execute(source, api, output, limits)
        except (CPULimitExceeded, WallLimitExceeded) as exc:  # the signal landed outside the snippet
            result = {
                "ok": False,
                "timed_out": True,
                "error_type": "CPUTimeLimit" if isinstance(exc, CPULimitExceeded) else "WallTimeLimit",
                "error": "time limit exceeded",
            }
        _quiet()
        result["output"] = _clean(output.text())
        if "error" in result:
            result["error"] = _clean(result["error"])
        result["truncated"] = output.truncated
        try:
            payload = json.dumps(result).encode("utf-8", "replace")
        except (TypeError, ValueError, MemoryError):
            payload = json.dumps(
                {"ok": False, "error_type": "SandboxError", "error": "result could not be encoded"}
            ).encode()
        view = memoryview(payload)
        while view:
            written = os.write(result_fd, view)
            view = view[written:]
    except BaseException:
        status = 70
    finally:
        os._exit(status)
