"""Student difficulty: solve rate without the document, learnability band, level separation."""

from __future__ import annotations

import statistics

from pipeline.backends import Completion
from pipeline.backends.sim import SimBackend
from pipeline.config import DarcConfig, SimModel
from pipeline.difficulty import OUTSIDE_LEARNABILITY_BAND, count_correct, measure_difficulty, solve_rate
from pipeline.labels import label_questions
from pipeline.questions import write_questions
from pipeline.records import Document, Label, Question

Q = Question("q1", "darc", "integer", "Start with 5, then add 7. What number results?", "12", level=1)
L = Label("q1", "12", 8, 10, 10, 0.8, 0.3, True)


def test_solve_rate_counts_equivalent_spellings_and_not_truncated_samples():
    samples = [Completion(t, "stop", 1, 1) for t in ["\\boxed{12}", "\\boxed{12.0}", "\\boxed{\\frac{24}{2}}",
                                                      "\\boxed{13}", "12 without a box"]]
    samples.append(Completion("\\boxed{12}", "length", 1, 1))
    assert count_correct(samples, "12", "integer") == 3
    assert solve_rate(samples, "12", "integer") == 0.5
    assert solve_rate(["\\boxed{(B)}", "\\boxed{C}"], "B", "categorical") == 0.5
    assert solve_rate([], "B", "categorical") == 0.0


class Recorder:
    def __init__(self, sim):
        self.sim, self.name, self.model, self.prompts = sim, "sim", "sim", []

    def generate(self, prompts, sampling):
        self.prompts, self.n = list(prompts), sampling.n
        return self.sim.generate(prompts, sampling)


def test_student_sees_the_question_only():
    student = Recorder(SimBackend(SimModel(backend="sim")))
    out = measure_difficulty([(Q, L)], student, DarcConfig(student_samples=7), seed=0)
    prompt = student.prompts[0][0]["content"]
    assert Q.question in prompt and "PASSAGE" not in prompt and student.n == 7
    assert out.kept[0][2].n == 7 and out.kept[0][2].solve_rate == out.kept[0][2].correct / 7


def test_learnability_band_rejects_outside_solve_rates():
    darc = DarcConfig(learnability_band=(0.2, 0.4))
    student = SimBackend(SimModel(backend="sim", accuracy_without_document={1: 1.0}, malformed_rate=0.0))
    out = measure_difficulty([(Q, L)], student, darc, seed=0)
    assert not out.kept and out.rejected[0].reason == OUTSIDE_LEARNABILITY_BAND
    assert "1.00 outside" in out.rejected[0].detail
    assert out.rejected[0].raw_text.count("----- sample") == DarcConfig().student_samples  # every sample kept


def test_measured_solve_rate_separates_the_three_levels_in_order():
    docs = [Document(f"d{i}", f"Plant {i} produced {1200 + 37 * i} tonnes in {1950 + i} with {12 + i} "
                              f"furnaces and {340 + 11 * i} wagons over {i % 9 + 3} months.") for i in range(25)]
    darc = DarcConfig()
    sim = SimBackend(SimModel(backend="sim"))
    questions = write_questions(docs, darc, sim, seed=0)
    labelled = label_questions(questions.kept, {d.doc_id: d for d in docs}, sim, darc, seed=1)
    rows = measure_difficulty(labelled.kept, sim, darc, seed=2).kept
    means = {level: statistics.fmean(d.solve_rate for q, _, d in rows if q.level == level) for level in (1, 2, 3)}
    assert means[1] > means[2] + 0.15 > means[3] + 0.3
