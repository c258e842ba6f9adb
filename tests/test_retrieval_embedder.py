"""Embedders: the real model offline, the hash stand-in, and the ONNX int8 backend."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from retrieval.embedder import HashEmbedder, load_embedder

PASSAGES = [
    "The mitochondria is the powerhouse of the cell, producing ATP.",
    "Cells make their energy in mitochondria, which produce ATP.",
    "The Treaty of Westphalia ended the Thirty Years' War in 1648.",
]


def test_real_model_loads_offline_and_gives_unit_vectors(minilm):
    vectors = minilm.encode(PASSAGES)
    assert (minilm.name, minilm.dim, vectors.shape, vectors.dtype) == (
        "all-MiniLM-L6-v2",
        384,
        (3, 384),
        np.float32,
    )
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > 0.7 > 0.2 > similarity[0, 2]


def test_real_model_tokenizer_offsets_cover_words(minilm):
    spans = minilm.token_spans("Hello wörld.")
    assert [("Hello wörld."[s:e]) for s, e in spans] == ["Hello", "wörld", "."]
    assert minilm.max_tokens == 254


def test_hash_embedder_is_deterministic_and_similar_texts_are_close():
    first = HashEmbedder().encode(PASSAGES)
    second = HashEmbedder().encode(PASSAGES)
    assert np.array_equal(first, second) and first.shape == (3, 384)
    similar = HashEmbedder().encode(
        ["What is the sum of 2 and 3?", "What is the sum of 2 and 4?", "Name a river."]
    )
    assert similar[0] @ similar[1] > 0.8 > similar[0] @ similar[2]


def test_hash_embedder_by_name_and_unknown_backend():
    assert load_embedder("hash-64").dim == 64
    with pytest.raises(ValueError, match="unknown embedding backend 'tpu'"):
        load_embedder(backend="tpu")


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime not installed")
def test_onnx_int8_backend_agrees_with_torch(minilm, tmp_path, monkeypatch):
    monkeypatch.setenv("CURRICULUM_CACHE", str(tmp_path))
    int8 = load_embedder(backend="onnx-int8")
    reference, quantized = minilm.encode(PASSAGES), int8.encode(PASSAGES)
    assert int8.name == minilm.name and quantized.shape == reference.shape
    assert np.min(np.sum(reference * quantized, axis=1)) > 0.9
    assert np.argmax(quantized[:1] @ quantized[1:].T) == 0  # same nearest neighbour
