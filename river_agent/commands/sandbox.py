"""``river sandbox run``: run a snippet over a twin in the sandbox (issue #5)."""

from __future__ import annotations

import typer

from river_agent.commands._placeholder import not_built

sandbox_app = typer.Typer(help="The code sandbox the agent's <execute> blocks run in.", no_args_is_help=True)


@sandbox_app.command("run")
def run() -> None:
    """Run one snippet over a twin and print its output."""
    not_built("`river sandbox run`", 5)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
