"""CPU cost of labelling: extraction + normalisation + voting per teacher completion, on one core.

Compares this pipeline's voting (group by normalised string, math-verify only across distinct
groups, cached) with DARC's way on the same votes (math-verify on every pair of the n answers), and
reports the token economy of a sim build: the share of teacher tokens spent on questions kept at
the end. Run: `python bench/labels.py [--quick]`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pipeline import answers
from pipeline.answers import last_boxed
from pipeline.backends import Sampling
from pipeline.backends.sim import SimBackend
from pipeline.config import DarcConfig, SimModel
from pipeline.difficulty import measure_difficulty
from pipeline.labels import label_from_completions
from pipeline.prompts import teacher_chat
from pipeline.questions import write_questions
from pipeline.records import Document, Rejected

RESULTS = Path(__file__).parent / "results" / "labels.md"
ALL_TYPES = ["integer", "float", "categorical", "string", "boolean", "expression"]


def documents(count: int) -> list[Document]:
    return [Document(f"d{i}", f"Plant {i} produced {1200 + 37 * i} tonnes in {1950 + i % 60} with {12 + i % 40} "
                              f"furnaces; shipments reached {340 + 11 * i} wagons over {i % 9 + 3} months "
                              "through the harbour district near the granite quarry.") for i in range(count)]


def ours(questions, generations, darc) -> float:
    answers._parsed.cache_clear()
    answers._math_equal.cache_clear()
    started = time.perf_counter()
    for question, completions in zip(questions, generations, strict=True):
        try:
            label_from_completions(question, completions, darc)
        except Rejected:
            pass
    return time.perf_counter() - started


def pairwise(questions, generations) -> float:
    """DARC's way: every pair of extracted answers goes through math-verify (no grouping, no cache)."""
    from math_verify import parse, verify

    started = time.perf_counter()
    for completions in generations[: len(questions)]:
        boxed = [last_boxed(c.text) for c in completions]
        parsed = [parse(f"${b}$") if b is not None else [] for b in boxed]
        same = [[i == j or (bool(parsed[i]) and bool(parsed[j]) and verify(parsed[i], parsed[j]))
                 for j in range(len(parsed))] for i in range(len(parsed))]
        max(range(len(parsed)), key=lambda i: sum(same[i]))  # the majority answer
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run in seconds")
    args = parser.parse_args()
    darc = DarcConfig()
    docs = documents(20 if args.quick else 200)
    by_id = {d.doc_id: d for d in docs}
    sim = SimBackend(SimModel(backend="sim"))
    lines = ["# Labelling CPU cost and token economy", "", f"Command: `python bench/labels.py{' --quick' if args.quick else ''}`"
             " (one process, one core; sim teacher, n = 10 votes, malformed_rate 0.05).", "",
             "| answer types | completions | ours: completions/s | pairwise math-verify (DARC): completions/s | ratio |",
             "|---|---|---|---|---|"]
    for label, kinds in (("integer/float/categorical", darc.answer_types), ("all six", ALL_TYPES)):
        questions = write_questions(docs, DarcConfig(answer_types=kinds), sim, seed=0).kept
        chats = [teacher_chat(by_id[q.doc_id].text, q.question, q.answer_type) for q in questions]
        generations = sim.generate(chats, Sampling(n=darc.teacher_votes, seed=1))
        count = sum(len(g) for g in generations)
        fast = count / ours(questions, generations, darc)
        subset = max(5, len(questions) // (10 if args.quick else 20))  # the reference is slow: a sample
        slow = subset * darc.teacher_votes / pairwise(questions[:subset], generations[:subset])
        lines.append(f"| {label} | {count} | {fast:,.0f} | {slow:,.0f} | {fast / slow:.0f}x |")

    questions = write_questions(docs, darc, sim, seed=0)
    chats = [teacher_chat(by_id[q.doc_id].text, q.question, q.answer_type) for q in questions.kept]
    generations = sim.generate(chats, Sampling(n=darc.teacher_votes, seed=2))
    labelled, spent = [], {}
    for question, completions in zip(questions.kept, generations, strict=True):
        spent[question.question_id] = sum(c.completion_tokens for c in completions)
        try:
            labelled.append((question, label_from_completions(question, completions, darc)))
        except Rejected:
            pass
    final = measure_difficulty(labelled, sim, darc, seed=3).kept
    kept_tokens = sum(spent[q.question_id] for q, _, _ in final)
    lines += ["", "| token economy | value |", "|---|---|",
              f"| questioner outputs rejected by CPU checks before any teacher token | {len(questions.rejected)} |",
              f"| questions sent to the teacher | {len(questions.kept)} |",
              f"| questions kept at the end | {len(final)} |",
              f"| teacher completion tokens | {sum(spent.values())} |",
              f"| share of teacher tokens spent on questions kept | {kept_tokens / sum(spent.values()):.3f} |", ""]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        RESULTS.write_text(text)


if __name__ == "__main__":
    main()
