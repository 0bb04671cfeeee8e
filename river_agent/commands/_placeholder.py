"""Subcommands whose issue has not landed yet say so instead of crashing."""

from __future__ import annotations

from river_agent.errors import NotBuiltError


def not_built(what: str, issue: int) -> None:
    raise NotBuiltError(f"{what} is not built yet (tracked in issue #{issue})")
