"""Near-duplicate groups over a list of texts: exact duplicates after normalisation, plus cosine >= threshold.

Greedy in input order, so the first occurrence is kept: an item is a duplicate when it matches an
earlier item that is itself kept; it then points at that kept item (the most similar one). Every
dropped item is directly above the threshold to its kept item, never only through a chain.
Candidate pairs come from hashing and a FAISS range search; the only Python loop runs over items
that have an earlier match, not over pairs of items.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np

from retrieval import faiss_index

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(slots=True)
class NearDuplicates:
    """Groups of indices into the input (first member kept), and what each dropped item duplicates."""

    groups: list[list[int]]  # only groups with >= 2 members; group[0] is the kept index
    keep: list[int]  # kept index of each group, in the order of `groups`
    duplicate_of: dict[int, int] = field(default_factory=dict)  # dropped index -> kept index
    similarity: dict[int, float] = field(default_factory=dict)  # dropped index -> cosine to its kept one
    index_spec: dict = field(default_factory=dict)  # how candidate pairs were searched

    def kept_indices(self, n: int) -> list[int]:
        """Indices of 0..n-1 that survive deduplication, in order."""
        return [i for i in range(n) if i not in self.duplicate_of]


def normalize_for_hash(text: str) -> str:
    """Case, accents of compatibility forms, punctuation and spacing do not make a text different."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def _exact_pairs(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    first: dict[bytes, int] = {}
    rows, cols = [], []
    for i, text in enumerate(texts):
        digest = hashlib.blake2b(normalize_for_hash(text).encode(), digest_size=16).digest()
        j = first.setdefault(digest, i)
        if j != i:
            rows.append(i)
            cols.append(j)
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


def find_near_duplicates(
    texts: list[str], vectors: np.ndarray | None, threshold: float = 0.9
) -> NearDuplicates:
    """Group `texts` (with their embedding `vectors`, or None for exact matching only)."""
    n = len(texts)
    rows, cols = _exact_pairs(texts)
    scores = np.ones(len(rows), dtype=np.float32)
    spec: dict = {"type": "exact_hash"}
    if vectors is not None and n > 1:
        if len(vectors) != n:
            raise ValueError(f"{n} texts but {len(vectors)} vectors")
        import faiss

        unit = np.array(vectors, dtype=np.float32, copy=True)
        faiss.normalize_L2(unit)
        v_rows, v_cols, v_scores, spec = faiss_index.range_pairs(unit, threshold)
        rows = np.concatenate([rows, v_rows])
        cols = np.concatenate([cols, v_cols])
        scores = np.concatenate([scores, v_scores.astype(np.float32)])
    return _greedy_groups(n, rows, cols, scores, spec)


def _greedy_groups(n, rows, cols, scores, spec) -> NearDuplicates:
    # Orient every pair later -> earlier: an approximate search may find a pair from one side only.
    rows, cols = np.maximum(rows, cols), np.minimum(rows, cols)
    # Sort by later item, then by score descending.
    order = np.lexsort((-scores, rows))
    rows, cols, scores = rows[order], cols[order], scores[order]
    kept = np.ones(n, dtype=bool)
    duplicate_of: dict[int, int] = {}
    similarity: dict[int, float] = {}
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(rows)] if len(rows) else starts
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        candidates = cols[start:end]
        alive = np.flatnonzero(kept[candidates])
        if len(alive):  # candidates are sorted by score, so the first alive one is the closest kept item
            item = int(rows[start])
            kept[item] = False
            duplicate_of[item] = int(candidates[alive[0]])
            similarity[item] = float(min(scores[start + alive[0]], 1.0))
    members: dict[int, list[int]] = {}
    for item, target in sorted(duplicate_of.items()):
        members.setdefault(target, [target]).append(item)
    keep = sorted(members)
    return NearDuplicates([members[k] for k in keep], keep, duplicate_of, similarity, spec)
