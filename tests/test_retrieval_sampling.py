"""Topic-spread sampling: covers clusters, deterministic by seed, honours exclusions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.chunking import Chunk
from retrieval.sampling import sample_documents


@dataclass
class FakeIndex:
    """Just the two attributes sampling reads; a real Index has the same ones."""

    chunks: list[Chunk]
    vectors: np.ndarray


def _clustered_index(sizes=(200, 60, 20, 10), dim=16):
    rng = np.random.default_rng(0)
    centers = np.eye(dim, dtype=np.float32)[: len(sizes)] * 5
    rows, chunks = [], []
    for topic, size in enumerate(sizes):
        for j in range(size):
            rows.append(centers[topic] + rng.normal(size=dim))
            chunks.append(Chunk(f"c{topic}-{j}", f"d{topic}-{j}", f"topic {topic}", "s", 0, 7))
    vectors = np.asarray(rows, dtype=np.float32)
    return FakeIndex(chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def test_sample_covers_every_topic_even_small_ones():
    index = _clustered_index()
    picked = sample_documents(index, 8, seed=3)
    assert len(picked) == 8 and len({c.chunk_id for c in picked}) == 8
    assert {c.text for c in picked} == {"topic 0", "topic 1", "topic 2", "topic 3"}


def test_same_seed_same_sample_other_seed_other_sample():
    index = _clustered_index()
    first = [c.chunk_id for c in sample_documents(index, 12, seed=7)]
    assert first == [c.chunk_id for c in sample_documents(index, 12, seed=7)]
    assert first != [c.chunk_id for c in sample_documents(index, 12, seed=8)]


def test_excluded_chunk_and_document_ids_never_appear():
    index = _clustered_index()
    excluded = {c.chunk_id for c in index.chunks[:150]} | {"d1-0"}
    picked = sample_documents(index, 20, seed=1, exclude=excluded)
    assert not {c.chunk_id for c in picked} & excluded and "d1-0" not in {c.doc_id for c in picked}


def test_asking_for_more_than_available_returns_everything_left():
    index = _clustered_index(sizes=(3, 2))
    picked = sample_documents(index, 10, seed=0, exclude={"c0-0"})
    assert sorted(c.chunk_id for c in picked) == ["c0-1", "c0-2", "c1-0", "c1-1"]
