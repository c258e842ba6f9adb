"""Teacher labels: majority vote over n samples with the document, each rejection reason, quality."""

from __future__ import annotations

import pytest

from pipeline import labels as lab
from pipeline.answers import equivalent
from pipeline.backends import Completion
from pipeline.backends.sim import SimBackend
from pipeline.backends.sim.darc import true_answer
from pipeline.config import DarcConfig, SimModel
from pipeline.questions import write_questions
from pipeline.records import Document, Question, Rejected

DARC = DarcConfig()
QUESTION = Question("q1", "darc", "integer", "A bridge has 2 towers of 227 metres. Combined height?", "454",
                    doc_id="d1", level=1)
CHOICE = Question("q2", "darc", "categorical", "Which is tallest?\nA. 227 m\nB. 112 m\nC. 7 m", "A",
                  doc_id="d1", level=1)


def done(*texts: str, finish: str = "stop") -> list[Completion]:
    return [Completion(t, finish, 10, 5) for t in texts]


def rejected_reason(question: Question, completions: list[Completion]) -> str:
    with pytest.raises(Rejected) as caught:
        lab.label_from_completions(question, completions, DARC)
    return caught.value.reason


def test_label_records_support_valid_fraction_entropy_agreement_and_reasoning():
    texts = ["so \\boxed{454}", "\\boxed{454.0}", "\\boxed{\\frac{908}{2}}", "\\boxed{453}", "no box"]
    label = lab.label_from_completions(QUESTION, done(*texts), DARC)
    assert (label.answer, label.support, label.valid, label.n) == ("454", 3, 4, 5)
    assert label.majority_fraction == pytest.approx(0.6) and label.vote_entropy > 0
    assert label.agrees_with_questioner and label.reasoning == "so \\boxed{454}"


def test_truncated_samples_do_not_vote():
    completions = done(*["\\boxed{454}"] * 3) + done(*["\\boxed{453}"] * 4, finish="length")
    label = lab.label_from_completions(QUESTION, completions, DarcConfig(majority_threshold=0.4))
    assert (label.answer, label.valid, label.n) == ("454", 3, 7)
    assert label.majority_fraction == pytest.approx(3 / 7)  # truncated samples still count in n


def test_no_valid_votes():
    assert rejected_reason(QUESTION, done("454", "I think 454", "\\boxed{454")) == lab.NO_VALID_VOTES


def test_low_agreement():
    assert rejected_reason(QUESTION, done(*[f"\\boxed{{{450 + i}}}" for i in range(10)])) == lab.LOW_AGREEMENT


def test_tied_vote():
    assert rejected_reason(CHOICE, done(*["\\boxed{A}", "\\boxed{B}"] * 5)) == lab.TIED_VOTE


def test_label_type_mismatch():
    assert rejected_reason(QUESTION, done(*["\\boxed{454.5}"] * 8)) == lab.LABEL_TYPE_MISMATCH
    assert rejected_reason(CHOICE, done(*["\\boxed{E}"] * 8)) == lab.LABEL_TYPE_MISMATCH


def test_disagreement_with_questioner_is_recorded_not_rejected():
    label = lab.label_from_completions(CHOICE, done(*["\\boxed{(B)}"] * 9, "\\boxed{A}"), DARC)
    assert label.answer == "B" and not label.agrees_with_questioner


class Recorder:
    def __init__(self, sim):
        self.sim, self.name, self.model, self.prompts, self.sampling = sim, "sim", "sim", [], None

    def generate(self, prompts, sampling):
        self.prompts, self.sampling = list(prompts), sampling
        return self.sim.generate(prompts, sampling)


def test_teacher_sees_the_document_and_draws_n_votes():
    doc = Document("d1", "A bridge with 2 towers of 227 metres each.")
    teacher = Recorder(SimBackend(SimModel(backend="sim")))
    out = lab.label_questions([QUESTION], {"d1": doc}, teacher, DARC, seed=0)
    assert doc.text in teacher.prompts[0][0]["content"] and QUESTION.question in teacher.prompts[0][0]["content"]
    assert teacher.sampling.n == 10 and teacher.sampling.temperature == 1.0
    assert len(out.kept) + len(out.rejected) == 1 and out.usage["completion_tokens"] > 0


def test_missing_document_is_a_clear_error():
    with pytest.raises(ValueError, match="q1.*d1"):
        lab.label_questions([QUESTION], {}, SimBackend(SimModel(backend="sim")), DARC, seed=0)


def sim_documents(count: int) -> list[Document]:
    return [Document(f"d{i}", f"Plant {i} produced {1200 + 37 * i} tonnes in {1950 + i} with {12 + i} "
                              f"furnaces; shipments reached {340 + 11 * i} wagons over {i % 9 + 3} months "
                              "through the harbour district.") for i in range(count)]


def test_teacher_accuracy_point_six_with_ten_votes_gives_97_percent_correct_labels():
    docs = sim_documents(40)
    questions = write_questions(docs, DARC, SimBackend(SimModel(backend="sim", malformed_rate=0.0)), seed=0)
    teacher = SimBackend(SimModel(backend="sim", accuracy_with_document={1: 0.6, 2: 0.6, 3: 0.6},
                                  malformed_rate=0.05))
    out = lab.label_questions(questions.kept, {d.doc_id: d for d in docs}, teacher, DARC, seed=1)
    correct = [equivalent(label.answer, true_answer(q.question), q.answer_type) for q, label in out.kept]
    assert len(questions.kept) == 360 and len(out.kept) >= 200  # the yield is meaningful
    assert sum(correct) / len(correct) >= 0.97
    assert {r.reason for r in out.rejected} <= {lab.LOW_AGREEMENT, lab.TIED_VOTE, lab.NO_VALID_VOTES}
