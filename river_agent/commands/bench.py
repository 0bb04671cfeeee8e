"""``river bench ...``: benchmark generation and evaluation (issue #3)."""

from __future__ import annotations

import typer

from river_agent.commands._placeholder import not_built

bench_app = typer.Typer(
    help="RVE-Synth benchmark: generate cases, evaluate systems, speed benchmarks.", no_args_is_help=True
)


@bench_app.command("generate")
def generate() -> None:
    """Generate a procedural benchmark suite."""
    not_built("`river bench generate`", 3)


@bench_app.command("eval")
def evaluate() -> None:
    """Evaluate a system on a suite."""
    not_built("`river bench eval`", 3)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
