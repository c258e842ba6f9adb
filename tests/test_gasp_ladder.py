"""GASP probe and ladders on the simulated model, and one test per ladder rejection reason."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from pipeline.backends import Completion, make_backend
from pipeline.config import DarcConfig, GoalpostConfig, SimModel
from pipeline.gasp_prompts import LIFT_MARKER, code_chat, parse_variant
from pipeline.goalposts import parse_goalpost
from pipeline.ladder import build_ladders, goalpost_progress
from pipeline.probe import pass_at_k, probe_goalposts
from pipeline.records import Document, Rejected
from pipeline.sandbox import Limits, SandboxPool
from pipeline.variants import Request, apply_band, parse_replies, score_code

HARD_MATH = ("Let f be a polynomial of degree 7 with integer coefficients such that f(k) = k^2 for "
             "k = 1..8. Compute f(9) modulo 1000.")
GOALPOSTS = [
    parse_goalpost({"id": "easy", "domain": "math", "question": "What is 6 * 7?", "answer": "42"}, "t"),
    parse_goalpost({"id": "hard", "domain": "math", "question": HARD_MATH, "answer": "81"}, "t"),
    parse_goalpost({"id": "code", "domain": "code", "question": "Print the n-th prime.", "tests":
                    [{"input": "1\n", "output": "2"}, {"input": "5\n", "output": "11"}]}, "t"),
]
CFG = GoalpostConfig(path="unused", probe_k=20, rounds=2, attempts=4, student_samples=10)


class Recording:
    """The sim, with every prompt it was sent kept for inspection."""

    def __init__(self) -> None:
        self.inner, self.name, self.model, self.prompts = make_backend(SimModel(backend="sim")), "sim", "sim", []

    def generate(self, prompts, sampling):
        self.prompts.extend(p[-1]["content"] for p in prompts)
        return self.inner.generate(prompts, sampling)


class Scripted:
    """A teacher whose replies are fixed: for rejection tests."""

    name = model = "scripted"

    def __init__(self, replies):
        self.replies = replies

    def generate(self, prompts, sampling):
        return [[Completion(text, finish, 1, 1) for text, finish in self.replies] for _ in prompts]


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def built(pool):
    sim = Recording()
    probe = probe_goalposts(GOALPOSTS, sim, CFG, seed=0, pool=pool)
    grounding = {"hard": [Document("d1", "The quarry shipped 120 tonnes of granite in 1874 to 3 harbours.")]}
    out = build_ladders(probe.targets, grounding, sim, sim, CFG, DarcConfig(), seed=0, pool=pool)
    return probe, out, sim


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(20, 0, 20) == 0.0
    assert pass_at_k(20, 1, 20) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(10, 2, 5) == pytest.approx(1 - 56 / 252)  # 1 - C(8,5)/C(10,5)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)


def test_probe_targets_are_the_goalposts_never_solved(built):
    probe, _, _ = built
    by_id = {p.goalpost_id: p for p in probe.probes}
    assert by_id["easy"].correct > 10 and by_id["easy"].pass_at_k == 1.0
    assert by_id["hard"].pass_at_k == 0.0 and by_id["code"].pass_at_k == 0.0
    assert [g.goalpost_id for g in probe.targets] == ["hard", "code"]
    assert all(p.n == 20 and p.k == 20 for p in probe.probes)


def test_ladders_keep_in_band_variants_with_their_lineage(built):
    _, out, _ = built
    assert {q.goalpost_id for q, _, _ in out.kept} == {"hard", "code"}
    ids = {q.question_id: q for q, _, _ in out.kept}
    for question, label, difficulty in out.kept:
        band = CFG.lemma_band if question.role == "lemma" else CFG.lift_band
        assert band[0] <= difficulty.solve_rate <= band[1]
        assert question.method == "gasp" and question.axis in ("representation", "algorithm")
        assert (question.role == "lemma") == (question.depth % 2 == 1)
        if question.depth == 1:
            assert question.parent_id == question.goalpost_id
        else:
            assert ids[question.parent_id].depth == question.depth - 1
        if question.domain == "code":
            assert question.answer_type == "code" and question.program and json.loads(question.tests)
            assert len(json.loads(label.answer)) == len(json.loads(question.tests))
        else:
            assert label.support >= label.n * DarcConfig().majority_threshold
    assert max(q.depth for q, _, _ in out.kept) >= 2


def test_math_labels_come_from_the_teacher_vote_and_are_mostly_right(built):
    from pipeline.backends.sim.darc import true_answer

    _, out, _ = built
    math = [(q, label) for q, label, _ in out.kept if q.domain == "math"]
    assert math
    right = sum(label.answer == true_answer(q.question) for q, label in math)
    assert right / len(math) >= 0.8


def test_lift_prompts_never_show_the_goalpost(built):
    _, _, sim = built
    lifts = [p for p in sim.prompts if p.startswith(LIFT_MARKER)]
    assert lifts
    for goalpost in GOALPOSTS:
        assert all(goalpost.question not in p for p in lifts)


def test_out_of_band_variants_are_rejected_with_the_reason(built):
    _, out, _ = built
    reasons = Counter(r.reason for r in out.rejected)
    assert reasons["outside_band"] > 0
    assert all(r.goalpost_id in ("hard", "code") for r in out.rejected)
    assert {r.step for r in out.rejected} == {"ladders"}  # DARC label/difficulty drops re-filed under ladders


def test_progress_records_pass_at_k_and_deepest_rung(built):
    probe, out, _ = built
    progress = {row["goalpost_id"]: row for row in goalpost_progress(probe, out.kept)}
    assert progress["easy"] == {**progress["easy"], "target": False, "deepest_depth": 0, "pass_at_k": 1.0}
    assert progress["hard"]["target"] and progress["hard"]["deepest_depth"] >= 1
    assert json.loads(json.dumps(list(progress.values())))  # plain, serialisable dicts


def test_build_is_deterministic(pool):
    sim = make_backend(SimModel(backend="sim"))
    runs = [build_ladders(GOALPOSTS[1:], {}, sim, sim, CFG, DarcConfig(), seed=3, pool=pool) for _ in range(2)]
    assert [q.question_id for q, _, _ in runs[0].kept] == [q.question_id for q, _, _ in runs[1].kept]


REQUEST = Request("g1", "code", "code", "g1", 1, "lemma", "algorithm", "d0")
PROGRAM = "n = int(input())\nprint(n + 1)\n"


def code_reply(program=PROGRAM, inputs=("1", "2")):
    return json.dumps({"axis": "algorithm", "question": "Add one.", "program": program,
                       "test_inputs": list(inputs)})


@pytest.mark.parametrize("text, finish, reason", [
    ('{"axis": "algorithm", "question": "x"', "stop", "invalid_json"),
    ("no json here", "stop", "invalid_json"),
    ('{"axis": "algorithm", "question": "Add one."}', "stop", "missing_keys"),
    (code_reply(), "length", "truncated"),
    (code_reply(inputs=()), "stop", "no_test_inputs"),
])
def test_unparseable_replies_are_rejected(text, finish, reason):
    questions, rejected = parse_replies([REQUEST], [[Completion(text, finish, 1, 1)]], set())
    assert not questions and [r.reason for r in rejected] == [reason]
    assert rejected[0].step == "ladders" and rejected[0].raw_text == text and rejected[0].goalpost_id == "g1"


def test_duplicate_variant_is_rejected():
    reply = Completion(code_reply(), "stop", 1, 1)
    questions, rejected = parse_replies([REQUEST], [[reply, reply]], set())
    assert len(questions) == 1 and [r.reason for r in rejected] == ["duplicate_variant"]


@pytest.mark.parametrize("program, reason", [
    ("import subprocess\n" + PROGRAM, "banned_import"),
    ("n = int(input())\nprint(eval('n + 1'))\n", "banned_call"),
    ("import random\nprint(random.random())\n", "nondeterministic"),
    ("print(1 // 0)\n", "reference_failed"),
    ("while True:\n    pass\n", "reference_failed"),
])
def test_bad_reference_programs_are_rejected(pool, program, reason):
    questions, _ = parse_replies([REQUEST], [[Completion(code_reply(program), "stop", 1, 1)]], set())
    student = make_backend(SimModel(backend="sim"))
    cfg = CFG.model_copy(update={"student_samples": 2})
    out = score_code(questions, student, cfg, pool, seed=0, limits=Limits(cpu_s=1, wall_s=1.5))
    assert not out.kept and [r.reason for r in out.rejected] == [reason]


def test_band_edges_are_inclusive():
    from pipeline.records import Difficulty, Label, Question

    def row(rate):
        question = Question(f"q{rate}", "gasp", "code", "q", "", role="lemma")
        return question, Label(question.question_id, "", 0, 0, 0, 0.0, 0.0, True), Difficulty(question.question_id, rate, 0, 10)

    kept, rejected = apply_band([row(0.3), row(0.7), row(0.2), row(0.8)], (0.3, 0.7))
    assert [d.solve_rate for _, _, d in kept] == [0.3, 0.7]
    assert [r.reason for r in rejected] == ["outside_band", "outside_band"]


def test_parse_variant_accepts_fenced_json():
    data = parse_variant("Sure:\n```json\n" + code_reply() + "\n```", "stop", "code")
    assert data["test_inputs"] == ["1", "2"]
    with pytest.raises(Rejected):
        parse_variant(code_reply(), "stop", "math")
    assert "Define the function `f`" in code_chat("q", "f")[0]["content"]


def test_each_role_samples_with_its_own_settings(pool):
    from pipeline.config import SamplingConfig

    class Sampled(Recording):
        def __init__(self) -> None:
            super().__init__()
            self.max_tokens: set[int] = set()

        def generate(self, prompts, sampling):
            self.max_tokens.add(sampling.max_tokens)
            return super().generate(prompts, sampling)

    teacher, student = Sampled(), Sampled()
    build_ladders(GOALPOSTS[1:], {}, teacher, student, CFG, DarcConfig(), seed=0, pool=pool,
                  sampling=SamplingConfig(max_tokens=900), student_sampling=SamplingConfig(max_tokens=700))
    assert teacher.max_tokens == {900} and student.max_tokens == {700}
