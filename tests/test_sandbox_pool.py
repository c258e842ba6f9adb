"""The sandbox pool: verdicts, labels by execution, determinism, and surviving a dead server."""

from __future__ import annotations

import pytest

from pipeline.records import Rejected
from pipeline.sandbox import GOALPOST, Job, Limits, SandboxPool, TestCase
from pipeline.sandbox.reference import NONDETERMINISTIC, REFERENCE_FAILED, label_programs, pass_flags

DOUBLE = "n = int(input())\nprint(n * 2)\n"


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(workers=2) as sandbox:
        yield sandbox


def test_stdio_program_passes_and_reports_outputs(pool):
    tests = tuple(TestCase("stdio", input=f"{i}\n", expected=f"{2 * i}\n\n") for i in range(10))
    result = pool.run(Job(DOUBLE, tests))
    assert result.ok and result.tests_passed == 10
    assert result.outputs[3] == "6\n"


def test_wrong_output_is_wrong_answer_with_the_first_differing_test(pool):
    tests = (TestCase("stdio", input="1", expected="2"), TestCase("stdio", input="2", expected="5"))
    result = pool.run(Job(DOUBLE, tests))
    assert (result.reason, result.tests_passed) == ("wrong_answer", 1)
    assert result.detail.startswith("test 1")


def test_assert_tests_and_runtime_errors(pool):
    program = "def add(a, b):\n    return a + b\n"
    good = pool.run(Job(program, (TestCase("assert", source="assert add(1, 2) == 3"),), GOALPOST))
    bad = pool.run(Job(program, (TestCase("assert", source="assert add(1, 2) == 4"),), GOALPOST))
    assert good.ok
    assert bad.reason == "runtime_error" and "AssertionError" in bad.detail


def test_sys_exit_zero_is_a_normal_end(pool):
    result = pool.run(Job("import sys\nprint('ok')\nsys.exit(0)\n", (TestCase("stdio", expected="ok"),)))
    assert result.ok


def test_static_rejections_do_not_reach_the_sandbox(pool):
    assert pool.run(Job("def f(:\n", (TestCase("stdio"),))).reason == "syntax_error"
    assert pool.run(Job("import subprocess\n", (TestCase("stdio"),))).reason == "banned_import"
    assert pool.run(Job("import threading\n", (TestCase("stdio"),))).reason == "banned_import"
    assert pool.run(Job("import multiprocessing\n", (TestCase("stdio"),), GOALPOST)).reason == "banned_import"
    assert pool.run(Job("import os\nos.system('ls')\n", (TestCase("stdio"),), GOALPOST)).reason == "banned_call"
    assert pool.run(Job("print(eval('1'))\n", (TestCase("stdio"),))).reason == "banned_call"


def test_goalpost_policy_allows_what_humaneval_uses(pool):
    program = "import math, random, hashlib, collections, re, string, copy\nprint(eval('1 + 1'))\n"
    assert pool.run(Job(program, (TestCase("stdio", expected="2"),), GOALPOST)).ok


def test_reference_labels_are_its_outputs(pool):
    [labels] = label_programs(pool, [DOUBLE], [["1\n", "21\n"]])
    assert labels == ["2", "42"]


def test_nondeterministic_reference_is_rejected(pool):
    program = "import random\nprint(random.random())\n"
    [labels] = label_programs(pool, [program], [["", ""]])
    assert isinstance(labels, Rejected) and labels.reason == NONDETERMINISTIC


def test_failing_reference_is_rejected(pool):
    [labels] = label_programs(pool, ["print(1 // 0)\n"], [[""]])
    assert isinstance(labels, Rejected) and labels.reason == REFERENCE_FAILED
    [labels] = label_programs(pool, ["import socket\n"], [[""]])
    assert isinstance(labels, Rejected) and labels.reason == "banned_import"


def test_student_programs_pass_only_when_every_hidden_test_matches(pool):
    off_by_one = "n = int(input())\nprint(n * 2 + (n > 5))\n"
    results = pass_flags(pool, [DOUBLE, off_by_one], ["1", "9"], ["2", "18"])
    assert [r.ok for r in results] == [True, False]


def test_a_dead_server_costs_one_run_not_the_build():
    pool = SandboxPool(workers=1)
    try:
        assert pool.run(Job(DOUBLE, (TestCase("stdio", input="1", expected="2"),))).ok
        pool._servers[0].kill()  # the server process dies between runs
        crashed = pool.run(Job(DOUBLE, (TestCase("stdio", input="1", expected="2"),)))
        assert crashed.reason == "sandbox_crash"
        again = pool.run_many([Job(DOUBLE, (TestCase("stdio", input="3", expected="6"),))] * 3)
        assert all(r.ok for r in again)
    finally:
        pool.close()


def test_a_crash_in_a_batch_leaves_the_other_runs(pool):
    jobs = [Job(DOUBLE, (TestCase("stdio", input="2", expected="4"),)),
            Job("import os\nos.abort()\n", (TestCase("stdio"),), GOALPOST, Limits(wall_s=2)),
            Job(DOUBLE, (TestCase("stdio", input="5", expected="10"),))]
    results = pool.run_many(jobs)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].reason in ("crashed", "sandbox_violation")


def test_every_module_the_strict_policy_allows_imports_in_the_sandbox(pool):
    from pipeline.sandbox.policy import ALLOWED_MODULES

    program = "".join(f"import {name}\n" for name in sorted(ALLOWED_MODULES)) + "print('ok')\n"
    result = pool.run(Job(program, (TestCase("stdio", expected="ok"),)))
    assert result.ok, result.detail
