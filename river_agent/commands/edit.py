"""``river edit VIDEO QUERY --out OUT.mp4``: the whole pipeline (perceive -> reason -> render -> verify)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)
TAG_STYLE = {"think": "cyan", "execute": "yellow", "results": "green", "target": "magenta", "edit": "bold magenta"}


def startup_line(timings: dict[str, float], info: dict[str, object]) -> str:
    """Where the policy's start-up went, e.g. ``start-up 3.1 s: imports 2.4, model 0.6 (cache)``."""
    s = lambda key: timings.get(key, 0.0) / 1000  # noqa: E731
    model = sum(s(f"startup_{k}_ms") for k in ("cache_check", "tokenizer", "weights", "to_device"))
    parts = [f"imports {s('startup_import_ms'):.1f}"]
    if model:
        parts.append(f"model {model:.1f} ({info.get('source', '?')})")
    if "startup_cache_write_ms" in timings:
        parts.append(f"cache write {s('startup_cache_write_ms'):.1f}")
    if "startup_adapter_ms" in timings:
        parts.append(f"adapter {s('startup_adapter_ms'):.1f}")
    if "startup_preload_ms" in timings:  # loaded while perception ran; startup_ms is what the stage waited
        head = f"start-up {s('startup_preload_ms'):.1f} s during perception, {s('startup_ms'):.1f} s waited: "
        return head + ", ".join(parts)
    return f"start-up {s('startup_ms'):.1f} s: " + ", ".join(parts)


def register(app: typer.Typer) -> None:
    @app.command("edit")
    def edit_cmd(
        video: Path = typer.Argument(..., help="Video file or frame folder."),
        query: str = typer.Argument(..., help="The implicit editing request."),
        out: Path = typer.Option(..., "--out", help="Edited video path (.mp4); side files go to OUT.river/."),
        twin: Path | None = typer.Option(
            None, "--twin", help="Use this twin (folder or twin.json), skip perception."
        ),
        config: Path | None = typer.Option(None, "--config", help="AgentConfig as YAML/JSON."),
        backend: str | None = typer.Option(None, "--backend", help="LLM backend (transformers | litellm | vllm)."),
        model: str | None = typer.Option(None, "--model", help="Model for the backend (path, or litellm name)."),
        api_base: str | None = typer.Option(None, "--api-base", help="Server URL for litellm."),
        strategy: str | None = typer.Option(None, "--strategy", help="staged | free | auto."),
        seed: int | None = typer.Option(None, "--seed", help="Sampling seed."),
        threads: int | None = typer.Option(None, "--threads", help="torch CPU threads (1 on a busy machine)."),
        show: bool = typer.Option(True, "--show/--quiet", help="Print the reasoning as it is produced."),
    ) -> None:
        """Edit a video from an implicit request, on the embedded defaults unless configured otherwise."""
        from river_agent.agent import AgentConfig, RiverAgent
        from river_agent.graphs.events import Finished, RolloutSegment, StageFinished, StageStarted

        cfg = AgentConfig.from_file(config) if config else AgentConfig()
        if backend:
            cfg.backend = backend
        opts = dict(cfg.backend_options)
        if model:
            opts["model"] = model
        if api_base:
            opts["api_base"] = api_base
        cfg.backend_options = opts
        if strategy:
            cfg.strategy = strategy
        if seed is not None:
            cfg.seed = seed
        if threads is not None:
            cfg.torch_threads = threads
        agent = RiverAgent(cfg)
        result = None
        status = console.status("starting", spinner="dots")
        status.start()
        try:
            for ev in agent.stream(video, query, out, twin=twin):
                if isinstance(ev, StageStarted):
                    status.update(f"[bold]{ev.stage}[/] ...")
                elif isinstance(ev, StageFinished):
                    mark = "[green]ok[/]" if ev.ok else "[red]failed[/]"
                    console.print(f"{ev.stage:<9} {mark} {ev.seconds:6.1f} s")
                    if ev.stage == "reason" and agent.startup:
                        line = startup_line(agent.startup, agent.startup_info)
                        console.print(f"          {line}", highlight=False)
                elif isinstance(ev, RolloutSegment) and show:
                    style = TAG_STYLE.get(ev.tag, "white")
                    console.print(f"  [{style}]<{ev.tag}>[/] {ev.text.strip()[:300]}", highlight=False)
                elif isinstance(ev, Finished):
                    result = ev.result
        finally:
            status.stop()
            agent.close()
        assert result is not None
        if result.trace_path:
            console.print(f"trace      {result.trace_path}")
        if result.twin:
            console.print(f"twin       {result.twin}")
        if not result.ok:
            console.print(f"[bold red]error:[/] {result.error}")
            raise typer.Exit(1)
        console.print(f"edit       {json.dumps(result.ops)}")
        for change in result.changes:
            console.print(f"           {change}")
        console.print(f"edited twin {result.edited_twin}")
        console.print(f"[bold green]video[/]      {result.video}")
        if result.comparison:
            console.print(f"comparison {result.comparison}")
        if result.overlay:
            console.print(f"overlay    {result.overlay}")
        v = result.verify
        console.print(
            f"verify     {v.get('frames')} frames {v.get('size')}, "
            f"{v.get('changed_in_target_region', 0):.0%} of changed pixels on the edited objects"
        )
