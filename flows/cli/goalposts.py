"""`curriculum goalposts check`: validate a goalposts file and run shipped reference solutions."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from flows.cli import goalposts_app

_FILE = typer.Argument(..., help="Goalposts JSONL / JSONL.gz / Parquet, or HumanEval's own file.")
_WORKERS = typer.Option(2, "--workers", min=1, help="Sandbox fork servers running at once.")
_JSON = typer.Option(False, "--json", help="Print one JSON object per goalpost instead of a table.")


@goalposts_app.command("check")
def check(file: Path = _FILE, workers: int = _WORKERS, as_json: bool = _JSON) -> None:
    """Validate a goalposts file; run code goalposts' reference solutions in the sandbox.

    Exits 1 when any reference solution fails its tests, 2 when the file itself is invalid."""
    from pipeline.goalposts import check_goalposts, read_goalposts

    goalposts = read_goalposts(file)
    rows = check_goalposts(goalposts, workers=workers)
    if as_json:
        for row in rows:
            typer.echo(json.dumps({"id": row.goalpost_id, "status": row.status, "tests_passed": row.tests_passed,
                                   "tests_total": row.tests_total, "reason": row.reason}))
    else:
        width = max(len("id"), *(len(r.goalpost_id) for r in rows))
        typer.echo(f"{'id':<{width}}  {'status':<12}  {'tests passed':<12}  reason")
        for row in rows:
            tests = f"{row.tests_passed}/{row.tests_total}" if row.tests_total else "-"
            typer.echo(f"{row.goalpost_id:<{width}}  {row.status:<12}  {tests:<12}  {row.reason}")
    failed = sum(row.status == "failed" for row in rows)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(_count(r.status for r in rows).items()))
    typer.echo(f"{file}: {len(rows)} goalposts: {counts}", err=True)
    if failed:
        raise typer.Exit(1)


def _count(statuses) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts
