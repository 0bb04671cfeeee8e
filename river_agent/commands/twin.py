"""``river twin VIDEO --out DIR``: perception (issue #4)."""

from __future__ import annotations

from pathlib import Path

import typer

from river_agent.commands._placeholder import not_built


def register(app: typer.Typer) -> None:
    @app.command("twin")
    def twin_cmd(
        video: Path = typer.Argument(..., help="Video file or frame folder."),
        out: Path = typer.Option(..., "--out", help="Folder to write twin.json + masks/ into."),
        perception: str = typer.Option("classical", "--perception", help="Perception backend name."),
    ) -> None:
        """Build the digital twin of a video."""
        not_built("perception (`river twin`)", 4)
