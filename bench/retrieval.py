"""Retrieval benchmarks: embedding throughput per backend, exact vs IVF index, near-duplicate search.

    python bench/retrieval.py            # full: 100k and 1M vectors, 10k queries, 100k near-dup
    python bench/retrieval.py --quick    # a small version in well under a minute

Every figure is measured against a reference path in the same run (torch backend, exact index,
pairwise loop) and written to bench/results/retrieval.md (or --out).
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# This file is named like the package it measures: keep bench/ off the import path, the repo root on it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE.parent)]

from retrieval import faiss_index  # noqa: E402
from retrieval.neardup import find_near_duplicates  # noqa: E402


def real_passages(n: int, min_words: int = 40, max_words: int = 160) -> list[str]:
    """Real English prose, offline: docstrings of the standard library, one passage per docstring."""
    import importlib
    import pkgutil

    passages: list[str] = []
    seen: set[str] = set()
    for info in sorted(pkgutil.iter_modules(), key=lambda m: m.name):
        if not re.fullmatch(r"[a-z]+", info.name) or info.name in (
            "antigravity",
            "this",
            "idlelib",
            "tkinter",
        ):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: BLE001  (any module that cannot import here is simply not a source)
            continue
        for _, member in inspect.getmembers(module):
            doc = inspect.getdoc(member) or ""
            words = doc.split()
            if len(words) >= min_words and doc not in seen:
                seen.add(doc)
                passages.append(" ".join(words[:max_words]))
        if len(passages) >= n:
            break
    return passages[:n]


def top10(corpus: np.ndarray, queries: np.ndarray) -> np.ndarray:
    return np.argsort(-(queries @ corpus.T), axis=1)[:, :10]


def bench_embedding(n_passages: int, n_queries: int) -> list[dict]:
    from retrieval.embedder import load_embedder

    passages = real_passages(n_passages + n_queries)
    corpus, queries = passages[:n_passages], [" ".join(p.split()[:12]) for p in passages[n_passages:]]
    rows, reference = [], None
    for backend in ("torch", "onnx", "onnx-int8"):
        try:
            embedder = load_embedder(backend=backend)
        except Exception as error:  # noqa: BLE001  (a missing optional backend is a result, not a crash)
            rows.append({"backend": backend, "note": f"unavailable: {error}"})
            continue
        embedder.encode(corpus[:16])  # warm-up
        started = time.perf_counter()
        vectors = embedder.encode(corpus, batch_size=32)
        elapsed = time.perf_counter() - started
        query_vectors = embedder.encode(queries)
        ranks = top10(vectors, query_vectors)
        row = {"backend": backend, "passages_per_s": len(corpus) / elapsed}
        if reference is None:
            reference = (vectors, query_vectors, ranks, row["passages_per_s"])
        else:
            ref_vectors, ref_queries, ref_ranks, ref_speed = reference
            row["speedup"] = row["passages_per_s"] / ref_speed
            row["top10_overlap"] = np.mean(
                [len(set(a) & set(b)) / 10 for a, b in zip(ranks, ref_ranks, strict=True)]
            )
            mixed = top10(ref_vectors, query_vectors)  # queries from this backend against a torch-built index
            row["top10_overlap_mixed"] = np.mean(
                [len(set(a) & set(b)) / 10 for a, b in zip(mixed, ref_ranks, strict=True)]
            )
            row["min_cosine_to_torch"] = float(np.min(np.sum(vectors * ref_vectors, axis=1)))
        rows.append(row)
    for row in rows:
        row["passages"], row["queries"] = len(corpus), len(queries)
    return rows


def clustered_vectors(n: int, dim: int, seed: int, n_centers: int = 2000) -> np.ndarray:
    """Unit vectors around random topic centres (text embeddings cluster by topic; uniform noise does not)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_centers, dim), dtype=np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    out = np.empty((n, dim), dtype=np.float32)
    for begin in range(0, n, 100_000):
        size = min(100_000, n - begin)
        block = centers[rng.integers(0, n_centers, size)] + 0.05 * rng.standard_normal(
            (size, dim), dtype=np.float32
        )
        out[begin : begin + size] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def bench_index(n: int, n_queries: int, dim: int = 384) -> dict:
    data = clustered_vectors(n + n_queries, dim, seed=n)
    vectors, queries = data[:n], data[n:]
    started = time.perf_counter()
    exact = faiss_index.build(vectors, {"type": "flat", "metric": "inner_product"})
    exact_build = time.perf_counter() - started
    started = time.perf_counter()
    _, truth = exact.search(queries, 10)
    exact_search = time.perf_counter() - started
    del exact
    spec = faiss_index.choose_spec(n, exact_max_vectors=0)
    started = time.perf_counter()
    approx = faiss_index.build(vectors, spec)
    approx_build = time.perf_counter() - started
    started = time.perf_counter()
    _, found = approx.search(queries, 10)
    approx_search = time.perf_counter() - started
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    return {
        "n": n,
        "queries": n_queries,
        "exact_build_s": exact_build,
        "exact_search_s": exact_search,
        "approx": f"ivf_flat nlist={spec['nlist']} nprobe={spec['nprobe']}",
        "approx_build_s": approx_build,
        "approx_search_s": approx_search,
        "recall_at_10": recall,
        "search_speedup": exact_search / approx_search,
        "chosen_by_default": faiss_index.choose_spec(n)["type"],
    }


