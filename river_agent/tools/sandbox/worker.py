"""The sandbox worker ("zygote"): a light process that holds the twin API and forks one child per run.

Started by :class:`~river_agent.tools.sandbox.host.Sandbox` as a fresh interpreter, so threads in the host never
exist here and forking is safe and cheap. Protocol on stdin/stdout: 4-byte big-endian length + JSON.
First message ``{"twin": {...}}`` (answered ``{"ready": true}``), then ``{"code": str, "limits": {...}}`` per run
(answered with the fields of ``SandboxResult``). The worker exits when stdin closes.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import struct
import sys
import time
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")
KILL_GRACE_S = 0.5  # after wall_seconds the child's own alarm fires; SIGKILL follows this much later
MAX_RESULT_BYTES = 4 << 20


def read_message(stream: BinaryIO) -> Any | None:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


def write_message(stream: BinaryIO, message: Any) -> None:
    body = json.dumps(message).encode("utf-8")
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _read_until_eof(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Bytes from ``fd`` until EOF, or (partial, True) when the deadline passes first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), True
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), False
        size += len(chunk)
        if size <= MAX_RESULT_BYTES:
            chunks.append(chunk)


def run_one(source: str, limits: dict[str, Any], api: dict[str, Any]) -> dict[str, Any]:
    """Fork a child for one run, wait for its report (or kill it), and describe what happened."""
    from river_agent.tools.sandbox.child import run_child

    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_fd)
        run_child(source, limits, api, write_fd)  # never returns
    os.close(write_fd)
    try:
        data, late = _read_until_eof(read_fd, start + float(limits["wall_seconds"]) + KILL_GRACE_S)
    finally:
        os.close(read_fd)
    we_killed = False
    if late:
        try:
            os.kill(pid, signal.SIGKILL)
            we_killed = True
        except ProcessLookupError:
            pass
    _, status, usage = os.wait4(pid, 0)
    elapsed_ms = (time.monotonic() - start) * 1000.0
    result: dict[str, Any] | None = None
    if data and not late:
        try:
            result = json.loads(data)
        except ValueError:
            result = None
    if result is None:
        result = {"ok": False, "output": ""}
        cpu_used = usage.ru_utime + usage.ru_stime
        if we_killed:
            result.update(
                error_type="WallTimeLimit",
                timed_out=True,
                error=f"wall-clock limit of {limits['wall_seconds']} s exceeded; the run was killed",
            )
        elif os.WIFSIGNALED(status) and (
            os.WTERMSIG(status) == signal.SIGXCPU or cpu_used >= float(limits["cpu_seconds"])
        ):
            result.update(
                error_type="CPUTimeLimit",
                timed_out=True,
                error=f"CPU limit of {limits['cpu_seconds']} s exceeded; the run was killed",
            )
        elif os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            result.update(error_type="Crashed", error=f"the run died from {name} (memory or stack exhausted?)")
        else:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
            result.update(error_type="SandboxError", error=f"the run exited with status {code} without a report")
    result["killed"] = os.WIFSIGNALED(status)
    result["duration_ms"] = elapsed_ms
    return result


def serve(stdin: BinaryIO, stdout: BinaryIO) -> int:
    from river_agent.tools.sandbox.twin_api import build_api

    first = read_message(stdin)
    if not isinstance(first, dict) or "twin" not in first:
        return 2
    api = build_api(first["twin"])
    del first
    # Import before forking: children cannot open files, so lazy imports would fail there (unicodedata is
    # what the parser needs for non-ASCII identifiers).
    import unicodedata  # noqa: F401

    import river_agent.tools.sandbox.child  # noqa: F401
    from river_agent.tools.sandbox import seccomp

    hardened = seccomp.probe()

    gc.collect()
    gc.freeze()  # keep the shared heap out of the children's collections (fewer copy-on-write pages)
    write_message(stdout, {"ready": True, "pid": os.getpid(), "seccomp": hardened})
    while True:
        request = read_message(stdin)
        if request is None:
            return 0
        try:
            reply = run_one(str(request["code"]), dict(request["limits"]), api)
        except Exception as exc:  # the worker itself must survive anything a run does
            reply = {"ok": False, "error_type": "SandboxError", "error": f"worker error: {exc}"}
        write_message(stdout, reply)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the host's terminal is the host's business
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but protocol messages may reach the real stdout
    return serve(stdin, stdout)


if __name__ == "__main__":
    sys.exit(main())
