"""`curriculum datasets ...`, `curriculum export` and `curriculum push`: the versioned store."""

from __future__ import annotations

from flows.cli import app, datasets_app, not_implemented


@datasets_app.command("list")
def list_versions() -> None:
    """List datasets and their versions."""
    not_implemented("datasets list")


@app.command()
def export() -> None:
    """Export a version as a trainer view (rl, sft, raw)."""
    not_implemented("export")


@app.command()
def push() -> None:
    """Push a version to the Hugging Face Hub."""
    not_implemented("push")
