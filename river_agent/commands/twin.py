"""``river twin VIDEO --out DIR``: perception (issue #4): a video's digital twin, plus an overlay to check it."""

from __future__ import annotations

from pathlib import Path

import typer


def _check_out(video: Path, out: Path) -> None:
    from river_agent.errors import RiverError

    if out.exists() and not out.is_dir():
        raise RiverError(f"--out {out} is a file; give a folder for the twin")
    if out.is_dir():
        if video.resolve().is_relative_to(out.resolve()):
            raise RiverError(f"--out {out} holds the input video; choose another folder")
        if any(out.iterdir()) and not (out / "twin.json").exists():
            raise RiverError(f"--out {out} is a non-empty folder that is not a twin; choose a new or twin folder")


def register(app: typer.Typer) -> None:
    @app.command("twin")
    def twin_cmd(
        video: Path = typer.Argument(..., help="Video file or frame folder."),
        out: Path = typer.Option(..., "--out", help="Folder to write twin.json + masks/ + overlay.mp4 into."),
        perception: str = typer.Option("classical", "--perception", help="Preset: classical or foundation."),
        segmenter: str | None = typer.Option(None, help="Segmenter/tracker: classical or sam2."),
        categoriser: str | None = typer.Option(None, help="Categoriser: classical or owlv2."),
        min_category_confidence: float | None = typer.Option(
            None, help="Classical: below this a track is called 'object' (default 0.5; 0 always names a kind)."
        ),
        depth: str | None = typer.Option(None, help="Depth: classical or depth-anything."),
        describer: str | None = typer.Option(None, help="Describer: none, template, qwen2.5-vl or litellm."),
        sam2_checkpoint: str | None = typer.Option(None, help="SAM 2 checkpoint path."),
        sam2_config: str | None = typer.Option(None, help="SAM 2 config name shipped by `sam2`."),
        detector: str | None = typer.Option(None, help="Boxes prompting SAM 2: classical, owlv2 or auto."),
        owlv2_model: str | None = typer.Option(None, help="OWLv2 local path or hub id."),
        labels: str | None = typer.Option(None, help="Comma-separated category names OWLv2 looks for."),
        depth_model: str | None = typer.Option(None, help="Depth Anything v2 local path or hub id."),
        describer_model: str | None = typer.Option(None, help="Qwen2.5-VL path/hub id or litellm model name."),
        api_base: str | None = typer.Option(None, help="api_base for the litellm describer."),
        device: str | None = typer.Option(None, help="Torch device for model backends."),
        dtype: str | None = typer.Option(None, help="Torch dtype for model backends."),
        overlay: bool = typer.Option(True, "--overlay/--no-overlay", help="Also write overlay.mp4."),
    ) -> None:
        """Build the digital twin of a video (twin.json + masks/) and an overlay video to check it."""
        from rich.console import Console

        from river_agent.tools.perception import get_perception
        from river_agent.tools.perception.overlay import write_overlay
        from river_agent.video.io import probe_video

        console = Console()
        probe_video(video, count_frames=False)  # clear VideoError before anything loads
        _check_out(video, out)
        pipeline = get_perception(
            perception,
            segmenter=segmenter,
            categoriser=categoriser,
            min_category_confidence=min_category_confidence,
            depth=depth,
            describer=describer,
            sam2_checkpoint=sam2_checkpoint,
            sam2_config=sam2_config,
            detector=detector,
            owlv2_model=owlv2_model,
            labels=tuple(s.strip() for s in labels.split(",") if s.strip()) if labels else None,
            depth_model=depth_model,
            describer_model=describer_model,
            api_base=api_base,
            device=device,
            dtype=dtype,
        )
        twin = pipeline.run(video, out, progress=True)
        if overlay:
            write_overlay(video, twin, out / "overlay.mp4")
        n_inst = sum(len(f.instances) for f in twin.frames)
        console.print(
            f"[green]twin[/] {out / 'twin.json'}: {len(twin.frames)} frames, {len(twin.object_ids())} objects, "
            f"{n_inst} instances ({pipeline.name})" + (f"; overlay {out / 'overlay.mp4'}" if overlay else "")
        )
        for oid in twin.object_ids():
            track = twin.track(oid)
            inst = track[0][1]
            attrs = ", ".join(f"{k}={v}" for k, v in inst.attributes.items() if k != "description")
            console.print(f"  {oid}: {inst.category} ({attrs}) frames {track[0][0]}-{track[-1][0]} [{len(track)}]")
