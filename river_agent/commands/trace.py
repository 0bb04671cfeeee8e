"""``river trace show FILE`` and ``river trace html FILE --out page.html``: read rollout traces (JSONL)."""

from __future__ import annotations

from pathlib import Path

import typer

trace_app = typer.Typer(help="Inspect reasoning traces (JSONL).", no_args_is_help=True)


@trace_app.command("show")
def show(
    file: Path = typer.Argument(..., help="Trace file (JSONL)."),
    index: int | None = typer.Option(None, "--index", "-i", help="Show only trace number i (0-based; -1 = last)."),
    prompt: bool = typer.Option(False, "--prompt", help="Also print the prompt messages."),
) -> None:
    """Print traces with segments coloured by tag."""
    from rich.console import Console

    from river_agent.trace import load_traces
    from river_agent.trace_view import render_console, select

    console = Console()
    for trace in select(load_traces(file), index, file):
        render_console(trace, console, with_prompt=prompt)


@trace_app.command("html")
def html(
    file: Path = typer.Argument(..., help="Trace file (JSONL)."),
    out: Path = typer.Option(..., "--out", help="HTML page to write."),
    index: int | None = typer.Option(None, "--index", "-i", help="Only trace number i (0-based; -1 = last)."),
) -> None:
    """Write a readable HTML page of the traces."""
    from river_agent.fsutil import write_text_atomic
    from river_agent.trace import load_traces
    from river_agent.trace_view import render_html, select

    traces = select(load_traces(file), index, file)
    write_text_atomic(out, render_html(traces, title=file.name))
    typer.echo(f"wrote {out} ({len(traces)} trace{'s' if len(traces) != 1 else ''})")


def register(app: typer.Typer) -> None:
    app.add_typer(trace_app, name="trace")
