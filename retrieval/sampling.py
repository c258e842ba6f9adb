"""Pick n chunks spread across a corpus's topics, deterministically by seed.

Topics are k-means clusters of the chunk vectors (k = n, capped by what is available), and each
cluster gives a share of the sample proportional to its size, at least one, so a small topic is
not drowned by a large one but a large one still gets more. Within a cluster the pick is a seeded
random sample. Excluded ids (chunk ids, or document ids to exclude whole documents, e.g. those
used by earlier dataset versions) are removed before clustering.
"""

from __future__ import annotations

import logging

import numpy as np

from retrieval.chunking import Chunk

logger = logging.getLogger(__name__)

MAX_KMEANS_TRAIN = 50_000  # k-means trains on a sample this large, then assigns every chunk
KMEANS_ITERATIONS = 20


def _clusters(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Cluster label per vector (k-means, inner product on unit vectors)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if k <= 1:
        return np.zeros(len(vectors), dtype=np.int64)
    rng = np.random.default_rng(seed)
    train = vectors
    if len(vectors) > MAX_KMEANS_TRAIN:
        train = vectors[np.sort(rng.choice(len(vectors), MAX_KMEANS_TRAIN, replace=False))]
    kmeans = faiss.Kmeans(
        vectors.shape[1],
        k,
        niter=KMEANS_ITERATIONS,
        seed=seed,
        spherical=True,
        min_points_per_centroid=1,
        max_points_per_centroid=max(256, len(train) // k + 1),
    )
    kmeans.train(train)
    _, labels = kmeans.index.search(vectors, 1)
    return labels[:, 0].astype(np.int64)


def _allocate(sizes: np.ndarray, n: int) -> np.ndarray:
    """Per-cluster counts summing to n: one each, the rest proportional to size (largest remainder)."""
    counts = np.minimum(sizes, 1)
    left = n - counts.sum()
    if left > 0:
        room = sizes - counts
        share = room / room.sum() * left
        extra = np.minimum(np.floor(share).astype(np.int64), room)
        remainder = share - extra
        for cluster in np.argsort(-remainder, kind="stable"):
            if extra.sum() >= left:
                break
            if extra[cluster] < room[cluster]:
                extra[cluster] += 1
        counts = counts + extra
    return counts


def sample_documents(
    index, n: int, seed: int, exclude: set[str] | frozenset[str] = frozenset()
) -> list[Chunk]:
    """n chunks of `index` spread across topics; excluded chunk or document ids never appear."""
    candidates = [
        i for i, c in enumerate(index.chunks) if c.chunk_id not in exclude and c.doc_id not in exclude
    ]
    if n <= 0 or not candidates:
        return []
    if n >= len(candidates):
        logger.warning(
            "asked for %d documents, only %d available after exclusions: using all", n, len(candidates)
        )
        return [index.chunks[i] for i in candidates]
    rows = np.asarray(candidates)
    labels = _clusters(np.asarray(index.vectors)[rows], min(n, len(rows)), seed)
    k = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k)
    counts = _allocate(sizes, n)
    rng = np.random.default_rng(seed)
    picked: list[list[int]] = []
    for cluster in range(k):
        members = rows[labels == cluster]
        if counts[cluster]:
            picked.append(sorted(rng.choice(members, int(counts[cluster]), replace=False).tolist()))
    # Interleave clusters so any prefix of the sample is spread too.
    order = [members[i] for i in range(max(map(len, picked))) for members in picked if i < len(members)]
    return [index.chunks[i] for i in order]
