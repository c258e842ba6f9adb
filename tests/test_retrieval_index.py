"""Persisted index: build, search, incremental update, no-op, model mismatch, atomic writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from retrieval import faiss_index
from retrieval.corpus import CorpusError
from retrieval.embedder import HashEmbedder
from retrieval.index import Index, IndexMismatch, IndexSettings

TOPICS = [
    "Photosynthesis in plants turns sunlight, water and carbon dioxide into glucose and oxygen.",
    "The French Revolution began in 1789 with the storming of the Bastille in Paris.",
    "A prime number has exactly two divisors: one and itself, like 2, 3, 5 and 7.",
    "Volcanoes erupt when magma from the mantle rises through cracks in the crust.",
]


class CountingEmbedder(HashEmbedder):
    """HashEmbedder that remembers how many texts it embedded, to prove nothing old is re-embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def encode(self, texts, batch_size=64, show_progress=False):
        self.embedded += len(texts)
        return super().encode(texts, batch_size, show_progress)


def _corpus(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _settings(**overrides):
    return IndexSettings(id_field="id", model="hash-384", chunk_tokens=32, chunk_overlap=4, **overrides)


def test_build_search_and_reload(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(TOPICS)])
    built = Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    loaded = Index.load(tmp_path / "idx", HashEmbedder())
    hits = loaded.search(["Bastille storming Paris revolution 1789", "prime number divisors"], k=2)
    assert [h[0].chunk.doc_id for h in hits] == ["t1", "t2"]
    assert hits[0][0].score > hits[0][1].score
    assert [c.chunk_id for c in loaded.chunks] == [c.chunk_id for c in built.chunks]
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["model"] == "hash-384" and manifest["dim"] == 384
    assert manifest["chunking"]["chunk_tokens"] == 32 and manifest["index"]["type"] == "flat"
    assert manifest["counts"] == {"documents": 4, "chunks": len(built.chunks)}
    assert manifest["corpus_hash"] and manifest["build_time_s"] >= 0


def test_adding_documents_embeds_only_the_new_ones(tmp_path):
    first = _corpus(tmp_path / "a.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(TOPICS[:2])])
    second = _corpus(
        tmp_path / "b.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(TOPICS) if i >= 2]
    )
    embedder = CountingEmbedder()
    Index.build_or_update([first], tmp_path / "idx", _settings(), embedder=embedder)
    after_first = embedder.embedded
    grown = Index.build_or_update([first, second], tmp_path / "idx", _settings(), embedder=embedder)
    assert embedder.embedded - after_first == 2  # two new one-chunk documents, old ones untouched
    assert grown.last_update.added_documents == 2 and len(grown.chunks) == 4
    assert {c.doc_id for c in Index.load(tmp_path / "idx", embedder).chunks} == {"t0", "t1", "t2", "t3"}


def test_unchanged_corpus_is_a_no_op(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(TOPICS)])
    embedder = CountingEmbedder()
    Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=embedder)
    before = (tmp_path / "idx" / "manifest.json").read_text()
    embedded = embedder.embedded
    again = Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=embedder)
    assert embedder.embedded == embedded
    assert (tmp_path / "idx" / "manifest.json").read_text() == before
    assert again.last_update.added_documents == 0


