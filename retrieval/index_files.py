"""The files of an index directory, and the read-chunk-embed pass that finds what is new.

Kept apart from `index.py` so the Index class reads as the update rules; this module is the I/O:
Parquet tables for chunks and documents, the vectors, and writing a whole directory aside then
renaming it into place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval import faiss_index
from retrieval.chunking import Chunk, chunk_document
from retrieval.corpus import Skip, SourceDocument, read_corpus, text_hash

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
MAX_SKIP_EXAMPLES = 20
_CHUNK_FIELDS = ("chunk_id", "doc_id", "text", "source", "start", "end")


@dataclass
class UpdateReport:
    """What one build or update did: documents read, added, replaced; skips by reason."""

    seen: int = 0
    added_documents: int = 0
    replaced_documents: int = 0
    added_chunks: int = 0
    skips: dict[str, int] = field(default_factory=dict)
    skip_examples: list[dict] = field(default_factory=list)

    def describe(self) -> str:
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skips.items())) or "none"
        return (
            f"{self.seen} documents read, {self.added_documents} new, {self.replaced_documents} changed, "
            f"{self.added_chunks} chunks embedded; skipped: {skipped}"
        )


@dataclass
class NewDocuments:
    documents: dict[str, str]  # doc id -> text hash of documents to (re)embed
    replaced: set[str]  # ids among them that were indexed before with other text
    chunks: list[Chunk]
    vectors: np.ndarray
    report: UpdateReport


NO_TOKENS = "no_tokens"  # a document the embedding tokenizer reads as no tokens at all


def _skip(report: UpdateReport, skips: Counter[str], item: Skip) -> None:
    skips[item.reason] += 1
    if len(report.skip_examples) < MAX_SKIP_EXAMPLES:
        report.skip_examples.append({"source": item.source, "reason": item.reason, "detail": item.detail})
    logger.debug("skip %s: %s %s", item.source, item.reason, item.detail)


def embed_new_documents(
    paths, settings, embedder, old_hashes: dict[str, str], show_progress: bool
) -> NewDocuments:
    """Read the corpus; chunk and embed documents not already indexed with the same text."""
    report = UpdateReport()
    skips: Counter[str] = Counter()
    fresh: list[SourceDocument] = []
    hashes: dict[str, str] = {}
    for item in read_corpus(paths, settings.text_field, settings.id_field, settings.max_doc_chars):
        if isinstance(item, Skip):
            _skip(report, skips, item)
            continue
        report.seen += 1
        digest = text_hash(item.text)
        if old_hashes.get(item.doc_id) != digest:
            fresh.append(item)
            hashes[item.doc_id] = digest
    chunks: list[Chunk] = []
    for document in fresh:
        pieces = chunk_document(document.doc_id, document.text, document.source, embedder.token_spans,
                                settings.chunk_tokens, settings.chunk_overlap)
        if not pieces:  # nothing the tokenizer can read: count it, never index it as present
            _skip(report, skips, Skip(document.source, NO_TOKENS, f"doc id {document.doc_id!r}"))
            del hashes[document.doc_id]
            continue
        chunks.extend(pieces)
    fresh = [d for d in fresh if d.doc_id in hashes]
    report.skips = dict(sorted(skips.items()))
    replaced = {doc_id for doc_id in hashes if doc_id in old_hashes}
    vectors = embedder.encode(
        [c.text for c in chunks], batch_size=settings.batch_size, show_progress=show_progress
    )
    report.added_documents = len(fresh) - len(replaced)
    report.replaced_documents = len(replaced)
    report.added_chunks = len(chunks)
    return NewDocuments(
        hashes,
        replaced,
        chunks,
        np.asarray(vectors, dtype=np.float32).reshape(len(chunks), embedder.dim),
        report,
    )


def write_chunks(chunks: list[Chunk], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [getattr(c, name) for c in chunks] for name in _CHUNK_FIELDS}
    schema = pa.schema([(n, pa.int64() if n in ("start", "end") else pa.string()) for n in _CHUNK_FIELDS])
    pq.write_table(pa.table(columns, schema=schema), path)


def read_chunks(path: Path) -> list[Chunk]:
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pydict()
    return [Chunk(*row) for row in zip(*(table[name] for name in _CHUNK_FIELDS), strict=True)]


def read_documents(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pydict()
    return dict(zip(table["doc_id"], table["text_hash"], strict=True))


def write_aside(directory: Path, manifest: dict, chunks, vectors: np.ndarray, index, doc_hashes) -> None:
    """Write every file into a sibling directory, then swap it in with renames."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.building-{os.getpid()}")
    retired = directory.with_name(f".{directory.name}.old-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        write_chunks(chunks, staging / "chunks.parquet")
        ids = sorted(doc_hashes)
        documents = pa.table({"doc_id": ids, "text_hash": [doc_hashes[i] for i in ids]})
        pq.write_table(documents, staging / "documents.parquet")
        np.save(staging / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32))
        faiss_index.save(index, staging / "index.faiss")
        # The manifest goes last: a directory with a manifest is a complete index.
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if directory.exists():
        directory.rename(retired)
    staging.rename(directory)
    shutil.rmtree(retired, ignore_errors=True)