def pairwise_loop_s(vectors: np.ndarray, threshold: float) -> float:
    """The naive reference: a Python loop over every pair."""
    started = time.perf_counter()
    found = 0
    rows = [v for v in vectors]
    for i in range(len(rows)):
        a = rows[i]
        for j in range(i + 1, len(rows)):
            if float(a @ rows[j]) >= threshold:
                found += 1
    return time.perf_counter() - started


def bench_neardup(n: int, sample: int, threshold: float = 0.9, planted: int = 2000) -> dict:
    rng = np.random.default_rng(7)
    base = clustered_vectors(n - planted, 384, seed=99, n_centers=5000)
    copies = base[:planted] + 0.012 * rng.standard_normal((planted, 384), dtype=np.float32)
    copies /= np.linalg.norm(copies, axis=1, keepdims=True)
    vectors = np.concatenate([base, copies])
    planted_cos = np.sum(base[:planted] * copies, axis=1)
    texts = [f"question {i}" for i in range(n)]
    started = time.perf_counter()
    result = find_near_duplicates(texts, vectors, threshold)
    elapsed = time.perf_counter() - started
    expected = {n - planted + i: i for i in range(planted)}
    found = sum(result.duplicate_of.get(k) == v or k in result.duplicate_of for k, v in expected.items())
    loop_s = pairwise_loop_s(vectors[:sample], threshold)
    extrapolated = loop_s * (n / sample) ** 2
    return {
        "n": n,
        "threshold": threshold,
        "seconds": elapsed,
        "index": str(result.index_spec),
        "groups": len(result.groups),
        "dropped": len(result.duplicate_of),
        "planted_found": f"{found}/{planted}",
        "planted_min_cos": float(planted_cos.min()),
        "loop_sample": sample,
        "loop_sample_s": loop_s,
        "loop_extrapolated_s": extrapolated,
        "speedup": extrapolated / elapsed,
    }


def render(embedding, indexes, neardup, command: str) -> str:
    lines = [
        "# Retrieval benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs "
        "while measured; absolute figures are noisy, ratios within a run are the point).",
        "",
        "## Embedding throughput (all-MiniLM-L6-v2, CPU, real text: stdlib docstrings of 40-160 words)",
        "",
        "| backend | passages/s | speed-up vs torch | top-10 overlap vs torch | same, torch-built index | min cosine to torch |",
        "|---|---|---|---|---|---|",
    ]
    for row in embedding:
        if "note" in row:
            lines.append(f"| {row['backend']} | {row['note']} | | | | |")
            continue
        lines.append(
            f"| {row['backend']} | {row['passages_per_s']:.1f} | {row.get('speedup', 1.0):.2f}x | "
            f"{row.get('top10_overlap', 1.0):.3f} | {row.get('top10_overlap_mixed', 1.0):.3f} | "
            f"{row.get('min_cosine_to_torch', 1.0):.4f} |"
        )
    if embedding and "passages" in embedding[0]:
        lines += [
            "",
            f"{embedding[0]['passages']} passages, {embedding[0]['queries']} queries (first 12 words of other docstrings).",
        ]
    lines += [
        "",
        "## Index build and top-10 search (synthetic clustered 384-d unit vectors)",
        "",
        "| vectors | queries | exact build s | exact search s | approximate | build s | search s | search speed-up | recall@10 | default choice |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in indexes:
        lines.append(
            f"| {row['n']:,} | {row['queries']:,} | {row['exact_build_s']:.2f} | {row['exact_search_s']:.2f} | "
            f"{row['approx']} | {row['approx_build_s']:.2f} | {row['approx_search_s']:.2f} | "
            f"{row['search_speedup']:.1f}x | {row['recall_at_10']:.3f} | {row['chosen_by_default']} |"
        )
    row = neardup
    lines += [
        "",
        "## Near-duplicate detection",
        "",
        "| vectors | cosine >= | seconds | index | dropped | planted pairs found (min cosine) | pairwise loop on sample | loop extrapolated | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {row['n']:,} | {row['threshold']} | {row['seconds']:.1f} | {row['index']} | {row['dropped']} | "
        f"{row['planted_found']} ({row['planted_min_cos']:.3f}) | {row['loop_sample']:,}: {row['loop_sample_s']:.1f} s | "
        f"{row['loop_extrapolated_s']:.0f} s | {row['speedup']:.0f}x |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, seconds not minutes")
    parser.add_argument("--skip-1m", action="store_true", help="leave out the 1M-vector index run")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "retrieval.md")
    args = parser.parse_args()
    if args.quick:
        embedding = bench_embedding(48, 16)
        indexes = [bench_index(20_000, 1_000)]
        neardup = bench_neardup(20_000, 1_000, planted=200)
    else:
        embedding = bench_embedding(200, 60)
        sizes = [100_000] + ([] if args.skip_1m else [1_000_000])
        indexes = [bench_index(n, 10_000) for n in sizes]
        neardup = bench_neardup(100_000, 5_000)
    command = (
        "python bench/retrieval.py"
        + (" --quick" if args.quick else "")
        + (" --skip-1m" if args.skip_1m else "")
    )
    report = render(embedding, indexes, neardup, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
