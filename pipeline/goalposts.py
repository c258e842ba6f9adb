"""Goalpost input: read and validate a goalposts file (JSONL, JSONL.gz or Parquet).

A goalpost is a hard real question the team wants the student to reach. Row formats:

- math: `{"id", "domain": "math", "question", "answer"}`
- code: `{"id", "domain": "code", "question", "tests", "entry_point"?, "reference_solution"?}` where
  `tests` (a list, or a JSON string of one) holds stdin/stdout pairs `{"input", "output"}`,
  LiveCodeBench functional cases `{"input", "output", "testtype": "functional"}` (one JSON value per
  input line, called as `entry_point(*args)`), or assert statements (strings, needing `entry_point`);
  or `tests` is one test module defining `check(candidate)` (HumanEval style, needs `entry_point`).
- HumanEval's own rows: `task_id, prompt, canonical_solution, test, entry_point`, read as code
  goalposts whose reference solution is `prompt + canonical_solution`.

Any problem raises `GoalpostError` naming the file, the row (1-based) and the field.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.sandbox import GOALPOST, Job, Limits, RunResult, SandboxPool, TestCase

DOMAINS = ("math", "code")


class GoalpostError(ValueError):
    """A goalposts file that cannot be used: names the file, row and field."""


@dataclass(frozen=True, slots=True)
class Goalpost:
    goalpost_id: str
    domain: str  # "math" or "code"
    question: str
    answer: str = ""  # math
    tests: tuple[TestCase, ...] = ()  # code
    entry_point: str = ""  # code, function-call style
    reference_solution: str = ""  # code, optional: a complete program
    source: str = ""  # file:row, for messages


def read_goalposts(path: str | Path) -> list[Goalpost]:
    """Read and validate every row; raise `GoalpostError` on the first bad one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: goalposts file not found")
    goalposts, seen = [], {}
    for row_number, row in _rows(path):
        goalpost = parse_goalpost(row, f"{path}: row {row_number}")
        if goalpost.goalpost_id in seen:
            raise GoalpostError(f"{path}: row {row_number}: field 'id': {goalpost.goalpost_id!r} "
                                f"repeats row {seen[goalpost.goalpost_id]}")
        seen[goalpost.goalpost_id] = row_number
        goalposts.append(goalpost)
    if not goalposts:
        raise GoalpostError(f"{path}: no goalposts in the file")
    return goalposts


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield number, row
        return
    if not name.endswith((".jsonl", ".jsonl.gz", ".json", ".ndjson")):
        raise GoalpostError(f"{path}: unknown goalposts format (expected .jsonl, .jsonl.gz or .parquet)")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise GoalpostError(f"{path}: row {number}: not valid JSON: {error.msg}") from None
            if not isinstance(row, dict):
                raise GoalpostError(f"{path}: row {number}: expected a JSON object")
            yield number, row


def parse_goalpost(row: dict[str, Any], where: str) -> Goalpost:
    """One row (any supported format) to a `Goalpost`; `where` prefixes error messages."""
    if "task_id" in row and "canonical_solution" in row:
        return _humaneval(row, where)
    goalpost_id = _text(row, "id", where)
    domain = _text(row, "domain", where)
    if domain not in DOMAINS:
        raise GoalpostError(f"{where}: field 'domain': {domain!r} is not one of {', '.join(DOMAINS)}")
    question = _text(row, "question", where)
    if domain == "math":
        answer = row.get("answer")
        if answer is None or not str(answer).strip():
            raise GoalpostError(f"{where}: field 'answer': a math goalpost needs an answer")
        return Goalpost(goalpost_id, "math", question, answer=str(answer).strip(), source=where)
    entry_point = str(row.get("entry_point") or "").strip()
    reference = str(row.get("reference_solution") or "")
    tests = _tests(row.get("tests"), entry_point, where)
    return Goalpost(goalpost_id, "code", question, tests=tests, entry_point=entry_point,
                    reference_solution=reference, source=where)


