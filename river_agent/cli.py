"""The ``river`` command line. Each subcommand lives in ``river_agent.commands.<name>`` and imports heavy
libraries only when it runs, so ``river --help`` stays fast."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from river_agent import __version__
from river_agent.commands import bench, edit, inspect, sandbox, trace, twin
from river_agent.errors import RiverError

app = typer.Typer(
    name="river",
    help="Reasoning video editing: video + implicit request -> digital twin -> reasoning -> edited video.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"river-agent {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """river: edit videos from implicit requests."""


for module in (twin, edit, bench, sandbox, trace, inspect):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one clear line and exit 1, never a stack trace."""
    try:
        rc = app(args=argv, standalone_mode=False)
    except RiverError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, markup=True, highlight=False)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except typer.TyperException as exc:  # usage errors arrive here in non-standalone mode
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(exc, "exit_code", 2))
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
