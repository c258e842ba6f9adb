"""`curriculum index` and `curriculum search`: build or extend a FAISS index, query it."""

from __future__ import annotations

from flows.cli import app, not_implemented


@app.command()
def index() -> None:
    """Index corpus files into a persisted FAISS index (incremental when it exists)."""
    not_implemented("index")


@app.command()
def search() -> None:
    """Search an index for the chunks nearest a text."""
    not_implemented("search")
