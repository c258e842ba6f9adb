"""The student step: question only, n samples -> solve rate, the measured difficulty.

The solve rate is the share of the n samples whose final answer is equivalent to the label
(truncated or unboxed samples count as wrong). It is recorded beside the target level; an optional
learnability band keeps only questions the student sometimes, but not always, solves.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.answers import equivalent, extract_answer
from pipeline.backends import Backend, Completion, Sampling, usage
from pipeline.config import DarcConfig, SamplingConfig
from pipeline.labels import joined_texts
from pipeline.prompts import student_chat
from pipeline.records import Difficulty, Label, Question, Rejection, StepOutput

STEP = "difficulty"
OUTSIDE_LEARNABILITY_BAND = "outside_learnability_band"


def count_correct(completions: Sequence[Completion | str], label_answer: str, answer_type: str) -> int:
    """Samples whose boxed answer is equivalent to the label (each distinct spelling checked once)."""
    verdicts: dict[str | None, bool] = {}
    correct = 0
    for completion in completions:
        if isinstance(completion, Completion):
            if completion.finish_reason != "stop":
                continue
            completion = completion.text
        answer = extract_answer(completion, answer_type)
        if answer not in verdicts:
            verdicts[answer] = equivalent(answer, label_answer, answer_type)
        correct += verdicts[answer]
    return correct


def solve_rate(completions: Sequence[Completion | str], label_answer: str, answer_type: str) -> float:
    """Share of samples equivalent to the label; 0.0 for no samples."""
    return count_correct(completions, label_answer, answer_type) / len(completions) if completions else 0.0


def measure_difficulty(labelled: list[tuple[Question, Label]], student: Backend, darc: DarcConfig,
                       seed: int, sampling: SamplingConfig | None = None,
                       ) -> StepOutput[tuple[Question, Label, Difficulty]]:
    """Draw `darc.student_samples` student samples per labelled question; record the solve rate."""
    settings = sampling or SamplingConfig()
    chats = [student_chat(q.question, q.answer_type) for q, _ in labelled]
    call = Sampling.of(settings, darc.student_samples, seed)
    generations = student.generate(chats, call) if chats else []
    out: StepOutput[tuple[Question, Label, Difficulty]] = StepOutput(kept=[], usage=usage(generations))
    band = darc.learnability_band
    for (question, label), completions in zip(labelled, generations, strict=True):
        correct = count_correct(completions, label.answer, question.answer_type)
        difficulty = Difficulty(question.question_id, correct / len(completions), correct, len(completions))
        if band is not None and not band[0] <= difficulty.solve_rate <= band[1]:
            out.rejected.append(Rejection(
                STEP, OUTSIDE_LEARNABILITY_BAND, question.question_id,
                f"solve rate {difficulty.solve_rate:.2f} outside [{band[0]}, {band[1]}]",
                joined_texts(completions), doc_id=question.doc_id, goalpost_id=question.goalpost_id))
            continue
        out.kept.append((question, label, difficulty))
    return out
