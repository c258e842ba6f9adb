"""The teacher step: document + question, n samples -> a majority-vote `Label`, or a rejection.

The teacher sees the document (DARC's document-augmented teacher). Each sample's final answer is
its last balanced `\\boxed{}`; truncated samples do not vote. A label is kept when its group holds at
least `majority_threshold` of the n samples, is not tied with another group, and fits the type.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.answers import equivalent, extract_answer, fits_type
from pipeline.backends import Backend, Completion, Sampling, usage
from pipeline.config import DarcConfig, SamplingConfig
from pipeline.prompts import teacher_chat
from pipeline.questions import option_letters
from pipeline.records import Document, Label, Question, Rejected, Rejection, StepOutput
from pipeline.voting import Vote, vote

STEP = "labels"
NO_VALID_VOTES = "no_valid_votes"  # no sample had a boxed answer of the right type
LOW_AGREEMENT = "low_agreement"  # the largest group is below the majority threshold
TIED_VOTE = "tied_vote"  # two groups share the top count: the label would be a coin flip
LABEL_TYPE_MISMATCH = "label_type_mismatch"  # the winner is not a well-formed answer of the type

SAMPLE_SEPARATOR = "\n\n----- sample {index} -----\n"


def label_questions(questions: list[Question], documents_by_id: dict[str, Document], teacher: Backend,
                    darc: DarcConfig, seed: int, sampling: SamplingConfig | None = None,
                    ) -> StepOutput[tuple[Question, Label]]:
    """Draw `darc.teacher_votes` teacher samples per question and vote."""
    settings = sampling or SamplingConfig()
    for question in questions:
        if question.doc_id not in documents_by_id:
            raise ValueError(f"question {question.question_id}: its document {question.doc_id!r} "
                             "is not in documents_by_id")
    # Prompts sharing a document sit together, so an engine's prefix cache reuses the document.
    order = sorted(range(len(questions)), key=lambda i: questions[i].doc_id)
    batch = [questions[i] for i in order]
    chats = [teacher_chat(documents_by_id[q.doc_id].text, q.question, q.answer_type) for q in batch]
    call = Sampling.of(settings, darc.teacher_votes, seed)
    generations = teacher.generate(chats, call) if chats else []
    out: StepOutput[tuple[Question, Label]] = StepOutput(kept=[], usage=usage(generations))
    for question, completions in zip(batch, generations, strict=True):
        try:
            out.kept.append((question, label_from_completions(question, completions, darc)))
        except Rejected as bad:
            out.rejected.append(Rejection(STEP, bad.reason, question.question_id, bad.detail,
                                          joined_texts(completions), doc_id=question.doc_id,
                                          goalpost_id=question.goalpost_id))
    return out


def label_from_completions(question: Question, completions: Sequence[Completion],
                           darc: DarcConfig) -> Label:
    """Vote over one question's teacher samples; `Rejected` when the label cannot be trusted."""
    answers = [None if c.finish_reason != "stop" else extract_answer(c.text, question.answer_type)
               for c in completions]
    result = vote(answers, question.answer_type)
    check_vote(result, question, darc.majority_threshold)
    return Label(
        question_id=question.question_id, answer=result.answer, support=result.support,
        valid=result.valid, n=result.n, majority_fraction=result.majority_fraction,
        vote_entropy=result.entropy,
        agrees_with_questioner=equivalent(result.answer, question.reference_answer, question.answer_type),
        reasoning=completions[result.winners[0]].text)


def check_vote(result: Vote, question: Question, threshold: float) -> None:
    """Raise `Rejected` with the reason a vote's winner is not a usable label."""
    if result.answer is None:
        raise Rejected(NO_VALID_VOTES, f"0 of {result.n} samples had a boxed {question.answer_type} answer")
    summary = f"groups {result.groups}, {result.valid} valid of {result.n}"
    if not fits_type(result.answer, question.answer_type):
        raise Rejected(LABEL_TYPE_MISMATCH, f"winner {result.answer!r} is not {question.answer_type}; {summary}")
    if question.answer_type == "categorical" and result.answer not in option_letters(question.question):
        raise Rejected(LABEL_TYPE_MISMATCH, f"winner {result.answer} is not an option; {summary}")
    if result.majority_fraction < threshold:
        raise Rejected(LOW_AGREEMENT, f"majority {result.majority_fraction:.2f} < {threshold}; {summary}")
    if result.tied:
        raise Rejected(TIED_VOTE, summary)


def joined_texts(completions: Sequence[Completion]) -> str:
    """All samples' raw text in one string, for the rejects table."""
    return "".join(SAMPLE_SEPARATOR.format(index=i) + c.text for i, c in enumerate(completions))
