"""``river trace ...``: inspect rollout traces (issue #5)."""

from __future__ import annotations

import typer

from river_agent.commands._placeholder import not_built

trace_app = typer.Typer(help="Inspect reasoning traces (JSONL).", no_args_is_help=True)


@trace_app.command("show")
def show() -> None:
    """Print a trace."""
    not_built("`river trace show`", 5)


def register(app: typer.Typer) -> None:
    app.add_typer(trace_app, name="trace")
