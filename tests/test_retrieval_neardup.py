"""Near-duplicate groups: exact normalised duplicates, cosine neighbours, first occurrence kept."""

from __future__ import annotations

import numpy as np

from retrieval.embedder import HashEmbedder
from retrieval.neardup import find_near_duplicates


def test_exact_duplicates_after_normalisation_without_vectors():
    texts = ["What is 2+2?", "what is 2 + 2 ?", "Name a prime.", "WHAT IS 2+2"]
    result = find_near_duplicates(texts, None, threshold=0.9)
    assert result.groups == [[0, 1, 3]] and result.keep == [0]
    assert result.duplicate_of == {1: 0, 3: 0}
    assert result.kept_indices(len(texts)) == [0, 2]


def test_near_duplicates_by_cosine_keep_the_first_occurrence():
    texts = [
        "Compute the integral of x squared from 0 to 1.",
        "Name the capital of France.",
        "Compute the integral of x squared from 0 to 2.",
        "What is the capital city of France?",
    ]
    vectors = HashEmbedder().encode(texts)
    result = find_near_duplicates(texts, vectors, threshold=0.8)
    assert result.duplicate_of == {2: 0}
    assert result.groups == [[0, 2]] and 0.8 <= result.similarity[2] < 1.0


def test_a_dropped_item_points_only_at_a_kept_item_it_is_close_to():
    # b is close to a and c; a and c are not close: greedy keeps a, drops b, keeps c (no chaining).
    a, c = np.eye(3, dtype=np.float32)[0], np.eye(3, dtype=np.float32)[1]
    b = (a + c) / np.linalg.norm(a + c)
    result = find_near_duplicates(["a", "b", "c"], np.stack([a, b, c]), threshold=0.7)
    assert result.duplicate_of == {1: 0}
    assert result.kept_indices(3) == [0, 2]


def test_planted_pairs_are_all_found_among_many_vectors():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(25_000, 64)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    planted = base[:200] + 0.05 * rng.normal(size=(200, 64)).astype(np.float32)  # cosine ~0.93
    vectors = np.concatenate([base, planted])
    texts = [f"t{i}" for i in range(len(vectors))]
    result = find_near_duplicates(texts, vectors, threshold=0.85)
    assert result.index_spec["type"] == "ivf_flat"
    assert {k: v for k, v in result.duplicate_of.items()} == {25_000 + i: i for i in range(200)}


def test_empty_input_gives_no_groups():
    result = find_near_duplicates([], np.zeros((0, 8), dtype=np.float32), threshold=0.9)
    assert result.groups == [] and result.keep == []
