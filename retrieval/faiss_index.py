"""FAISS index over unit vectors (inner product = cosine): exact for small sets, IVF for large ones.

The kind and its parameters are chosen from the number of vectors and recorded as a plain dict
(`IndexSpec`) in the index manifest, so a reader knows how results were produced. IVF, not HNSW:
it builds fast, adds incrementally, and its range search holds up on large query batches (faiss-cpu
1.15's HNSW range search aborted the process there).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

EXACT_MAX_VECTORS = 100_000  # above this, an exact scan per query costs more than IVF's small recall loss
IVF_TRAIN_POINTS_PER_LIST = 64

IndexSpec = dict[str, Any]


def choose_spec(n_vectors: int, exact_max_vectors: int = EXACT_MAX_VECTORS) -> IndexSpec:
    """Exact `flat` inner product up to `exact_max_vectors`, IVF-Flat with about sqrt(n) lists above."""
    if n_vectors <= exact_max_vectors:
        return {"type": "flat", "metric": "inner_product"}
    nlist = int(2 ** round(math.log2(math.sqrt(n_vectors))))
    return {"type": "ivf_flat", "metric": "inner_product", "nlist": nlist, "nprobe": max(16, nlist // 16)}


def build(vectors: np.ndarray, spec: IndexSpec, seed: int = 0):
    """A FAISS index of `spec` holding `vectors` (row i gets id i)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = vectors.shape[1]
    if spec["type"] == "flat":
        index = faiss.IndexFlatIP(dim)
    elif spec["type"] == "ivf_flat":
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, spec["nlist"], faiss.METRIC_INNER_PRODUCT)
        train = _training_sample(vectors, spec["nlist"] * IVF_TRAIN_POINTS_PER_LIST, seed)
        index.cp.seed = seed
        index.train(train)
        index.nprobe = spec["nprobe"]
    else:
        raise ValueError(f"unknown index type {spec['type']!r}")
    if len(vectors):
        index.add(vectors)
    return index


def _training_sample(vectors: np.ndarray, size: int, seed: int) -> np.ndarray:
    if len(vectors) <= size:
        return vectors
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), size, replace=False))
    return np.ascontiguousarray(vectors[rows])


def save(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load(path: Path, spec: IndexSpec):
    import faiss

    index = faiss.read_index(str(path))
    if spec["type"] == "ivf_flat":
        index.nprobe = spec["nprobe"]
    return index


def range_pairs(vectors: np.ndarray, threshold: float, batch_size: int = 8192, seed: int = 0):
    """All pairs (i, j), i != j, with inner product >= threshold, as arrays (i, j, score).

    Exact below 20k vectors, IVF above (a pair straddling two lists can be missed, rarely at high
    thresholds since near-duplicates sit close to each other and thus near the same centroid).
    """
    n = len(vectors)
    if n < 20_000:
        spec: IndexSpec = {"type": "flat", "metric": "inner_product"}
    else:
        nlist = int(2 ** round(math.log2(math.sqrt(n))))
        spec = {"type": "ivf_flat", "metric": "inner_product", "nlist": nlist, "nprobe": max(16, nlist // 16)}
    index = build(vectors, spec, seed)
    rows, cols, scores = [], [], []
    # FAISS keeps results strictly above the radius for inner product; nudge it to include equality.
    radius = float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))
    for begin in range(0, n, batch_size):
        lims, distances, labels = index.range_search(vectors[begin : begin + batch_size], radius)
        counts = np.diff(lims).astype(np.int64)
        queries = np.repeat(np.arange(begin, begin + len(counts)), counts)
        keep = labels != queries
        rows.append(queries[keep])
        cols.append(labels[keep].astype(np.int64))
        scores.append(distances[keep])
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float32), spec
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(scores), spec
