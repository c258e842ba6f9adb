"""The simulated model's GASP side: deterministic, fails hard goalposts, writes runnable variants,
and solves code variants at its level's accuracy (right programs pass, off-by-one ones fail)."""

from __future__ import annotations

import random

import pytest

from pipeline.backends import Sampling, make_backend
from pipeline.backends.sim import gasp_programs as programs
from pipeline.backends.sim.gasp import arithmetic_value
from pipeline.config import SimModel
from pipeline.gasp_prompts import code_chat, extract_program, lemma_chat, lift_chat, parse_variant, probe_chat
from pipeline.records import Rejected
from pipeline.sandbox import SandboxPool
from pipeline.sandbox.reference import label_programs, pass_flags

SIM = make_backend(SimModel(backend="sim", malformed_rate=0.0))


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2) as sandbox:
        yield sandbox


def test_same_seed_same_output_different_seed_differs():
    chat = lemma_chat("A hard problem about 12 boats.", "math", "algorithm", [])
    first = SIM.generate([chat], Sampling(n=4, seed=1))[0]
    assert [c.text for c in first] == [c.text for c in SIM.generate([chat], Sampling(n=4, seed=1))[0]]
    assert [c.text for c in first] != [c.text for c in SIM.generate([chat], Sampling(n=4, seed=2))[0]]


def test_hard_goalposts_are_never_solved_and_easy_ones_often():
    assert arithmetic_value("What is 6 * 7?") == 42 and arithmetic_value("Prove there are infinitely many primes.") is None
    easy = SIM.generate([probe_chat("What is 6 * 7?")], Sampling(n=20, seed=0))[0]
    hard = SIM.generate([probe_chat("Find all n such that n^2 + 1 divides 2^n + 1, and sum them.")], Sampling(n=20, seed=0))[0]
    assert sum("\\boxed{42}" in c.text for c in easy) >= 12
    assert all("\\boxed{" in c.text and "\\boxed{42}" not in c.text for c in hard)


def test_unknown_code_goalposts_get_a_failing_stub():
    [[reply]] = SIM.generate([code_chat("Return the longest palindrome.", "longest")], Sampling(seed=0))
    assert "def longest(" in extract_program(reply.text)


@pytest.mark.parametrize("domain", ["math", "code"])
def test_lemmas_and_lifts_parse_and_lifts_are_harder(domain):
    lemma = parse_variant(*_first(lemma_chat("Some hard task with 30 items.", domain, "algorithm", [])), domain)
    assert lemma["axis"] == "algorithm"
    levels = []
    for seed in range(12):
        lift = parse_variant(*_first(lift_chat(lemma["question"], domain, "representation"), seed), domain)
        levels.append(_level(lift["question"], domain))
    assert sum(level > _level(lemma["question"], domain) or level == 3 for level in levels) >= 6


def test_code_variants_run_and_student_accuracy_follows_the_level(pool):
    rng = random.Random(0)
    rates = {}
    for level in (1, 2, 3):
        question, program, inputs, _, _ = programs.write_task(level, rng)
        [outputs] = label_programs(pool, [program], [inputs])
        assert isinstance(outputs, list)
        replies = SIM.generate([code_chat(question)], Sampling(n=40, seed=level))[0]
        results = pass_flags(pool, [extract_program(c.text) for c in replies], inputs, outputs)
        rates[level] = sum(r.ok for r in results) / len(results)
    assert rates[1] > rates[2] > rates[3]


@pytest.mark.parametrize("family", programs.FAMILIES, ids=lambda f: f.name)
def test_every_buggy_program_fails_its_tests(pool, family):
    rng = random.Random(7)
    inputs = programs.test_inputs(family, rng)
    [outputs] = label_programs(pool, [family.correct(3)], [inputs])
    [good, bad] = pass_flags(pool, [family.correct(3), family.buggy(3)], inputs, outputs)
    assert good.ok and bad.reason == "wrong_answer"


def test_malformed_teacher_output_appears_at_its_rate():
    sim = make_backend(SimModel(backend="sim", malformed_rate=0.5))
    replies = sim.generate([lemma_chat("A task.", "code", "algorithm", [])], Sampling(n=40, seed=0))[0]
    broken = sum(1 for c in replies if _rejects(c.text, c.finish_reason))
    assert 5 <= broken <= 35
    assert sum("import os" in c.text or "random" in c.text or "1 // 0" in c.text for c in replies) >= 1


def _first(chat, seed=0):
    [completion] = SIM.generate([chat], Sampling(seed=seed))[0]
    return completion.text, completion.finish_reason


def _level(question, domain):
    if domain == "math":
        from pipeline.backends.sim.darc_puzzles import solve

        return solve(question).level
    return programs.recognise(question)[0].level


def _rejects(text, finish):
    try:
        parse_variant(text, finish, "code")
    except Rejected:
        return True
    return False
