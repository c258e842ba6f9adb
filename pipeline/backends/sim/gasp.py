"""Simulated-model tasks for the GASP prompts: goalpost probes, programs, lemma and lift writing.

- Probe (math): short arithmetic goalposts ("What is 6 * 7?") are solved at the level-1 student
  accuracy; anything longer or unrecognised is a hard goalpost and always answered wrongly, so its
  pass@k is 0 and a ladder gets built for it.
- Programs: for the sim's own coding tasks (`gasp_programs`) the program is correct with the student
  accuracy of the task's level, otherwise an off-by-one variant; for any other task (real goalposts
  such as HumanEval) it writes a stub that fails.
- Lemmas/lifts (the teacher): JSON; math variants are DARC-style arithmetic chains (`darc_puzzles`,
  so the DARC sim teacher and student can solve them at their level's accuracy), lemmas mostly at
  level 2 (sometimes 1: too easy, rejected by the band), lifts one level above their lemma; code
  variants come from `gasp_programs` the same way, with a reference program and test inputs.
  Faults at `malformed_rate`: broken JSON, missing keys, truncation, and for code a banned import, a
  nondeterministic or a crashing reference program.
"""

from __future__ import annotations

import ast
import json
import operator
import random
import re

from pipeline.backends import Chat
from pipeline.backends.sim import darc_puzzles as puzzles
from pipeline.backends.sim import gasp_programs as programs
from pipeline.config import SimModel
from pipeline.gasp_prompts import (
    CODE_MARKER,
    LEMMA_MARKER,
    LIFT_MARKER,
    PROBE_MARKER,
    PROBLEM_BEGIN,
    PROBLEM_END,
)
from pipeline.prompts import between

HARD_QUESTION_CHARS = 80  # longer math goalposts count as hard for the simulated student
TEXT_FAULTS = ("broken_json", "missing_keys", "truncated")
CODE_FAULTS = ("banned_import", "nondeterministic", "crashing_reference")
_ARITHMETIC = re.compile(r"^\s*(?:what is|compute|calculate)\s+([\d\s+\-*/().]+?)\s*\??\s*$", re.I)
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}
_ENTRY = re.compile(r"Define the function `([A-Za-z_]\w*)`")


def _problem(chat: Chat) -> str:
    return between(chat[-1]["content"], PROBLEM_BEGIN, PROBLEM_END) or ""


def _accuracy(config: SimModel, level: int) -> float:
    table = config.accuracy_without_document
    return table.get(level, table[max(table)] if table else 0.5)


def arithmetic_value(question: str) -> int | None:
    """The value of a short 'What is 6 * 7?' question; None for anything else (a hard goalpost)."""
    match = _ARITHMETIC.match(question)
    if len(question) > HARD_QUESTION_CHARS or not match:
        return None
    try:
        return _evaluate(ast.parse(match.group(1).replace("/", "//"), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, KeyError):
        return None


def _evaluate(node: ast.AST) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.BinOp):
        return _OPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise ValueError("not arithmetic")


class _Prober:
    def matches(self, chat: Chat) -> bool:
        return PROBE_MARKER in chat[-1]["content"]

    def respond(self, chat: Chat, rng: random.Random, config: SimModel) -> tuple[str, str]:
        value = arithmetic_value(_problem(chat))
        if value is not None and rng.random() < _accuracy(config, 1):
            return f"Computing directly gives {value}. \\boxed{{{value}}}", "stop"
        guess = value + rng.choice([-1, 1]) if value is not None else rng.randint(10**6, 10**7)
        return f"This is hard; my best attempt gives \\boxed{{{guess}}}", "stop"


class _Coder:
    def matches(self, chat: Chat) -> bool:
        return CODE_MARKER in chat[-1]["content"]

    def respond(self, chat: Chat, rng: random.Random, config: SimModel) -> tuple[str, str]:
        if rng.random() < config.malformed_rate:
            return "I would loop over the input and count, roughly like that.", "stop"
        known = programs.recognise(_problem(chat))
        if known is None:  # a real goalpost: beyond the simulated student
            entry = _ENTRY.search(chat[-1]["content"])
            body = f"def {entry.group(1)}(*args, **kwargs):\n    return None\n" if entry else "print(0)\n"
            return f"A first attempt:\n```python\n{body}```", "stop"
        family, d = known
        right = rng.random() < _accuracy(config, family.level)
        code = family.correct(d) if right else family.buggy(d)
        return f"Here is my solution.\n```python\n{code}```", "stop"


class _VariantWriter:
    def __init__(self, marker: str, role: str) -> None:
        self.marker, self.role = marker, role

    def matches(self, chat: Chat) -> bool:
        return self.marker in chat[-1]["content"]

    def respond(self, chat: Chat, rng: random.Random, config: SimModel) -> tuple[str, str]:
        prompt = chat[-1]["content"]
        domain = "code" if "\nDomain: code" in prompt else "math"
        axis = "algorithm" if "\nAxis: algorithm" in prompt else "representation"
        problem = _problem(chat)
        level = self._level(domain, problem, rng)
        if domain == "math":
            material = prompt[prompt.find(PROBLEM_BEGIN):]  # the problem and any grounding passages
            puzzle = puzzles.write_puzzle(material, level, "integer", rng)
            data = {"axis": axis, "question": puzzle.question, "answer": puzzle.answer}
        else:
            question, program, inputs, _, _ = programs.write_task(level, rng)
            data = {"axis": axis, "question": question, "program": program, "test_inputs": inputs}
        return _with_faults(data, domain, rng, config)

    def _level(self, domain: str, problem: str, rng: random.Random) -> int:
        if self.role == "lemma":
            return rng.choice([1, 2, 2, 2])
        if domain == "math":
            known = puzzles.solve(problem)
            below = known.level if known else 2
        else:
            recognised = programs.recognise(problem)
            below = recognised[0].level if recognised else 2
        return min(3, below + 1) if rng.random() < 0.75 else below


def _with_faults(data: dict, domain: str, rng: random.Random, config: SimModel) -> tuple[str, str]:
    fault = None
    if rng.random() < config.malformed_rate:
        fault = rng.choice(TEXT_FAULTS + (CODE_FAULTS if domain == "code" else ()))
    if fault == "missing_keys":
        data.pop("answer" if domain == "math" else "program")
    elif fault == "banned_import":
        data["program"] = "import os\n" + data["program"]
    elif fault == "nondeterministic":
        data["program"] += "import random\nprint(random.randint(0, 10**9))\n"
    elif fault == "crashing_reference":
        data["program"] = "import sys\nsys.setrecursionlimit(50)\n" + data["program"] + "print(1 // 0)\n"
    text = json.dumps(data, indent=2)
    if fault == "broken_json":
        return text.replace('",\n', '"\n', 1), "stop"
    if fault == "truncated":
        return text[: len(text) // 2], "length"
    return (f"```json\n{text}\n```" if rng.random() < 0.3 else text), "stop"


TASKS = (_Prober(), _Coder(), _VariantWriter(LEMMA_MARKER, "lemma"), _VariantWriter(LIFT_MARKER, "lift"))
