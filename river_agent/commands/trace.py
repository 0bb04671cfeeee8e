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
    files: list[Path] = typer.Argument(..., help="Trace file(s) (JSONL); all their rollouts go on one page."),
    out: Path = typer.Option(..., "--out", help="HTML page to write."),
    index: int | None = typer.Option(None, "--index", "-i", help="Only trace number i (0-based; -1 = last)."),
    twin: Path | None = typer.Option(
        None, "--twin", help="Twin (folder or twin.json) for the thumbnails instead of each trace's twin_ref."
    ),
    video: Path | None = typer.Option(None, "--video", help="Source video for the thumbnails (else the twin's)."),
    thumbnails: bool = typer.Option(
        True, "--thumbnails/--no-thumbnails", help="Crop the affected objects from the twin's masks and video."
    ),
) -> None:
    """Write a readable HTML page of the traces: segments, code, results, edit ops, object thumbnails."""
    from river_agent.trace import load_traces
    from river_agent.trace_view import select, write_html

    traces = []
    for file in files:
        traces += load_traces(file)
    source = files[0] if len(files) == 1 else ", ".join(map(str, files))
    traces = select(traces, index, source)
    title = files[0].name if len(files) == 1 else f"{len(files)} trace files"
    write_html(traces, out, title=title, thumbnails=thumbnails, twin=twin, video=video)
    typer.echo(f"wrote {out} ({len(traces)} trace{'s' if len(traces) != 1 else ''})")


def register(app: typer.Typer) -> None:
    app.add_typer(trace_app, name="trace")
