"""`curriculum build` and `curriculum schedule`: run a build now, or nightly against a Prefect server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.cli import app

ConfigArg = Annotated[Path, typer.Argument(metavar="CONFIG.yaml", help="Build config file.")]
OutOpt = Annotated[str | None, typer.Option("--out", help="Store root for this build (overrides output_root).")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override a config key, e.g. --set darc.teacher_votes=5 (repeatable).")]


def _load(config_path: Path, out: str | None, overrides: list[str] | None):
    from pipeline.config import load_config

    assignments = list(overrides or [])
    if out:
        assignments.append(f"output_root={Path(out).resolve()}")
    return load_config(config_path, assignments)


@app.command()
def build(
    config_path: ConfigArg,
    out: OutOpt = None,
    overrides: SetOpt = None,
    new_version: Annotated[bool, typer.Option(
        "--new-version", help="Build a new version even when this config was already built.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's own log lines too.")] = False,
) -> None:
    """Run one build from a config file and publish a new dataset version."""
    config = _load(config_path, out, overrides)
    _prefect_defaults()
    if not verbose:
        _quiet_prefect_console()
    from pipeline.backends import preflight

    preflight(config.models)  # an unreachable server or a missing GPU fails now, not after indexing
    from flows import progress
    from flows.workdir import work_root

    unsubscribe = progress.subscribe(lambda snap: typer.echo(snap.line(), err=True)) if not quiet else None
    from flows.build import build_curriculum
    restore = _exit_on_interrupt(work_root(config))
    try:
        result = build_curriculum(config, new_version=new_version)
    except KeyboardInterrupt:
        typer.echo(_interrupted_message(work_root(config)), err=True)
        raise typer.Exit(130) from None
    except OSError as error:
        if "--debug" in sys.argv:
            raise
        typer.echo(f"error: {error}\nNothing was published (no partial version is visible). Finished shards "
                   f"are saved under {work_root(config)}; fix the cause and rerun to resume.", err=True)
        raise typer.Exit(1) from None
    finally:
        restore()
        if unsubscribe:
            unsubscribe()
    _print_result(result)


def _interrupted_message(work: Path) -> str:
    return (f"\ninterrupted: nothing was published by this run (a version only ever appears whole). Finished "
            f"shards are saved under {work}; rerun the same command to resume.")


def _exit_on_interrupt(work: Path):
    """Ctrl-C ends the build at once, exactly as safely as kill -9 would.

    Letting KeyboardInterrupt unwind through Prefect does not work: the terminal's SIGINT also stops
    Prefect's ephemeral server, and the engine then retries its API calls for minutes. Nothing needs
    unwinding: step results and versions are written aside and renamed, so whatever was saved is
    whole and a half-written version is invisible and cleaned up by the next publish.
    """
    import os
    import signal

    def stop(signum: int, frame: object) -> None:
        typer.echo(_interrupted_message(work), err=True)
        try:
            from prefect.server.api.server import SubprocessASGIServer

            for server in list(SubprocessASGIServer._instances.values()):
                server.stop()
        except Exception:  # best effort: the process is going away regardless
            pass
        os._exit(130)

    previous = signal.signal(signal.SIGINT, stop)
    return lambda: signal.signal(signal.SIGINT, previous)


def _quiet_prefect_console() -> None:
    """Progress lines replace Prefect's per-task console lines; its logs still reach the API/UI.

    Set through Prefect's own settings before Prefect is imported: its console handlers' level.
    """
    import os

    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "WARNING")


def _prefect_defaults() -> None:
    """Settings for a build without a server: no anonymous telemetry from the temporary server (on a
    machine offline it logs an ERROR, and its writes contend for the SQLite file), and more than
    Prefect's 20 s for that server to start on a loaded machine. Explicit settings win."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _print_result(result: dict) -> None:
    path = result["path"]
    if result.get("up_to_date"):
        typer.echo(f"Up to date: {result['dataset']}@{result['version']} was already built from this config "
                   f"and corpus (use --new-version for another).")
    else:
        calls = result.get("model_calls", {})
        typer.echo(f"Published {result['dataset']}@{result['version']}: {result['rows']} questions, "
                   f"{result['rejects']} rejects, {calls.get('samples', 0)} model samples this run, "
                   f"{result['seconds']:.1f} s.")
    typer.echo(f"Dataset: {path}")
    typer.echo("Load it:")
    typer.echo(f"  import datasets; ds = datasets.load_dataset({path!r}, 'rl', split='train')  # or 'sft', 'raw'")
    typer.echo(f"  import polars as pl; df = pl.read_parquet({str(Path(path) / 'data' / 'curriculum-*.parquet')!r})")


@app.command()
def schedule(
    config_path: ConfigArg,
    cron: Annotated[str, typer.Option("--cron", help="Cron schedule (server time zone).")] = "0 2 * * *",
    name: Annotated[str | None, typer.Option("--name", help="Deployment name (default nightly-<dataset>).")] = None,
    out: OutOpt = None,
    overrides: SetOpt = None,
) -> None:
    """Serve a nightly deployment of a build against the Prefect API in PREFECT_API_URL."""
    config = _load(config_path, out, overrides)
    _prefect_defaults()
    from flows.schedule import ScheduleError, serve_build

    typer.echo(f"Serving {name or 'nightly-' + config.dataset} ({cron}); Ctrl-C stops it.", err=True)
    try:
        serve_build(config, cron=cron, name=name)
    except ScheduleError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
