"""The code sandbox the agent's ``<execute>`` blocks run in.

    from river_agent.tools.sandbox import Sandbox, SandboxLimits, SandboxResult, TWIN_API_DOC

    with Sandbox(twin, SandboxLimits(cpu_seconds=2)) as sb:
        result = sb.run("print(find('car'))")

Names resolve lazily so the worker process (which imports this package) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from river_agent.tools.sandbox.config import SandboxLimits, SandboxResult
    from river_agent.tools.sandbox.host import Sandbox, SandboxError
    from river_agent.tools.sandbox.twin_api import TWIN_API_DOC

__all__ = ["TWIN_API_DOC", "Sandbox", "SandboxError", "SandboxLimits", "SandboxResult"]

_WHERE = {
    "Sandbox": "host",
    "SandboxError": "host",
    "SandboxLimits": "config",
    "SandboxResult": "config",
    "TWIN_API_DOC": "twin_api",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(f"river_agent.tools.sandbox.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
