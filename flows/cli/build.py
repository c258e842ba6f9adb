"""`curriculum build` and `curriculum schedule`: run a build now, or nightly against a Prefect server."""

from __future__ import annotations

from flows.cli import app, not_implemented


@app.command()
def build() -> None:
    """Run one build from a config file and publish a new dataset version."""
    not_implemented("build")


@app.command()
def schedule() -> None:
    """Serve a nightly deployment of a build against the Prefect API in PREFECT_API_URL."""
    not_implemented("schedule")
