"""Labels for code by execution: a reference program's outputs on test inputs, checked twice.

A code variant's labels are what its reference program prints for each test input. The program runs
twice (on different fork servers when the pool has two), with `random` reseeded per run; if the two
runs disagree the variant is `nondeterministic`. A student program passes when every hidden test's
output matches the label.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.records import Rejected
from pipeline.sandbox.policy import MODEL, Policy
from pipeline.sandbox.pool import SandboxPool
from pipeline.sandbox.verdict import Job, Limits, RunResult, TestCase, normalize_output

NONDETERMINISTIC = "nondeterministic"
REFERENCE_FAILED = "reference_failed"


REFERENCE_RUNS = 2  # a reference program is run this many times; a label needs every run to agree


def label_programs(pool: SandboxPool, programs: Sequence[str], inputs: Sequence[Sequence[str]],
                   policy: Policy = MODEL, limits: Limits | None = None) -> list[list[str] | Rejected]:
    """For each (program, inputs): its outputs, or a `Rejected` saying why there are none.

    Reasons: the static ones of policy.py, `reference_failed` (it crashed, timed out, ...) and
    `nondeterministic` (two runs printed different outputs)."""
    limits = limits or Limits()
    jobs = [Job(program, tuple(TestCase("stdio", input=text) for text in case_inputs), policy, limits)
            for program, case_inputs in zip(programs, inputs, strict=False)]
    results = pool.run_many([job for job in jobs for _ in range(REFERENCE_RUNS)])
    labels: list[list[str] | Rejected] = []
    for index in range(len(jobs)):
        first, second = results[REFERENCE_RUNS * index:REFERENCE_RUNS * index + 2]
        labels.append(_agree(first, second))
    return labels


def _agree(first: RunResult, second: RunResult) -> list[str] | Rejected:
    if first.status == "rejected":
        return Rejected(first.reason, first.detail)
    for result in (first, second):
        if not result.ok:
            return Rejected(REFERENCE_FAILED, f"{result.reason}: {result.detail}"[:300])
    a = [normalize_output(o or "") for o in first.outputs]
    b = [normalize_output(o or "") for o in second.outputs]
    if a != b:
        test = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
        return Rejected(NONDETERMINISTIC, f"test {test}: {a[test]!r:.60} then {b[test]!r:.60}")
    return a


def pass_flags(pool: SandboxPool, programs: Sequence[str], inputs: Sequence[str], expected: Sequence[str],
               limits: Limits | None = None) -> list[RunResult]:
    """Run student programs against hidden tests (inputs with expected outputs), strict policy."""
    tests = tuple(TestCase("stdio", input=i, expected=e) for i, e in zip(inputs, expected, strict=False))
    return pool.run_many([Job(program, tests, MODEL, limits or Limits()) for program in programs])
