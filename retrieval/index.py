"""A persisted, incrementally updated FAISS index over corpus chunks, with a manifest.

Directory layout: `manifest.json` (model, dimension, chunking settings, corpus content hash, counts,
skips, build time, index type and parameters), `chunks.parquet` (row i describes vector i),
`documents.parquet` (doc id -> text hash, for incremental updates), `vectors.npy`, `index.faiss`.

An update reads the corpus, embeds only documents whose id is new or whose text changed (a changed
document's old chunks are dropped), and leaves the directory untouched when nothing is new. Documents
absent from this run's paths stay: pass just tonight's new file and the index grows. Every write goes
to a sibling directory first and is renamed into place, so a failed build leaves the old index intact.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from retrieval import faiss_index
from retrieval.chunking import Chunk, ChunkingError, validate_chunking
from retrieval.embedder import DEFAULT_MODEL, Embedder, load_embedder
from retrieval.index_files import (
    MANIFEST,
    UpdateReport,
    embed_new_documents,
    read_chunks,
    read_documents,
    write_aside,
)

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


class IndexMismatch(ValueError):
    """The index was built with another model or chunking than the one asked for now."""


@dataclass(slots=True, frozen=True)
class IndexSettings:
    """How a corpus is read, chunked and embedded; the index records and enforces these."""

    text_field: str = "text"
    id_field: str | None = None
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    model: str = DEFAULT_MODEL
    backend: str = "torch"
    max_doc_chars: int = 2_000_000
    exact_max_vectors: int = faiss_index.EXACT_MAX_VECTORS
    batch_size: int = 64

    def __post_init__(self) -> None:
        validate_chunking(self.chunk_tokens, self.chunk_overlap)


@dataclass(slots=True, frozen=True)
class Hit:
    chunk: Chunk
    score: float  # cosine similarity of query and chunk


@dataclass
class Index:
    """Chunks, their unit vectors (row i = chunks[i]) and the FAISS index over them."""

    directory: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss: object
    doc_hashes: dict[str, str]
    _embedder: Embedder | None = None
    last_update: UpdateReport = field(default_factory=UpdateReport)

    @property
    def embedder(self) -> Embedder:
        """The query-side embedder; loaded on first use from the model the manifest names."""
        if self._embedder is None:
            self._embedder = load_embedder(self.manifest["model"], self.manifest.get("backend", "torch"))
            check_model(self.manifest, self._embedder, self.directory)
        return self._embedder

    def __len__(self) -> int:
        return len(self.chunks)

    @classmethod
    def load(cls, index_dir: str | Path, embedder: Embedder | None = None) -> Index:
        directory = Path(index_dir)
        manifest_path = directory / MANIFEST
        if not manifest_path.exists():
            raise FileNotFoundError(
                f"no index at {directory} (missing {MANIFEST}); build one with `curriculum index`"
            )
        manifest = json.loads(manifest_path.read_text())
        if embedder is not None:
            check_model(manifest, embedder, directory)
        vectors = np.load(directory / "vectors.npy", mmap_mode="r")
        return cls(
            directory=directory,
            manifest=manifest,
            chunks=read_chunks(directory / "chunks.parquet"),
            vectors=vectors,
            faiss=faiss_index.load(directory / "index.faiss", manifest["index"]),
            doc_hashes=read_documents(directory / "documents.parquet"),
            _embedder=embedder,
        )

    @classmethod
    def build_or_update(
        cls,
        paths: list[str | Path],
        index_dir: str | Path,
        settings: IndexSettings | None = None,
        embedder: Embedder | None = None,
        show_progress: bool = False,
    ) -> Index:
        """Index `paths` into `index_dir`, creating it or adding what is new; see the module docstring."""
        settings = settings or IndexSettings()
        directory = Path(index_dir)
        started = time.perf_counter()
        embedder = embedder or load_embedder(settings.model, settings.backend)
        if settings.chunk_tokens > embedder.max_tokens:
            raise ChunkingError(
                f"chunk_tokens={settings.chunk_tokens} exceeds what {embedder.name} reads ({embedder.max_tokens})"
            )
        existing = cls.load(directory, embedder) if (directory / MANIFEST).exists() else None
        if existing is not None:
            check_settings(existing.manifest, settings, directory)
        old_hashes = existing.doc_hashes if existing else {}
        new = embed_new_documents(paths, settings, embedder, old_hashes, show_progress)
        if existing is not None and not new.documents:
            logger.info("index %s: nothing new in %d documents; left unchanged", directory, new.report.seen)
            existing.last_update = new.report
            return existing
        if existing is None and not new.documents:
            from retrieval.corpus import CorpusError

            raise CorpusError(
                f"no documents to index in {', '.join(map(str, paths))}: {new.report.describe()}"
            )
        keep_old = (
            [i for i, c in enumerate(existing.chunks) if c.doc_id not in new.replaced] if existing else []
        )
        chunks = [existing.chunks[i] for i in keep_old] + new.chunks if existing else new.chunks
        vectors = (
            np.concatenate([np.asarray(existing.vectors)[keep_old], new.vectors]) if existing else new.vectors
        )
        spec = faiss_index.choose_spec(len(vectors), settings.exact_max_vectors)
        if existing is not None and not new.replaced and spec == existing.manifest["index"]:
            index = existing.faiss  # pure growth with the same index kind: add, no rebuild
            index.add(np.ascontiguousarray(new.vectors))
        else:
            index = faiss_index.build(vectors, spec)
        doc_hashes = {**old_hashes, **new.documents}
        manifest = make_manifest(settings, embedder, chunks, doc_hashes, spec, new.report, paths)
        manifest["build_time_s"] = round(time.perf_counter() - started, 3)
        write_aside(directory, manifest, chunks, vectors, index, doc_hashes)
        logger.info("index %s: %s", directory, new.report.describe())
        return cls(directory, manifest, chunks, vectors, index, doc_hashes, embedder, new.report)

    def search(self, texts: list[str], k: int = 10) -> list[list[Hit]]:
        """Top-k chunks for each text, best first."""
        queries = self.embedder.encode(list(texts))
        return self.search_vectors(queries, k)

    def search_vectors(self, queries: np.ndarray, k: int = 10) -> list[list[Hit]]:
        if not len(queries):
            return []
        scores, ids = self.faiss.search(
            np.ascontiguousarray(queries, dtype=np.float32), min(k, len(self.chunks))
        )
        return [
            [Hit(self.chunks[i], float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]


def corpus_hash(doc_hashes: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for doc_id in sorted(doc_hashes):
        digest.update(f"{doc_id}\x1f{doc_hashes[doc_id]}\x1e".encode())
    return digest.hexdigest()[:16]


def make_manifest(settings, embedder, chunks, doc_hashes, spec, report, paths) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "model": embedder.name,
        "backend": settings.backend,
        "dim": embedder.dim,
        "chunking": {
            "chunk_tokens": settings.chunk_tokens,
            "chunk_overlap": settings.chunk_overlap,
            "tokenizer": embedder.name,
        },
        "text_field": settings.text_field,
        "id_field": settings.id_field,
        "max_doc_chars": settings.max_doc_chars,
        "corpus_hash": corpus_hash(doc_hashes),
        "counts": {"documents": len(doc_hashes), "chunks": len(chunks)},
        "skips": report.skips,
        "skip_examples": report.skip_examples,
        "last_update": {k: v for k, v in asdict(report).items() if k != "skip_examples"},
        "index": spec,
        "sources": [str(p) for p in paths],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def check_model(manifest: dict, embedder: Embedder, directory: Path) -> None:
    if manifest["model"] != embedder.name or manifest["dim"] != embedder.dim:
        raise IndexMismatch(
            f"index {directory} was built with model {manifest['model']} (dim {manifest['dim']}), "
            f"but the query side uses {embedder.name} (dim {embedder.dim}); use the same --model or rebuild"
        )


def check_settings(manifest: dict, settings: IndexSettings, directory: Path) -> None:
    recorded = manifest["chunking"]
    asked = {"chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap}
    fields = {"text_field": settings.text_field, "id_field": settings.id_field}
    for name, value in {**asked, **fields}.items():
        was = recorded.get(name, manifest.get(name))
        if was != value:
            raise IndexMismatch(
                f"index {directory} was built with {name}={was!r}, asked for {value!r}; "
                "keep the settings or write a new index with another --out"
            )
