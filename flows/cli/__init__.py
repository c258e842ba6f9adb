"""The `curriculum` command line (typer). Only this package imports typer.

Commands live in one module per area and are registered here. Heavy imports happen inside
commands, so `curriculum --help` stays fast. Errors a user can fix print one line naming what and
where, and exit with code 2; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="curriculum",
    help="Build difficulty-calibrated curriculum datasets for LLM post-training (DARC + GASP).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

datasets_app = typer.Typer(help="List, inspect, verify, compare and prune dataset versions.", no_args_is_help=True)
goalposts_app = typer.Typer(help="Validate goalpost files before a build trusts them.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(goalposts_app, name="goalposts")


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    """Build difficulty-calibrated curriculum datasets for LLM post-training (DARC + GASP)."""



def user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean bad input or environment, not a bug: shown as one line, exit 2."""
    from pipeline.backends import BackendUnavailable
    from pipeline.config import ConfigError
    from pipeline.goalposts import GoalpostError
    from pipeline.store.layout import StoreError
    from retrieval.chunking import ChunkingError
    from retrieval.corpus import CorpusError
    from retrieval.embedder import EmbedderError
    from retrieval.index import IndexMismatch

    return (ConfigError, BackendUnavailable, GoalpostError, StoreError, FileNotFoundError, NotADirectoryError,
            PermissionError, CorpusError, IndexMismatch, ChunkingError, EmbedderError)


from flows.cli import build, data, goalposts, retrieval  # noqa: E402,F401  (registers commands)


def main() -> None:
    try:
        app()
    except Exception as error:
        if "--debug" in sys.argv or not isinstance(error, user_errors()):
            raise
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
