"""The build's side of retrieval and the store: open the index, sample documents, ground goalposts.

Kept apart from the flow so that `flows/build.py` reads as the order of steps, and so that the
one place that knows how a retrieval `Chunk` becomes a pipeline `Document` is here.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.config import BuildConfig, ConfigError
from pipeline.records import Document

log = logging.getLogger(__name__)


def index_dir(config: BuildConfig) -> Path:
    if config.corpus.index_dir:
        return Path(config.corpus.index_dir)
    return Path(config.output_root) / config.dataset / "index"


def open_index(config: BuildConfig) -> Any:
    """Build or update the persisted index (a no-op when the corpus is unchanged)."""
    from retrieval.index import Index, IndexSettings

    corpus = config.corpus
    settings = IndexSettings(
        text_field=corpus.text_field, id_field=corpus.id_field, chunk_tokens=corpus.chunk_tokens,
        chunk_overlap=corpus.chunk_overlap, model=corpus.embedding_model, backend=corpus.embedding_backend)
    return Index.build_or_update(corpus.paths, index_dir(config), settings)


def corpus_key(index: Any) -> str:
    """What identifies the indexed corpus: the content hash its manifest records."""
    return index.manifest["corpus_hash"]


def still_current(config: BuildConfig, state: Any, index: Any) -> bool:
    """Whether a finished build of this config is still the answer: same corpus, version still there."""
    from pipeline.store import StoreError, read_version

    try:
        read_version(config.output_root, config.dataset, state.published["version"])
    except StoreError:
        return False
    return state.published.get("corpus_key") == corpus_key(index)


def latest_version(config: BuildConfig) -> str | None:
    from pipeline.store import StoreError, read_version

    try:
        return read_version(config.output_root, config.dataset).ref.version
    except StoreError:
        return None


def sample(config: BuildConfig, index: Any) -> list[dict[str, str]]:
    """The build's documents: topic-spread, deterministic by seed, off earlier versions' documents."""
    from pipeline.store import used_doc_ids
    from retrieval.sampling import sample_documents

    exclude = used_doc_ids(config.output_root, config.dataset) if config.corpus.exclude_used else set()
    chunks = sample_documents(index, config.corpus.documents_per_build, config.seed, exclude=exclude)
    if not chunks:
        raise ConfigError(f"{config.dataset}: no documents left to sample (corpus {config.corpus.paths}, "
                         f"{len(exclude)} used by earlier versions); add documents or set corpus.exclude_used=false")
    return [dataclasses.asdict(_document(c)) for c in chunks]


def read_goalposts(config: BuildConfig) -> list:
    if config.goalposts is None:
        return []
    from pipeline.goalposts import read_goalposts as read

    return read(config.goalposts.path)


def embed_function(ctx: Any) -> Callable[[list[str]], Any]:
    """The embedder of the index, for question dedup (same model, already loaded), remembering
    vectors by text: each shard's dedup compares against every earlier shard's kept questions,
    and those should be embedded once per run, not once per later shard."""
    return RememberedEmbeddings(ctx.index.embedder.encode)


class RememberedEmbeddings:
    """`encode` with a memory: texts seen before are not embedded again. Called from one thread."""

    def __init__(self, encode: Callable[[list[str]], Any]) -> None:
        self.encode = encode
        self.vectors: dict[str, Any] = {}

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        missing = list(dict.fromkeys(t for t in texts if t not in self.vectors))
        if missing:
            self.vectors.update(zip(missing, np.asarray(self.encode(missing)), strict=True))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])


def grounding(ctx: Any, targets: list) -> dict[str, list[Document]]:
    """Documents retrieved for each target goalpost, for the teacher writing its ladder."""
    k = ctx.config.goalposts.grounding_k
    if not targets or k == 0:
        return {getattr(t, "goalpost_id", str(i)): [] for i, t in enumerate(targets)}
    hits = ctx.index.search([t.question for t in targets], k)
    found: dict[str, list[Document]] = {}
    for target, row in zip(targets, hits, strict=True):
        found[target.goalpost_id] = [_document(hit) for hit in row]
    return found


def _document(hit: Any) -> Document:
    """A chunk (or search hit) as the passage questions are grounded in.

    The chunk id is the document id downstream: several chunks of one corpus document may be
    sampled, and `sample_documents(exclude=...)` skips chunk ids as well as document ids.
    """
    chunk = getattr(hit, "chunk", hit)
    return Document(doc_id=chunk.chunk_id, text=chunk.text,
                    source=f"{chunk.source} (document {chunk.doc_id}, chars {chunk.start}-{chunk.end})")


def merged_grounding(targets: list, grounding: dict[str, list[Document]]) -> list[Document]:
    """The documents GASP rows cite: the ladder merges a goalpost's passages into one document."""
    from pipeline.ladder import grounding_documents  # the one place that knows the merge

    return [doc for target in targets for doc in grounding_documents(target, grounding)]
