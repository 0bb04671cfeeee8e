"""Foundation commands over twins and videos: ``river view``, ``validate``, ``diff`` and ``probe``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def register(app: typer.Typer) -> None:
    @app.command("view")
    def view_cmd(
        twin: Path = typer.Argument(..., help="Twin folder or twin.json."),
        budget: int | None = typer.Option(None, "--budget", help="Token budget for the compact view."),
    ) -> None:
        """Print the compact, track-level view of a twin (what the LLM reads)."""
        from river_agent.twin import load_twin
        from river_agent.twin.view import compact_view

        typer.echo(compact_view(load_twin(twin), budget_tokens=budget))

    @app.command("validate")
    def validate_cmd(
        original: Path = typer.Argument(..., help="The original twin D (folder or twin.json)."),
        edited: Path = typer.Argument(..., help="The edited twin D' (a JSON file)."),
    ) -> None:
        """Validate an edited twin D' against D (the R_dt check); exit 1 when invalid."""
        from river_agent.errors import TwinError
        from river_agent.twin import load_twin, validate_edited_twin
        from river_agent.twin.io import twin_json_path

        d = load_twin(original)
        path = twin_json_path(edited)
        if not path.exists():
            raise TwinError(f"{path}: no such file")
        result = validate_edited_twin(path.read_bytes(), d)
        if result.ok:
            console.print("[green]valid[/]")
        else:
            console.print(f"[red]invalid:[/] {result.reason}")
            raise typer.Exit(1)

    @app.command("diff")
    def diff_cmd(
        before: Path = typer.Argument(..., help="Twin D."),
        after: Path = typer.Argument(..., help="Twin D'."),
    ) -> None:
        """Show which objects changed between two twins, how and in which frames."""
        from river_agent.twin import diff_twins, load_twin

        diff = diff_twins(load_twin(before), load_twin(after))
        if not diff:
            console.print("no changes")
            return
        table = Table("object", "change", "detail", "frames")
        for ch in diff.changes:
            detail = ", ".join(f"{k}={v}" for k, v in ch.detail.items())
            table.add_row(str(ch.id), ch.kind, detail, f"{ch.frames[0]}-{ch.frames[-1]} ({len(ch.frames)})")
        console.print(table)

    @app.command("probe")
    def probe_cmd(video: Path = typer.Argument(..., help="Video file or frame folder.")) -> None:
        """Print a video's size, fps and frame count (checks that it decodes)."""
        from river_agent.video import probe_video

        info = probe_video(video)
        console.print(f"{info.path}: {info.width}x{info.height}, {info.fps:g} fps, {info.num_frames} frames")
