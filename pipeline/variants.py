"""GASP variants: teacher replies -> questions; labels (math: DARC teacher vote, code: execution);
student pass rates (math: DARC student step, code: hidden tests in the sandbox); the pass-rate band.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from pipeline.backends import Backend, Completion, Sampling, for_role, usage
from pipeline.config import DarcConfig, GoalpostConfig, SamplingConfig
from pipeline.difficulty import measure_difficulty
from pipeline.gasp_prompts import code_chat, extract_program, parse_variant
from pipeline.labels import label_questions
from pipeline.records import (
    Difficulty,
    Document,
    Label,
    Question,
    Rejected,
    Rejection,
    StepOutput,
    content_id,
)
from pipeline.sandbox import MODEL, Job, Limits, SandboxPool, TestCase
from pipeline.sandbox.reference import REFERENCE_RUNS, label_programs

STEP = "ladders"  # the flow step that files these rejections
OUTSIDE_BAND = "outside_band"  # the student's pass rate is outside the rung's band
DUPLICATE_VARIANT = "duplicate_variant"  # the same question was already written for this goalpost
Row = tuple[Question, Label, Difficulty]


@dataclass(slots=True)
class Request:
    """One teacher prompt of a rung: which goalpost, whose variant, along which axis."""

    goalpost_id: str
    domain: str
    answer_type: str  # math: the goalpost's; code: "code"
    parent_id: str
    depth: int
    role: str
    axis: str
    doc_id: str


def parse_replies(requests: list[Request], generations: list[list[Completion]], seen: set[tuple[str, str]],
                  ) -> tuple[list[Question], list[Rejection]]:
    """Every well-formed, new reply becomes a Question; every other one a Rejection."""
    questions, rejected = [], []
    for request, completions in zip(requests, generations, strict=True):
        for index, completion in enumerate(completions):
            record_id = content_id("gasp-reply", request.goalpost_id, request.parent_id, request.axis, index)
            try:
                data = parse_variant(completion.text, completion.finish_reason, request.domain)
                if (request.goalpost_id, data["question"]) in seen:
                    raise Rejected(DUPLICATE_VARIANT, data["question"][:80])
            except Rejected as bad:
                rejected.append(Rejection(STEP, bad.reason, record_id, f"{request.role}: {bad.detail}",
                                          completion.text, doc_id=request.doc_id, goalpost_id=request.goalpost_id))
                continue
            seen.add((request.goalpost_id, data["question"]))
            program = data.get("program", "")
            tests = json.dumps(data["test_inputs"]) if request.domain == "code" else ""
            questions.append(Question(
                question_id=content_id("gasp", request.goalpost_id, request.role, request.depth, data["question"],
                                       program, tests),
                method="gasp", answer_type=request.answer_type, question=data["question"],
                reference_answer=data.get("answer", ""), doc_id=request.doc_id, domain=request.domain,
                goalpost_id=request.goalpost_id, parent_id=request.parent_id, depth=request.depth,
                axis=request.axis, role=request.role, program=program, tests=tests, raw_text=completion.text))
    return questions, rejected


def score_math(questions: list[Question], documents: dict[str, Document], teacher: Backend, student: Backend,
               gasp_cfg: GoalpostConfig, darc_cfg: DarcConfig, seed: int,
               teacher_sampling: SamplingConfig | None = None,
               student_sampling: SamplingConfig | None = None) -> StepOutput[Row]:
    """DARC core: teacher vote with the grounding document, then the student's solve rate."""
    labelled = label_questions(questions, documents, teacher, darc_cfg, seed, teacher_sampling)
    measure_cfg = darc_cfg.model_copy(update={"student_samples": gasp_cfg.student_samples, "learnability_band": None})
    measured = measure_difficulty(labelled.kept, student, measure_cfg, seed, student_sampling)
    # Filed under the ladder step: these are GASP variants, labelled by the DARC machinery.
    rejected = [replace(r, step=STEP, rejection_id="") for r in labelled.rejected + measured.rejected]
    return StepOutput(measured.kept, rejected,
                      {**for_role("teacher", labelled.usage), **for_role("student", measured.usage)})


def score_code(questions: list[Question], student: Backend, gasp_cfg: GoalpostConfig, pool: SandboxPool,
               seed: int, sampling: SamplingConfig | None = None, limits: Limits | None = None,
               ) -> StepOutput[Row]:
    """Labels = the reference program's outputs (run twice); pass rate = student programs passing all."""
    out: StepOutput[Row] = StepOutput(kept=[])
    limits = limits or Limits()
    inputs = [json.loads(q.tests) for q in questions]
    labels = label_programs(pool, [q.program for q in questions], inputs, limits=limits)
    good = []
    for question, outputs, case_inputs in zip(questions, labels, inputs, strict=True):
        if isinstance(outputs, Rejected):
            out.rejected.append(Rejection(STEP, outputs.reason, question.question_id, outputs.detail,
                                          question.raw_text, doc_id=question.doc_id, goalpost_id=question.goalpost_id))
        else:
            good.append((question, outputs, case_inputs))
    if not good:
        return out
    settings = sampling or SamplingConfig()
    call = Sampling.of(settings, gasp_cfg.student_samples, seed)
    generations = student.generate([code_chat(q.question) for q, _, _ in good], call)
    out.usage = for_role("student", usage(generations))
    jobs, owners = [], []  # every student program of every variant in one sandbox batch
    for index, ((_, outputs, case_inputs), completions) in enumerate(zip(good, generations, strict=True)):
        tests = tuple(TestCase("stdio", input=i, expected=e) for i, e in zip(case_inputs, outputs, strict=True))
        for completion in completions:
            if completion.finish_reason == "stop":
                jobs.append(Job(extract_program(completion.text), tests, MODEL, limits))
                owners.append(index)
    passes = [0] * len(good)
    for owner, result in zip(owners, pool.run_many(jobs) if jobs else [], strict=True):
        passes[owner] += result.ok
    for (question, outputs, _), completions, passed in zip(good, generations, passes, strict=True):
        n = len(completions)
        # A code label is the reference program's outputs, which every run reproduced (else it was
        # rejected as nondeterministic): REFERENCE_RUNS runs, all agreeing, with the teacher's own program.
        label = Label(question.question_id, json.dumps(outputs), support=REFERENCE_RUNS, valid=REFERENCE_RUNS,
                      n=REFERENCE_RUNS, majority_fraction=1.0, vote_entropy=0.0, agrees_with_questioner=True,
                      reasoning=question.program)
        out.kept.append((question, label, Difficulty(question.question_id, passed / n, passed, n)))
    return out


def apply_band(rows: list[Row], band: tuple[float, float]) -> tuple[list[Row], list[Rejection]]:
    """Keep variants whose pass rate is within [lo, hi]; the rest become `outside_band` rejections."""
    kept, rejected = [], []
    for question, label, difficulty in rows:
        if band[0] <= difficulty.solve_rate <= band[1]:
            kept.append((question, label, difficulty))
        else:
            rejected.append(Rejection(
                STEP, OUTSIDE_BAND, question.question_id,
                f"{question.role}: pass rate {difficulty.solve_rate:.2f} outside [{band[0]}, {band[1]}]",
                question.raw_text, doc_id=question.doc_id, goalpost_id=question.goalpost_id))
    return kept, rejected

