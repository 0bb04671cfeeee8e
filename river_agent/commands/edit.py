"""``river edit VIDEO QUERY --out OUT.mp4``: the whole pipeline (issue #5)."""

from __future__ import annotations

from pathlib import Path

import typer

from river_agent.commands._placeholder import not_built


def register(app: typer.Typer) -> None:
    @app.command("edit")
    def edit_cmd(
        video: Path = typer.Argument(..., help="Video file or frame folder."),
        query: str = typer.Argument(..., help="The implicit editing request."),
        out: Path = typer.Option(..., "--out", help="Edited video path (.mp4)."),
    ) -> None:
        """Edit a video from an implicit request."""
        not_built("the editing agent (`river edit`)", 5)
