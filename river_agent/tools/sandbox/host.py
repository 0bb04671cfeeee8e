"""The host side: :class:`Sandbox` starts the worker process once and sends it one snippet per ``run``."""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from river_agent.errors import RiverError
from river_agent.tools.sandbox.config import SANDBOX_ERROR, SandboxLimits, SandboxResult

_HEADER = struct.Struct(">I")
START_TIMEOUT_S = 60.0
REPLY_MARGIN_S = 5.0  # beyond wall_seconds + the worker's kill grace, before the host gives up on the worker
MAX_CODE_CHARS = 200_000


class SandboxError(RiverError):
    """The sandbox worker could not be started or was misused."""


def _package_root() -> str:
    import river_agent

    return str(Path(river_agent.__file__).resolve().parent.parent)


_BOOTSTRAP = (
    "import sys; sys.path.insert(0, sys.argv[1]); from river_agent.tools.sandbox.worker import main; "
    "sys.exit(main())"
)


class Sandbox:
    """Runs untrusted snippets over one twin, each in a fresh, resource-limited child process.

    ``twin`` is a :class:`river_agent.twin.Twin` or a twin folder / ``twin.json`` path. The worker starts in
    ``__init__`` (start it before heavy threads exist; it is a separate interpreter either way) and is restarted
    if it dies. Thread-safe: runs are serialised.

        with Sandbox(twin) as sb:
            result = sb.run("print(len(objects()))")
    """

    def __init__(self, twin: Any, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self._twin_payload = self._encode_twin(twin)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.seccomp = False  # whether runs also get the seccomp deny list (x86_64 Linux), set by the worker
        self._closed = False
        self._start()

    # ------------------------------------------------------------------------------------------------ public

    def run(self, code: str, limits: SandboxLimits | None = None) -> SandboxResult:
        """Run ``code`` in a fresh child; never raises for anything the code does."""
        limits = limits or self.limits
        if not isinstance(code, str):
            raise SandboxError(f"code must be a string, not {type(code).__name__}")
        if len(code) > MAX_CODE_CHARS:
            return SandboxResult(
                ok=False,
                error_type="CompileError",
                error=f"code is too long ({len(code)} > {MAX_CODE_CHARS} characters)",
            )
        start = time.perf_counter()
        with self._lock:
            if self._closed:
                raise SandboxError("this sandbox is closed")
            reply = self._request({"code": code, "limits": limits.to_dict()}, limits)
        reply["duration_ms"] = (time.perf_counter() - start) * 1000.0
        return SandboxResult.model_validate(reply)

    def with_limits(self, **changes: Any) -> SandboxLimits:
        """A copy of this sandbox's limits with some fields changed (pass it to ``run``)."""
        return replace(self.limits, **changes)

    @property
    def worker_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def close(self) -> None:
        """Stop the worker (idempotent)."""
        with self._lock:
            self._closed = True
            self._stop()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self._stop()
        except Exception:
            pass

    # ----------------------------------------------------------------------------------------------- worker

    @staticmethod
    def _encode_twin(twin: Any) -> bytes:
        from river_agent.twin import Twin, load_twin

        if isinstance(twin, str | os.PathLike):
            twin = load_twin(twin)
        if isinstance(twin, Twin):
            data = twin.to_json_dict()
        elif isinstance(twin, dict):
            data = twin
        else:
            raise SandboxError(f"twin must be a Twin, a twin path or a dict, not {type(twin).__name__}")
        return json.dumps({"twin": data}).encode("utf-8")

    def _start(self) -> None:
        # A minimal environment: API keys and other secrets in the host's environment never reach the worker.
        env = {"PATH": os.defpath, "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        with tempfile.TemporaryFile() as errors:  # the worker's stderr, shown if it fails to start
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-c", _BOOTSTRAP, _package_root()],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=env,
                    cwd="/",
                    close_fds=True,
                    start_new_session=True,
                )
            except OSError as exc:
                raise SandboxError(f"cannot start the sandbox worker: {exc}") from exc
            self._proc = proc
            try:
                assert proc.stdin is not None
                proc.stdin.write(_HEADER.pack(len(self._twin_payload)) + self._twin_payload)
                proc.stdin.flush()
                ready = self._read_reply(time.monotonic() + START_TIMEOUT_S)
            except (OSError, TimeoutError, ValueError) as exc:
                self._stop()
                raise SandboxError(f"the sandbox worker did not start: {exc}{_tail(errors)}") from exc
            if not ready.get("ready"):
                self._stop()
                raise SandboxError(f"the sandbox worker did not start (no ready message){_tail(errors)}")
        self.seccomp = bool(ready.get("seccomp"))

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _request(self, message: dict[str, Any], limits: SandboxLimits) -> dict[str, Any]:
        for attempt in range(2):
            if self._proc is None or self._proc.poll() is not None:
                if self._proc is not None:
                    self._stop()
                try:
                    self._start()
                except SandboxError as exc:
                    return {"ok": False, "error_type": SANDBOX_ERROR, "error": str(exc)}
                self.restarts += 1
            body = json.dumps(message).encode("utf-8")
            try:
                assert self._proc is not None and self._proc.stdin is not None
                self._proc.stdin.write(_HEADER.pack(len(body)) + body)
                self._proc.stdin.flush()
            except (OSError, ValueError):
                self._kill_worker()
                continue  # the worker died between runs: restart it and send again
            deadline = time.monotonic() + limits.wall_seconds + 0.5 + REPLY_MARGIN_S
            try:
                return self._read_reply(deadline)
            except (OSError, TimeoutError, ValueError) as exc:
                self._kill_worker()
                if attempt == 0 and isinstance(exc, EOFError):
                    continue
                return {
                    "ok": False,
                    "error_type": SANDBOX_ERROR,
                    "killed": True,
                    "error": f"the sandbox worker failed during the run and was restarted ({exc})",
                }
            except BaseException:  # e.g. KeyboardInterrupt: the reply would arrive out of step, so drop the worker
                self._kill_worker()
                raise
        return {"ok": False, "error_type": SANDBOX_ERROR, "error": "the sandbox worker keeps dying"}

    def _kill_worker(self) -> None:
        if self._proc is not None:
            try:
                self._proc.kill()
            except OSError:
                pass
            self._stop()

    def _read_reply(self, deadline: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        header = _read_exact(self._proc.stdout, _HEADER.size, deadline)
        (size,) = _HEADER.unpack(header)
        reply = json.loads(_read_exact(self._proc.stdout, size, deadline))
        if not isinstance(reply, dict):
            raise ValueError("malformed reply from the sandbox worker")
        return reply


def _tail(stream: IO[bytes], limit: int = 1500) -> str:
    try:
        stream.seek(0)
        text = stream.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f"\n{text[-limit:]}" if text else ""


class _WorkerGone(EOFError, OSError):
    pass


def _read_exact(stream: IO[bytes], size: int, deadline: float) -> bytes:
    fd = stream.fileno()
    chunks: list[bytes] = []
    need = size
    while need:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the sandbox worker did not answer in time")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, need)
        if not chunk:
            raise _WorkerGone("the sandbox worker exited")
        chunks.append(chunk)
        need -= len(chunk)
    return b"".join(chunks)