def test_changed_document_replaces_its_old_chunks(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": "t0", "text": TOPICS[0]}, {"id": "t1", "text": TOPICS[1]}])
    Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    _corpus(corpus, [{"id": "t0", "text": TOPICS[3]}, {"id": "t1", "text": TOPICS[1]}])
    updated = Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    assert updated.last_update.replaced_documents == 1
    assert sorted(c.text for c in updated.chunks) == sorted([TOPICS[3], TOPICS[1]])
    assert updated.vectors.shape == (2, 384) and updated.faiss.ntotal == 2


def test_index_built_with_another_model_is_refused(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": "t0", "text": TOPICS[0]}])
    Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    with pytest.raises(IndexMismatch, match="built with model hash-384 .* query side uses hash-256"):
        Index.load(tmp_path / "idx", HashEmbedder(dim=256))


def test_changing_chunk_settings_of_an_existing_index_is_refused(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": "t0", "text": TOPICS[0]}])
    Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    other = IndexSettings(id_field="id", model="hash-384", chunk_tokens=64, chunk_overlap=4)
    with pytest.raises(IndexMismatch, match="chunk_tokens=32"):
        Index.build_or_update([corpus], tmp_path / "idx", other, embedder=HashEmbedder())


def test_skips_are_counted_in_the_manifest(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(
        b'{"id": "a", "text": "fine text"}\n{"id": "b", "text": "  "}\n{"id": "c", "text": "\xff"}\n'
    )
    Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["skips"] == {"empty_text": 1, "not_utf8": 1}
    assert [e["source"] for e in manifest["skip_examples"]] == [f"{corpus}:2", f"{corpus}:3"]


def test_failed_update_leaves_the_old_index_intact(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": "t0", "text": TOPICS[0]}])
    Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    before = (tmp_path / "idx" / "manifest.json").read_text()
    _corpus(corpus, [{"id": "t0", "text": TOPICS[0]}, {"id": "t1", "wrong": "field"}])
    with pytest.raises(CorpusError, match=r"c\.jsonl:2"):
        Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    assert (tmp_path / "idx" / "manifest.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".idx")] == []


def test_corpus_with_nothing_indexable_is_an_error(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": "a", "text": " "}])
    with pytest.raises(CorpusError, match="no documents to index.*1 empty_text"):
        Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=HashEmbedder())
    assert not (tmp_path / "idx").exists()


def test_large_sets_get_ivf_and_it_recalls_the_exact_neighbours():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, 32))
    vectors = (centers[rng.integers(0, 50, 6000)] + 0.3 * rng.normal(size=(6000, 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    spec = faiss_index.choose_spec(len(vectors), exact_max_vectors=1000)
    assert spec["type"] == "ivf_flat" and spec["nlist"] > 1 and spec["nprobe"] >= 1
    approximate = faiss_index.build(vectors, spec)
    exact = faiss_index.build(vectors, faiss_index.choose_spec(len(vectors)))
    _, found = approximate.search(vectors[:200], 10)
    _, truth = exact.search(vectors[:200], 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall >= 0.95


def test_real_model_index_finds_the_right_passage(tmp_path, minilm):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": f"t{i}", "text": t} for i, t in enumerate(TOPICS)])
    settings = IndexSettings(id_field="id", chunk_tokens=64, chunk_overlap=8)
    Index.build_or_update([corpus], tmp_path / "idx", settings, embedder=minilm)
    loaded = Index.load(tmp_path / "idx", minilm)
    hits = loaded.search(
        ["How do plants make sugar from light?", "Why does lava come out of mountains?"], k=3
    )
    assert [h[0].chunk.doc_id for h in hits] == ["t0", "t3"]
    assert loaded.manifest["model"] == "all-MiniLM-L6-v2"


class LettersOnlyEmbedder(HashEmbedder):
    """A tokenizer that reads only letters, as a real subword tokenizer drops text it has no pieces for."""

    def token_spans(self, text):
        import re

        return [m.span() for m in re.finditer(r"[A-Za-z]+", text)]


def test_document_with_no_tokens_is_a_counted_skip_not_an_indexed_document(tmp_path):
    corpus = _corpus(tmp_path / "c.jsonl", [{"id": "a", "text": TOPICS[0]}, {"id": "b", "text": "1789 · 2 3 5"}])
    built = Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=LettersOnlyEmbedder())
    assert {c.doc_id for c in built.chunks} == {"a"}
    assert built.manifest["skips"] == {"no_tokens": 1}
    again = Index.build_or_update([corpus], tmp_path / "idx", _settings(), embedder=LettersOnlyEmbedder())
    assert again.manifest["skips"] == {"no_tokens": 1}  # not remembered as indexed: still counted
