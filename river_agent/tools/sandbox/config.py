"""Limits of one sandboxed run and the result it hands back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits applied to every snippet (each run is a fresh child process)."""

    cpu_seconds: float = field(
        default=2.0, metadata={"help": "CPU time per run (RLIMIT_CPU); the child is killed 1 s after it."}
    )
    wall_seconds: float = field(
        default=5.0, metadata={"help": "Wall-clock time per run; the child gets SIGKILL shortly after it."}
    )
    memory_mb: int = field(
        default=512, metadata={"help": "Address space the snippet may add on top of the worker (RLIMIT_AS)."}
    )
    max_output_chars: int = field(
        default=8000, metadata={"help": "Printed output kept per run; the rest is dropped (truncated=True)."}
    )

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "wall_seconds", "memory_mb", "max_output_chars"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SandboxLimits.{name} must be > 0, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Values of SandboxResult.error_type that the sandbox itself produces (other values are the names of Python
# exceptions the snippet raised, e.g. "ZeroDivisionError", "NameError", "MemoryError", "RecursionError").
SYNTAX_ERROR = "SyntaxError"  # the code does not parse
COMPILE_ERROR = "CompileError"  # the code parses but uses forbidden constructs (e.g. names starting with _)
SECURITY_ERROR = "SecurityError"  # a forbidden attribute, import, builtin or write was attempted at run time
CPU_LIMIT = "CPUTimeLimit"  # the run used more than cpu_seconds of CPU time
WALL_LIMIT = "WallTimeLimit"  # the run took longer than wall_seconds
CRASHED = "Crashed"  # the child died from a signal (e.g. killed by the kernel) without reporting
SANDBOX_ERROR = "SandboxError"  # the sandbox machinery failed (worker died, protocol error)


class SandboxResult(BaseModel):
    """What one run of a snippet produced."""

    ok: bool = Field(description="True when the snippet ran to the end without an error.")
    output: str = Field(default="", description="Printed output (capped at max_output_chars).")
    error: str | None = Field(default=None, description="Short traceback or message when ok is False.")
    error_type: str | None = Field(
        default=None,
        description="Exception name, or SyntaxError/CompileError/SecurityError/CPUTimeLimit/...",
    )
    duration_ms: float = Field(default=0.0, description="Wall-clock time of the run as the host saw it.")
    timed_out: bool = Field(default=False, description="A CPU or wall-clock limit stopped the run.")
    killed: bool = Field(default=False, description="The child process was killed by a signal.")
    truncated: bool = Field(default=False, description="Output went over max_output_chars and was cut.")

    def for_llm(self) -> str:
        """The text an agent puts between <results> tags."""
        parts = [self.output.rstrip("\n")] if self.output else []
        if self.truncated:
            parts.append("[output truncated]")
        if not self.ok:
            parts.append(self.error or str(self.error_type))
        return "\n".join(parts) if parts else "(no output)"
