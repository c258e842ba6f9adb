"""DARC label quality on the sim backend, where every question's true answer is known.

Reports: precision (kept labels that are correct) and yield (questions kept) against the number of
teacher votes n and the majority threshold, with teacher accuracy 0.6 at every level; precision per
answer type; measured student solve rate per level; and the rejection reasons of planted faults
(malformed questioner output, near-duplicates). Run: `python bench/quality.py [--quick]`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from pipeline.answers import equivalent
from pipeline.backends import Sampling
from pipeline.backends.sim import SimBackend
from pipeline.backends.sim.darc import true_answer
from pipeline.config import DarcConfig, SimModel
from pipeline.dedup import dedup_questions
from pipeline.difficulty import measure_difficulty
from pipeline.labels import label_from_completions, label_questions
from pipeline.prompts import teacher_chat
from pipeline.questions import write_questions
from pipeline.records import Document, Question, Rejected
from retrieval.embedder import HashEmbedder

ALL_TYPES = ["integer", "float", "categorical", "string", "boolean", "expression"]
VOTES = (3, 5, 10, 16)
THRESHOLDS = (0.4, 0.5, 0.6, 0.7)
RESULTS = Path(__file__).parent / "results" / "quality.md"


def documents(count: int) -> list[Document]:
    return [Document(f"d{i}", f"Plant {i} produced {1200 + 37 * i} tonnes in {1950 + i % 60} with {12 + i % 40} "
                              f"furnaces; shipments reached {340 + 11 * i} wagons over {i % 9 + 3} months "
                              "through the harbour district near the granite quarry.") for i in range(count)]


def precision_table(questions: list[Question], docs: dict[str, Document]) -> list[tuple]:
    """Votes drawn once at the largest n; smaller n use the first samples (the same draws)."""
    teacher = SimBackend(SimModel(backend="sim", accuracy_with_document={1: 0.6, 2: 0.6, 3: 0.6},
                                  malformed_rate=0.05))
    chats = [teacher_chat(docs[q.doc_id].text, q.question, q.answer_type) for q in questions]
    generations = teacher.generate(chats, Sampling(n=max(VOTES), seed=1))
    truths = [true_answer(q.question) for q in questions]
    rows = []
    for n in VOTES:
        for threshold in THRESHOLDS:
            darc = DarcConfig(majority_threshold=threshold)
            correct = kept = 0
            for question, truth, completions in zip(questions, truths, generations, strict=True):
                try:
                    label = label_from_completions(question, completions[:n], darc)
                except Rejected:
                    continue
                kept += 1
                correct += equivalent(label.answer, truth, question.answer_type)
            rows.append((n, threshold, correct / kept if kept else float("nan"), kept / len(questions)))
    return rows


def per_type(questions: list[Question], docs: dict[str, Document]) -> dict[str, tuple[float, float, int]]:
    teacher = SimBackend(SimModel(backend="sim", accuracy_with_document={1: 0.6, 2: 0.6, 3: 0.6}))
    out = label_questions(questions, docs, teacher, DarcConfig(), seed=2)
    result = {}
    for kind in ALL_TYPES:
        asked = [q for q in questions if q.answer_type == kind]
        hits = [equivalent(lab.answer, true_answer(q.question), kind) for q, lab in out.kept if q.answer_type == kind]
        result[kind] = (statistics.fmean(hits) if hits else float("nan"), len(hits) / max(1, len(asked)), len(asked))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run in seconds")
    args = parser.parse_args()
    started = time.perf_counter()
    docs = documents(20 if args.quick else 150)
    by_id = {d.doc_id: d for d in docs}
    clean = SimBackend(SimModel(backend="sim", malformed_rate=0.0))
    base = write_questions(docs, DarcConfig(), clean, seed=0).kept
    table = precision_table(base, by_id)
    all_types = write_questions(docs, DarcConfig(answer_types=ALL_TYPES), clean, seed=0).kept
    types = per_type(all_types, by_id)

    sim = SimBackend(SimModel(backend="sim"))
    labelled = label_questions(base, by_id, sim, DarcConfig(), seed=3).kept
    rows = measure_difficulty(labelled, sim, DarcConfig(), seed=4).kept
    levels = {lv: [d.solve_rate for q, _, d in rows if q.level == lv] for lv in (1, 2, 3)}

    faulty = write_questions(docs, DarcConfig(answer_types=ALL_TYPES),
                             SimBackend(SimModel(backend="sim", malformed_rate=0.3)), seed=5)
    planted = [Question(f"dup{i}", "darc", q.answer_type, q.question.upper(), q.reference_answer, doc_id=q.doc_id)
               for i, q in enumerate(base[:10])]
    dedup = dedup_questions(base + planted, DarcConfig(), HashEmbedder().encode)
    dup_caught = sum(r.record_id.startswith("dup") for r in dedup.rejected)

    lines = ["# DARC label quality on the sim backend", "",
             f"Command: `python bench/quality.py{' --quick' if args.quick else ''}` "
             f"({len(docs)} documents, {len(base)} questions of types integer/float/categorical, "
             f"{time.perf_counter() - started:.0f} s).", "",
             "## Precision and yield vs votes n and majority threshold (teacher accuracy 0.6 at every level)", "",
             "| n | threshold | precision (kept labels correct) | yield (questions kept) |", "|---|---|---|---|"]
    lines += [f"| {n} | {t} | {p:.3f} | {y:.3f} |" for n, t, p, y in table]
    lines += ["", "## Per answer type (n = 10, threshold 0.5, teacher accuracy 0.6)", "",
              "| answer type | precision | yield | questions |", "|---|---|---|---|"]
    lines += [f"| {k} | {p:.3f} | {y:.3f} | {c} |" for k, (p, y, c) in types.items()]
    lines += ["", "## Measured student solve rate per level (sim defaults: 0.85 / 0.5 / 0.2 without the document)",
              "", "| level | questions | mean solve rate | std |", "|---|---|---|---|"]
    lines += [f"| {lv} | {len(r)} | {statistics.fmean(r):.3f} | {statistics.pstdev(r):.3f} |"
              for lv, r in levels.items() if r]
    lines += ["", "## Planted faults (questioner malformed_rate 0.3, all answer types) and duplicates", "",
              "| reason | rejections |", "|---|---|"]
    lines += [f"| {reason} | {count} |" for reason, count in sorted(Counter(r.reason for r in faulty.rejected).items())]
    lines += [f"| duplicate (10 planted re-cased copies) | {dup_caught} caught, "
              f"{len(dedup.rejected) - dup_caught} other |", ""]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        RESULTS.write_text(text)
    ok = all(p >= 0.97 for n, t, p, _ in table if n == 10 and t == 0.5) and dup_caught == 10
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