def _humaneval(row: dict[str, Any], where: str) -> Goalpost:
    for name in ("task_id", "prompt", "canonical_solution", "test", "entry_point"):
        _text(row, name, where)
    entry_point = row["entry_point"].strip()
    check = TestCase("assert", source=f"{row['test']}\n\ncheck({entry_point})\n")
    return Goalpost(row["task_id"], "code", row["prompt"], tests=(check,), entry_point=entry_point,
                    reference_solution=row["prompt"] + row["canonical_solution"], source=where)


def _text(row: dict[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    if value is None:
        raise GoalpostError(f"{where}: field {name!r}: missing")
    if not isinstance(value, (str, int)) or not str(value).strip():
        raise GoalpostError(f"{where}: field {name!r}: expected non-empty text, got {value!r:.60}")
    return str(value)


def _tests(raw: Any, entry_point: str, where: str) -> tuple[TestCase, ...]:
    field = f"{where}: field 'tests'"
    if isinstance(raw, str) and raw.lstrip().startswith("["):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise GoalpostError(f"{field}: not valid JSON: {error.msg}") from None
    if isinstance(raw, str) and raw.strip():  # a test module with check(candidate)
        if not entry_point:
            raise GoalpostError(f"{where}: field 'entry_point': a test module needs the function it checks")
        return (TestCase("assert", source=f"{raw}\n\ncheck({entry_point})\n"),)
    if not isinstance(raw, list) or not raw:
        raise GoalpostError(f"{field}: a code goalpost needs a non-empty list of tests")
    return tuple(_test(item, entry_point, f"{field}[{index}]") for index, item in enumerate(raw))


def _test(item: Any, entry_point: str, where: str) -> TestCase:
    if isinstance(item, str):
        if not entry_point:
            raise GoalpostError(f"{where}: assert tests need 'entry_point'")
        return TestCase("assert", source=item)
    if not isinstance(item, dict) or "input" not in item or "output" not in item:
        raise GoalpostError(f"{where}: expected {{'input', 'output'}} or an assert string, got {item!r:.60}")
    if item.get("testtype", "stdin") == "functional":
        if not entry_point:
            raise GoalpostError(f"{where}: functional tests need 'entry_point'")
        try:
            args = [json.loads(line) for line in str(item["input"]).splitlines() if line.strip()]
            expected = json.loads(str(item["output"]))
        except json.JSONDecodeError as error:
            raise GoalpostError(f"{where}: functional input/output must be JSON: {error.msg}") from None
        return TestCase("assert", source=f"assert {entry_point}(*{args!r}) == {expected!r}\n")
    return TestCase("stdio", input=str(item["input"]), expected=str(item["output"]))


@dataclass(frozen=True, slots=True)
class CheckRow:
    goalpost_id: str
    status: str  # passed, failed, valid (math), no_reference (code without a reference solution)
    tests_passed: int
    tests_total: int
    reason: str = ""


def check_goalposts(goalposts: list[Goalpost], workers: int = 2, limits: Limits | None = None) -> list[CheckRow]:
    """Run each code goalpost's reference solution in the sandbox against its own tests."""
    limits = limits or Limits()
    runnable = [g for g in goalposts if g.domain == "code" and g.reference_solution.strip()]
    with SandboxPool(workers) as pool:
        results = pool.run_many([Job(g.reference_solution, g.tests, GOALPOST, limits) for g in runnable])
    by_id: dict[str, RunResult] = {g.goalpost_id: r for g, r in zip(runnable, results, strict=False)}
    rows = []
    for goalpost in goalposts:
        result = by_id.get(goalpost.goalpost_id)
        if goalpost.domain == "math":
            rows.append(CheckRow(goalpost.goalpost_id, "valid", 0, 0))
        elif result is None:
            rows.append(CheckRow(goalpost.goalpost_id, "no_reference", 0, len(goalpost.tests)))
        else:
            reason = f"{result.reason}: {result.detail}" if result.reason else ""
            rows.append(CheckRow(goalpost.goalpost_id, "passed" if result.ok else "failed",
                                 result.tests_passed, result.tests_total, reason[:200]))
    return rows
