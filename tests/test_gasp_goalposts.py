"""Goalpost files: the formats read, the errors that name file/row/field, and `goalposts check`."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flows.cli import app
from pipeline.goalposts import GoalpostError, check_goalposts, read_goalposts
from tests.reference_data import HUMANEVAL

ROWS = [
    {"id": "m1", "domain": "math", "question": "What is 6 * 7?", "answer": 42},
    {"id": "c1", "domain": "code", "question": "Print twice the number read.",
     "tests": [{"input": "2\n", "output": "4\n"}, {"input": "5\n", "output": "10"}],
     "reference_solution": "print(int(input()) * 2)\n"},
    {"id": "c2", "domain": "code", "question": "add(a, b)", "entry_point": "add",
     "tests": json.dumps([{"input": "1\n2", "output": "3", "testtype": "functional"}]),
     "reference_solution": "def add(a, b):\n    return a + b\n"},
    {"id": "c3", "domain": "code", "question": "sub(a, b)", "entry_point": "sub",
     "tests": ["assert sub(3, 1) == 2", "assert sub(0, 1) == -1"]},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_reads_every_supported_row_format(tmp_path):
    goalposts = read_goalposts(write_jsonl(tmp_path / "g.jsonl", ROWS))
    assert [g.domain for g in goalposts] == ["math", "code", "code", "code"]
    assert goalposts[0].answer == "42"
    assert [t.kind for t in goalposts[1].tests] == ["stdio", "stdio"]
    assert goalposts[2].tests[0].source == "assert add(*[1, 2]) == 3\n"
    assert len(goalposts[3].tests) == 2


def test_reads_parquet_and_gzip(tmp_path):
    rows = [{k: (json.dumps(v) if k == "tests" and not isinstance(v, str) else v) for k, v in r.items()}
            for r in ROWS[1:2]]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "g.parquet")
    with gzip.open(tmp_path / "g.jsonl.gz", "wt") as out:
        out.write(json.dumps(ROWS[0]) + "\n")
    assert read_goalposts(tmp_path / "g.parquet")[0].goalpost_id == "c1"
    assert read_goalposts(tmp_path / "g.jsonl.gz")[0].goalpost_id == "m1"


@pytest.mark.parametrize("row, message", [
    ({"domain": "math", "question": "q", "answer": "1"}, "row 2: field 'id': missing"),
    ({"id": "x", "domain": "chess", "question": "q"}, "row 2: field 'domain'"),
    ({"id": "x", "domain": "math", "question": "q"}, "row 2: field 'answer'"),
    ({"id": "x", "domain": "math", "question": "", "answer": "1"}, "row 2: field 'question'"),
    ({"id": "x", "domain": "code", "question": "q", "tests": []}, "row 2: field 'tests'"),
    ({"id": "x", "domain": "code", "question": "q", "tests": [{"input": "1"}]}, "row 2: field 'tests'[0]"),
    ({"id": "x", "domain": "code", "question": "q", "tests": ["assert f(1)"]}, "assert tests need 'entry_point'"),
    ({"id": "m1", "domain": "math", "question": "q", "answer": "1"}, "row 2: field 'id': 'm1' repeats row 1"),
])
def test_bad_rows_name_file_row_and_field(tmp_path, row, message):
    path = write_jsonl(tmp_path / "bad.jsonl", [ROWS[0], row])
    with pytest.raises(GoalpostError, match="bad.jsonl") as error:
        read_goalposts(path)
    assert message in str(error.value)


def test_broken_json_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{not json\n")
    with pytest.raises(GoalpostError, match="row 2: not valid JSON"):
        read_goalposts(path)


def test_check_runs_references_in_the_sandbox(tmp_path):
    broken = dict(ROWS[1], id="c9", reference_solution="print(int(input()) * 3)\n")
    rows = check_goalposts(read_goalposts(write_jsonl(tmp_path / "g.jsonl", [*ROWS, broken])))
    by_id = {r.goalpost_id: r for r in rows}
    assert by_id["m1"].status == "valid"
    assert (by_id["c1"].status, by_id["c1"].tests_passed) == ("passed", 2)
    assert by_id["c2"].status == "passed"
    assert by_id["c3"].status == "no_reference"
    assert by_id["c9"].status == "failed" and by_id["c9"].reason.startswith("wrong_answer")


def test_cli_check_reports_all_of_humaneval_passing():
    result = CliRunner().invoke(app, ["goalposts", "check", str(HUMANEVAL), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 164 and all(r["status"] == "passed" and r["tests_passed"] == 1 for r in rows)


def test_cli_check_exits_non_zero_on_a_failing_reference(tmp_path):
    bad = dict(ROWS[1], reference_solution="print('nope')\n")
    result = CliRunner().invoke(app, ["goalposts", "check", str(write_jsonl(tmp_path / "g.jsonl", [bad]))])
    assert result.exit_code == 1
    assert "c1" in result.stdout and "failed" in result.stdout and "wrong_answer" in result.stdout


def test_cli_check_bad_file_is_one_line_exit_2(tmp_path):
    import subprocess
    import sys

    path = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "domain": "code", "question": "q"}])
    done = subprocess.run([sys.executable, "-c", "from flows.cli import main; main()", "goalposts", "check",
                           str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error:") and "row 1: field 'tests'" in done.stderr
