"""What a sandbox run means: jobs and test cases in, a `RunResult` with one reason code out.

The child only reports raw outputs; the verdict is made here, on the host, so code under test cannot
forge a pass by writing to its result pipe (it never sees the expected outputs).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

from pipeline.sandbox.policy import MODEL, Policy

PASSED = "passed"
TIMEOUT = "timeout"  # wall time ran out (infinite loop, sleeping, blocked)
CPU_LIMIT = "cpu_limit"  # killed by RLIMIT_CPU (SIGXCPU, then SIGKILL at the hard limit)
MEMORY_LIMIT = "memory_limit"  # MemoryError under RLIMIT_AS
OUTPUT_LIMIT = "output_limit"  # printed more than the output limit
SANDBOX_VIOLATION = "sandbox_violation"  # the runtime guard refused an operation (fork, socket, ...)
RUNTIME_ERROR = "runtime_error"  # the program raised (an assert test failing is this too)
WRONG_ANSWER = "wrong_answer"  # ran, but an output differs from the expected one
CRASHED = "crashed"  # the child died without reporting every test (signal, os._exit, ...)
SANDBOX_CRASH = "sandbox_crash"  # the fork server itself died or hung: restarted, run recorded


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-run limits. `nproc` 1: the run may not start any process or thread."""

    cpu_s: int = 5
    wall_s: float = 10.0
    memory_mb: int = 512
    fsize_mb: int = 4
    nproc: int = 1
    output_chars: int = 1_000_000


@dataclass(frozen=True, slots=True)
class TestCase:
    """`stdio`: feed `input` on stdin, compare stdout with `expected` (None: just record it).
    `assert`: run `source` (asserts, or HumanEval's `check(f)`) after the program; pass = no error."""

    __test__ = False  # not a pytest class

    kind: str
    input: str = ""
    expected: str | None = None
    source: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind, "input": self.input, "source": self.source}


@dataclass(frozen=True, slots=True)
class Job:
    program: str
    tests: tuple[TestCase, ...]
    policy: Policy = MODEL
    limits: Limits = field(default_factory=Limits)


@dataclass(slots=True)
class RunResult:
    """`status` is passed, failed (ran and failed: `reason` says how) or rejected (static check)."""

    status: str
    reason: str = ""
    detail: str = ""
    outputs: list[str | None] = field(default_factory=list)  # stdout per test; None if not reached
    tests_passed: int = 0
    tests_total: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == PASSED


def normalize_output(text: str) -> str:
    """Trailing spaces per line and trailing blank lines do not count (LiveCodeBench-style)."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()).rstrip()


def judge(job: Job, reply: dict[str, Any]) -> RunResult:
    """Turn the server's reply into a result with the first reason that explains the failure."""
    total = len(job.tests)
    outputs: list[str | None] = [None] * total
    statuses: list[str | None] = [None] * total
    errors = [""] * total
    violation = ""
    for message in reply.get("messages", []):
        if "violation" in message:
            violation = violation or message["violation"]
        elif isinstance(message.get("test"), int) and 0 <= message["test"] < total:
            index = message["test"]
            outputs[index], statuses[index], errors[index] = message["stdout"], message["status"], message["error"]
    passed = sum(1 for test, status, output in zip(job.tests, statuses, outputs, strict=False)
                 if status == "ok" and (test.expected is None or normalize_output(output or "") == normalize_output(test.expected)))
    result = RunResult(status="failed", outputs=outputs, tests_passed=passed, tests_total=total,
                       seconds=float(reply.get("seconds", 0.0)))
    result.reason, result.detail = _reason(job, reply, statuses, errors, violation)
    if not result.reason and passed < total:
        first = next(i for i, (t, o) in enumerate(zip(job.tests, outputs, strict=False))
                     if t.expected is not None and normalize_output(o or "") != normalize_output(t.expected))
        result.reason = WRONG_ANSWER
        result.detail = f"test {first}: expected {job.tests[first].expected!r:.80}, got {outputs[first]!r:.80}"
    if not result.reason:
        result.status = PASSED
    return result


def _reason(job, reply, statuses, errors, violation) -> tuple[str, str]:
    if violation:
        return SANDBOX_VIOLATION, violation
    for status, error in zip(statuses, errors, strict=False):
        if status in (OUTPUT_LIMIT, MEMORY_LIMIT):
            return status, error
    if reply.get("overflow"):
        return OUTPUT_LIMIT, "the run wrote more than the server accepts"
    if reply.get("exit_signal") in (signal.SIGXCPU, signal.SIGKILL) and not reply.get("timed_out"):
        return CPU_LIMIT, f"killed by signal {reply['exit_signal']} (CPU limit {job.limits.cpu_s} s)"
    if reply.get("timed_out"):
        return TIMEOUT, f"wall time over {job.limits.wall_s} s"
    for index, (status, error) in enumerate(zip(statuses, errors, strict=False)):
        if status == "error":
            return RUNTIME_ERROR, f"test {index}: {error}"
    if None in statuses:
        return CRASHED, f"exit code {reply.get('exit_code')}, signal {reply.get('exit_signal')}"
    return "", ""
