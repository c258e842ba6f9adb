"""`curriculum index` and `curriculum search`: build or extend a FAISS index, query it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from flows.cli import app

_CORPUS = typer.Argument(..., exists=True, help="JSONL / Parquet files, folders of .txt/.md (and those files), or saved `datasets` folders.")
_OUT = typer.Option(..., "--out", help="Index directory; extended in place when it already exists.")
_TEXT = typer.Option(None, "--text-field", help="Field holding the text (default: text, or the index's).")
_ID = typer.Option(None, "--id-field", help="Field holding a document id (default: a hash of the text).")
_MODEL = typer.Option(
    None, "--model", help="Embedding model: name, local path or hub id (default all-MiniLM-L6-v2)."
)
_BACKEND = typer.Option(None, "--backend", help="torch (default), onnx or onnx-int8 (needs onnxruntime).")
_TOKENS = typer.Option(
    None, "--chunk-tokens", help="Tokens per chunk, of the model's tokenizer (default 200)."
)
_OVERLAP = typer.Option(None, "--chunk-overlap", help="Tokens shared by consecutive chunks (default 32).")
_BATCH = typer.Option(64, "--batch-size", min=1, help="Passages per embedding batch.")

_INDEX_DIR = typer.Argument(..., exists=True, file_okay=False, help="An index directory made by `curriculum index`.")
_QUERY = typer.Argument(..., help="The text to search for.")
_K = typer.Option(5, "-k", "--k", min=1, help="Number of chunks to return.")
_JSON = typer.Option(False, "--json", help="Print JSON (one object per hit) instead of a table.")


def _settings(out: Path, **given):
    """Index settings: what was given, else what the existing index recorded, else the defaults."""
    from retrieval.index import IndexSettings

    recorded: dict = {}
    manifest = out / "manifest.json"
    if manifest.exists():
        saved = json.loads(manifest.read_text())
        recorded = {
            "text_field": saved.get("text_field"),
            "id_field": saved.get("id_field"),
            "model": saved.get("model"),
            "backend": saved.get("backend"),
            "chunk_tokens": saved["chunking"]["chunk_tokens"],
            "chunk_overlap": saved["chunking"]["chunk_overlap"],
        }
    defaults = IndexSettings()
    values = {}
    for name, value in given.items():
        if value is None:
            value = recorded[name] if name in recorded else getattr(defaults, name)
        values[name] = value
    return IndexSettings(**values)


@app.command("index")
def index_command(
    corpus: list[Path] = _CORPUS,
    out: Path = _OUT,
    text_field: str | None = _TEXT,
    id_field: str | None = _ID,
    model: str | None = _MODEL,
    backend: str | None = _BACKEND,
    chunk_tokens: int | None = _TOKENS,
    chunk_overlap: int | None = _OVERLAP,
    batch_size: int = _BATCH,
) -> None:
    """Index corpus files into a persisted FAISS index (incremental when it exists)."""
    from retrieval.index import Index

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings(
        out,
        text_field=text_field,
        id_field=id_field,
        model=model,
        backend=backend,
        chunk_tokens=chunk_tokens,
        chunk_overlap=chunk_overlap,
    )
    from dataclasses import replace

    built = Index.build_or_update(corpus, out, replace(settings, batch_size=batch_size), show_progress=True)
    report, manifest = built.last_update, built.manifest
    counts, kind = manifest["counts"], manifest["index"]["type"]
    typer.echo(f"{out}: {report.describe()}")
    typer.echo(
        f"{out}: {counts['documents']} documents, {counts['chunks']} chunks, {kind} index, model {manifest['model']}"
    )
    for example in report.skip_examples[:5]:
        typer.echo(f"  skipped {example['source']}: {example['reason']} ({example['detail']})", err=True)


def _snippet(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@app.command("search")
def search_command(
    index_dir: Path = _INDEX_DIR, text: str = _QUERY, k: int = _K, as_json: bool = _JSON
) -> None:
    """Search an index for the chunks nearest a text."""
    from retrieval.index import Index

    hits = Index.load(index_dir).search([text], k)[0]
    if as_json:
        for rank, hit in enumerate(hits, start=1):
            chunk = hit.chunk
            typer.echo(
                json.dumps(
                    {
                        "rank": rank,
                        "score": round(hit.score, 6),
                        "doc_id": chunk.doc_id,
                        "chunk_id": chunk.chunk_id,
                        "source": chunk.source,
                        "start": chunk.start,
                        "end": chunk.end,
                        "text": chunk.text,
                    },
                    ensure_ascii=False,
                )
            )
        return
    width = max([len("doc_id")] + [len(h.chunk.doc_id) for h in hits])
    typer.echo(f"{'rank':>4}  {'score':>6}  {'doc_id':<{width}}  text")
    for rank, hit in enumerate(hits, start=1):
        typer.echo(f"{rank:>4}  {hit.score:>6.3f}  {hit.chunk.doc_id:<{width}}  {_snippet(hit.chunk.text)}")
