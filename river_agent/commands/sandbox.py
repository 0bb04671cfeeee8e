"""``river sandbox run --twin TWIN --code FILE``: run a snippet over a twin in the sandbox (issue #5)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

sandbox_app = typer.Typer(help="The code sandbox the agent's <execute> blocks run in.", no_args_is_help=True)


def _read_code(code: str) -> str:
    from river_agent.errors import RiverError

    if code == "-":
        return sys.stdin.read()
    path = Path(code)
    if not path.is_file():
        raise RiverError(f"{path}: no such code file (use '-' to read the code from stdin)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RiverError(f"{path}: cannot read: {exc}") from exc


@sandbox_app.command("run")
def run(
    twin: Path = typer.Option(..., "--twin", help="Twin folder or its twin.json."),
    code: str = typer.Option(..., "--code", help="Python file to run ('-' reads stdin)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole SandboxResult as JSON."),
    cpu: float = typer.Option(2.0, "--cpu", help="CPU seconds allowed."),
    wall: float = typer.Option(5.0, "--wall", help="Wall-clock seconds allowed."),
    memory: int = typer.Option(512, "--memory", help="Extra memory allowed, in MiB."),
    max_output: int = typer.Option(8000, "--max-output", help="Printed characters kept."),
) -> None:
    """Run one snippet over a twin and print its output (exit status 1 when the snippet fails)."""
    from river_agent.errors import RiverError
    from river_agent.tools.sandbox import Sandbox, SandboxLimits

    source = _read_code(code)
    try:
        limits = SandboxLimits(cpu_seconds=cpu, wall_seconds=wall, memory_mb=memory, max_output_chars=max_output)
    except ValueError as exc:
        raise RiverError(str(exc)) from exc
    with Sandbox(twin, limits) as sb:
        result = sb.run(source)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
    else:
        if result.output:
            typer.echo(result.output, nl=not result.output.endswith("\n"))
        if result.truncated:
            typer.echo("[output truncated]", err=True)
        if not result.ok:
            typer.echo(result.error or result.error_type, err=True)
    if not result.ok:  # exit status 1 through the CLI's error path
        raise RiverError(f"the snippet failed ({result.error_type})")


@sandbox_app.command("api")
def api() -> None:
    """Print the twin API that snippets can use (the text the agent's prompt includes)."""
    from river_agent.tools.sandbox import TWIN_API_DOC

    typer.echo(TWIN_API_DOC, nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")
