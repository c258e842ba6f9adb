"""Benchmark: publish a large version, then read it back with polars and with `datasets`.

    python bench/publish.py            # 1,000,000 rows (must publish in < 30 s)
    python bench/publish.py --quick    # 20,000 rows, seconds

Reference paths in the same run: the raw rows written as one plain Parquet file (no views, hashes,
card or report), and `pipeline.records.to_table` (column by column) against row dicts from `CurriculumItem.to_row`
(the old row-at-a-time path).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def make_items(n: int):
    from pipeline.records import CurriculumItem, Difficulty, Document, Label, Question, Rejection

    per_doc = 9
    documents = [Document(doc_id=f"d{d:07d}", text=f"Document {d}. " + "Some grounding prose about apples. " * 18)
                 for d in range((n + per_doc - 1) // per_doc)]
    types = ("integer", "float", "categorical")
    items = []
    for i in range(n):
        qid = f"q{i:015d}"
        level = i * 3 // n + 1  # curriculum order: easy to hard
        answer = str(i % 97)
        items.append(CurriculumItem(
            position=i, batch=i // 64,
            question=Question(question_id=qid, method="darc", answer_type=types[i % 3], doc_id=documents[i // per_doc].doc_id,
                              level=level, question=f"Question {i}: how many apples are in basket {i % 97} of the story?",
                              reference_answer=answer, required_concepts=["counting", "reading"]),
            label=Label(question_id=qid, answer=answer, support=7, valid=10, n=10, majority_fraction=0.7,
                        vote_entropy=0.6, agrees_with_questioner=i % 5 != 0,
                        reasoning=f"Step 1: find basket {i % 97}. Step 2: count apples. " * 4 + f"\\boxed{{{answer}}}"),
            difficulty=Difficulty(question_id=qid, solve_rate=(0.8, 0.5, 0.2)[level - 1], correct=5, n=10)))
    rejects = [Rejection(step="labels", reason="no_majority", record_id=f"r{i}", raw_text="\\boxed{1} \\boxed{2}")
               for i in range(n // 10)]
    return items, rejects, documents


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20,000 rows instead of 1,000,000")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    n = args.rows or (20_000 if args.quick else 1_000_000)

    import datasets
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.records import CURRICULUM_SCHEMA, to_table
    from pipeline.store import publish_version

    build_s, (items, rejects, documents) = timed(lambda: make_items(n))
    info = {"config": {"dataset": "bench", "license": "cc-by-4.0", "seed": 0}, "config_hash": "bench"}
    root = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    try:
        publish_s, ref = timed(lambda: publish_version(str(root), "bench", items, rejects, info, documents=documents))
        sample = items[: min(n, 100_000)]
        rows_s, _ = timed(lambda: pa.Table.from_pylist([item.to_row() for item in sample], schema=CURRICULUM_SCHEMA))
        columns_s, table = timed(lambda: to_table(sample))
        plain_s, _ = timed(lambda: pq.write_table(to_table(items), root / "plain.parquet", compression="zstd"))
        data = sorted(str(p) for p in (Path(ref.path) / "data").glob("curriculum-*.parquet"))
        polars_s, frame = timed(lambda: pl.read_parquet(data))
        cache = root / "hf-cache"
        hf_raw_s, raw = timed(lambda: datasets.load_dataset("parquet", data_files=data, split="train", cache_dir=str(cache)))
        hf_rl_s, rl = timed(lambda: datasets.load_dataset(ref.path, "rl", split="train", cache_dir=str(cache)))
        assert frame.height == raw.num_rows == rl.num_rows == n
        size_mb = sum(p.stat().st_size for p in Path(ref.path).rglob("*") if p.is_file()) / 2**20
    finally:
        shutil.rmtree(root, ignore_errors=True)

    rows = [
        ("build items in memory (not part of publish)", build_s, "-"),
        (f"publish_version ({n:,} rows: data, rejects, documents, rl+sft views, hashes, card, report)", publish_s, "1.00"),
        ("reference: raw rows as one plain zstd Parquet file", plain_s, f"{plain_s / publish_s:.2f}"),
        (f"reference: row dicts (CurriculumItem.to_row + Table.from_pylist), {len(sample):,} rows", rows_s,
         f"{rows_s / columns_s:.1f}x records.to_table"),
        (f"records.to_table (column by column), {len(sample):,} rows", columns_s, "1.0x"),
        ("read back: polars.read_parquet(data/*.parquet)", polars_s, f"{polars_s / publish_s:.2f}"),
        ('read back: datasets.load_dataset("parquet", data_files=...) (cold cache)', hf_raw_s, f"{hf_raw_s / publish_s:.2f}"),
        ('read back: datasets.load_dataset(<version dir>, "rl") (cold cache)', hf_rl_s, f"{hf_rl_s / publish_s:.2f}"),
    ]
    lines = [f"# bench/publish.py ({'quick' if n < 1_000_000 else 'full'})", "",
             f"`python bench/publish.py{' --quick' if args.quick else ''}` on {platform.machine()}, "
             f"{os.cpu_count()} CPUs (shared), {n:,} rows, version on disk {size_mb:.0f} MiB.", "",
             "| step | seconds | ratio to publish |", "|---|---|---|"]
    lines += [f"| {name} | {seconds:.2f} | {ratio} |" for name, seconds, ratio in rows]
    lines += ["", f"Publishing {n:,} rows: {publish_s:.1f} s ({'under' if publish_s < 30 else 'OVER'} the 30 s budget)."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(__file__).parent / "results" / ("publish.md" if not args.quick else "publish_quick.md")
    out.write_text(text)


if __name__ == "__main__":
    main()
