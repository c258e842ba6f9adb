"""GASP prompt wording: goalpost probes, code answers, lemma and lift writing; and reading replies.

Math variants are labelled and measured with the DARC core's own teacher/student prompts
(`pipeline.prompts`); the prompts here are the ones only GASP needs. Each opens with a fixed marker
line, so a model (and the simulated model) can tell the tasks apart.
"""

from __future__ import annotations

import json
import re

from pipeline.backends import Chat
from pipeline.records import Rejected

PROBE_MARKER = "Solve the problem below. Give your final answer in \\boxed{}."
CODE_MARKER = "Write a Python program that solves the task below."
LEMMA_MARKER = "Write an easier variant (a lemma) of the problem below."
LIFT_MARKER = "Write a harder variant (a lift) of the problem below."
PROBLEM_BEGIN, PROBLEM_END = "<problem>", "</problem>"
PASSAGE_BEGIN, PASSAGE_END = "<passage>", "</passage>"
AXES = ("representation", "algorithm")
AXIS_RULES = {
    "representation": "Change only how the input or output is represented (format, encoding, units, "
                      "framing); keep the underlying method.",
    "algorithm": "Change the method needed (fewer or more steps, a simpler or richer algorithm); keep "
                 "the input and output format.",
}
FUNCTION_LINE = "Define the function `{entry_point}` exactly as specified; do not read input or print."
STDIO_LINE = "Read the input from standard input and print the answer to standard output."

INVALID_JSON = "invalid_json"
MISSING_KEYS = "missing_keys"
TRUNCATED = "truncated"
NO_PROGRAM = "no_program"
NO_TEST_INPUTS = "no_test_inputs"
MATH_KEYS = ("axis", "question", "answer")
CODE_KEYS = ("axis", "question", "program", "test_inputs")
_FENCE = re.compile(r"```(?:python|py|json)?\s*\n(.*?)```", re.S)


def probe_chat(question: str) -> Chat:
    """A math goalpost put to the student as it is."""
    return [{"role": "user", "content": f"{PROBE_MARKER}\n\n{PROBLEM_BEGIN}\n{question}\n{PROBLEM_END}"}]


def code_chat(question: str, entry_point: str = "") -> Chat:
    """A coding task (goalpost or code variant) put to the student: one program in a python fence."""
    how = FUNCTION_LINE.format(entry_point=entry_point) if entry_point else STDIO_LINE
    text = (f"{CODE_MARKER}\n{how}\nAnswer with one complete program in a ```python block.\n\n"
            f"{PROBLEM_BEGIN}\n{question}\n{PROBLEM_END}")
    return [{"role": "user", "content": text}]


def _format(domain: str) -> str:
    if domain == "math":
        return ('Answer with one JSON object: {"axis": "...", "question": "...", "answer": "..."} where '
                "answer is the exact final answer.")
    return ('Answer with one JSON object: {"axis": "...", "question": "...", "program": "...", '
            '"test_inputs": ["...", ...]} where program is a complete Python program reading standard '
            "input and printing the answer (standard library only), and test_inputs are 5 to 10 stdin "
            "strings covering edge cases.")


def lemma_chat(goalpost_question: str, domain: str, axis: str, passages: list[str]) -> Chat:
    """The teacher sees the hard problem and grounding passages, and writes an easier variant."""
    grounding = "".join(f"\n{PASSAGE_BEGIN}\n{p}\n{PASSAGE_END}" for p in passages)
    text = (f"{LEMMA_MARKER}\nDomain: {domain}\nAxis: {axis}. {AXIS_RULES[axis]}\n"
            "The variant must be on the same theme, clearly easier, and self-contained.\n"
            f"{_format(domain)}\n\n{PROBLEM_BEGIN}\n{goalpost_question}\n{PROBLEM_END}"
            + (f"\n\nBackground passages:{grounding}" if grounding else ""))
    return [{"role": "user", "content": text}]


def lift_chat(lemma_question: str, domain: str, axis: str) -> Chat:
    """The teacher sees the lemma ONLY (never the goalpost) and writes a harder variant of it."""
    text = (f"{LIFT_MARKER}\nDomain: {domain}\nAxis: {axis}. {AXIS_RULES[axis]}\n"
            "The variant must be on the same theme, one step harder, and self-contained.\n"
            f"{_format(domain)}\n\n{PROBLEM_BEGIN}\n{lemma_question}\n{PROBLEM_END}")
    return [{"role": "user", "content": text}]


def parse_variant(text: str, finish_reason: str, domain: str) -> dict:
    """The teacher's JSON reply as a dict with the keys of its domain; `Rejected` otherwise."""
    if finish_reason != "stop":
        raise Rejected(TRUNCATED, "the reply hit the token limit")
    fenced = _FENCE.search(text)
    body = fenced.group(1) if fenced else text
    start, end = body.find("{"), body.rfind("}")
    try:
        data = json.loads(body[start:end + 1]) if start >= 0 else None
    except json.JSONDecodeError as error:
        raise Rejected(INVALID_JSON, error.msg) from None
    if not isinstance(data, dict):
        raise Rejected(INVALID_JSON, "no JSON object in the reply")
    keys = MATH_KEYS if domain == "math" else CODE_KEYS
    missing = [k for k in keys if k not in data or data[k] in (None, "", [])]
    if missing:
        if domain == "code" and missing == ["test_inputs"]:
            raise Rejected(NO_TEST_INPUTS, "test_inputs is empty")
        raise Rejected(MISSING_KEYS, ", ".join(missing))
    if domain == "code":
        inputs = data["test_inputs"]
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise Rejected(NO_TEST_INPUTS, "test_inputs must be a list of strings")
    return {k: data[k] if k == "test_inputs" else str(data[k]).strip() for k in keys}


def extract_program(text: str) -> str:
    """The last ```python block of a reply, or the whole reply when it has no fence."""
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else text
