"""The simulated model's DARC roles: grounded questions, levels, accuracy, spellings, determinism."""

from __future__ import annotations

import random
import statistics

import pytest

from pipeline.answers import extract_answer, normalize
from pipeline.backends import Sampling
from pipeline.backends.sim import SimBackend
from pipeline.backends.sim import darc_puzzles as puzzles
from pipeline.backends.sim.darc import question_level, true_answer
from pipeline.config import DarcConfig, SimModel
from pipeline.prompts import questioner_chat, student_chat, teacher_chat
from pipeline.questions import parse_question
from pipeline.records import Document

DOC = Document("d", "Wheat harvests reached 3,400 tonnes in 2011, up from 2,950 tonnes, while rainfall "
                    "averaged 640 millimetres over 7 months in the northern province.")
TYPES = ["integer", "float", "categorical", "string", "boolean", "expression"]


@pytest.mark.parametrize("answer_type", TYPES)
def test_questions_are_grounded_valid_and_solvable_at_every_level(answer_type):
    sim = SimBackend(SimModel(backend="sim", malformed_rate=0.0))
    lengths = []
    for level in (1, 2, 3):
        text = sim.generate([questioner_chat(DOC.text, level, answer_type)], Sampling(seed=4))[0][0].text
        question = parse_question(text, "stop", DOC, level, answer_type, DarcConfig())
        assert question_level(question.question) == level
        assert true_answer(question.question) == question.reference_answer
        assert any(str(n) in question.question for n in puzzles.document_numbers(DOC.text)) or answer_type == "expression"
        lengths.append(len(puzzles.solve(question.question).steps))
    assert lengths == sorted(lengths) and lengths[0] < lengths[2]


def test_same_seed_same_output_and_different_seed_differs():
    sim = SimBackend(SimModel(backend="sim"))
    chat = [questioner_chat(DOC.text, 2, "integer")]
    assert sim.generate(chat, Sampling(seed=1))[0][0] == sim.generate(chat, Sampling(seed=1))[0][0]
    assert sim.generate(chat, Sampling(n=4, seed=1))[0] != sim.generate(chat, Sampling(n=4, seed=2))[0]


def accuracy(chat_of, level_table: dict, role_with_document: bool) -> dict[int, float]:
    config = {"accuracy_with_document" if role_with_document else "accuracy_without_document": level_table}
    sim = SimBackend(SimModel(backend="sim", malformed_rate=0.0, **config))
    rng = random.Random(0)
    rates = {}
    for level in (1, 2, 3):
        hits = []
        for i in range(15):
            puzzle = puzzles.write_puzzle(DOC.text + f" Plot {i}.", level, "integer", rng)
            for completion in sim.generate([chat_of(puzzle.question)], Sampling(n=20, seed=i))[0]:
                hits.append(extract_answer(completion.text, "integer") == puzzle.answer)
        rates[level] = statistics.fmean(hits)
    return rates


def test_teacher_and_student_accuracy_follow_their_tables():
    table = {1: 0.9, 2: 0.5, 3: 0.2}
    teacher = accuracy(lambda q: teacher_chat(DOC.text, q, "integer"), table, True)
    student = accuracy(lambda q: student_chat(q, "integer"), table, False)
    for level, target in table.items():
        assert abs(teacher[level] - target) < 0.08 and abs(student[level] - target) < 0.08


def test_correct_answers_come_in_varied_equivalent_spellings():
    sim = SimBackend(SimModel(backend="sim", accuracy_without_document={1: 1.0}, malformed_rate=0.0))
    puzzle = puzzles.write_puzzle(DOC.text, 1, "categorical", random.Random(2))
    boxes = [c.text for c in sim.generate([student_chat(puzzle.question, "categorical")], Sampling(n=40, seed=0))[0]]
    spellings = {b.rsplit("\\boxed{", 1)[1] for b in boxes}
    assert len(spellings) >= 3 and {extract_answer(b, "categorical") for b in boxes} == {puzzle.answer}


def test_malformed_answers_have_no_box_or_are_truncated():
    sim = SimBackend(SimModel(backend="sim", malformed_rate=1.0))
    puzzle = puzzles.write_puzzle(DOC.text, 1, "integer", random.Random(2))
    out = sim.generate([student_chat(puzzle.question, "integer")], Sampling(n=30, seed=0))[0]
    assert all(c.finish_reason == "length" or extract_answer(c.text, "integer") is None for c in out)
    assert {c.finish_reason for c in out} == {"stop", "length"}


def test_true_answer_refuses_foreign_questions():
    with pytest.raises(ValueError):
        true_answer("What is the capital of France?")
    answer = true_answer("Start with x, then multiply by 3, then add 12. Which expression?")
    assert normalize(answer, "expression") == normalize("3x + 12", "expression") == normalize("12+3*x", "expression")
