"""Simulated-model tasks for the DARC prompts: questioner, teacher (with document), student.

The questioner writes DARC-format JSON around a grounded arithmetic chain (`darc_puzzles`), harder
at higher levels; teacher and student answer in `\\boxed{}`, right with the probability their role's
accuracy table gives for the question's level, in varied equivalent spellings, and plausibly wrong
otherwise. Malformed output of every kind the validators know appears at `malformed_rate`.
"""

from __future__ import annotations

import json
import random
import re
from fractions import Fraction

from pipeline.answers import format_number
from pipeline.backends import Chat
from pipeline.backends.sim import darc_puzzles as puzzles
from pipeline.config import SimModel
from pipeline.prompts import (
    DOCUMENT_BEGIN,
    DOCUMENT_END,
    QUESTION_BEGIN,
    QUESTION_END,
    QUESTIONER_MARKER,
    STUDENT_MARKER,
    TEACHER_MARKER,
    between,
)

QUESTION_FAULTS = ("broken_json", "missing_keys", "truncated", "meta_reference", "copied", "wrong_type",
                   "missing_options", "invalid_unicode", "too_short")
ANSWER_FAULTS = ("no_box", "truncated", "unbalanced_box")
_CHOICE_TYPES = ("categorical", "boolean")
_LEVEL_RE = "Difficulty: level "
_TYPE_RE = "Answer type: "


def true_answer(question_text: str) -> str:
    """The true (canonical) answer of a question the sim wrote; ValueError for any other text."""
    puzzle = puzzles.solve(question_text)
    if puzzle is None:
        raise ValueError("not a question written by the sim")
    return puzzle.answer


def question_level(question_text: str) -> int:
    puzzle = puzzles.solve(question_text)
    if puzzle is None:
        raise ValueError("not a question written by the sim")
    return puzzle.level


class _Questioner:
    def matches(self, chat: Chat) -> bool:
        return QUESTIONER_MARKER in chat[-1]["content"]

    def respond(self, chat: Chat, rng: random.Random, config: SimModel) -> tuple[str, str]:
        prompt = chat[-1]["content"]
        document = between(prompt, DOCUMENT_BEGIN, DOCUMENT_END) or ""
        level = int(prompt.split(_LEVEL_RE, 1)[1].split(" ", 1)[0])
        answer_type = prompt.split(_TYPE_RE, 1)[1].split(".", 1)[0]
        fault = rng.choice(QUESTION_FAULTS) if rng.random() < config.malformed_rate else None
        return question_json(document, level, answer_type, rng, fault)


def question_json(document: str, level: int, answer_type: str, rng: random.Random,
                  fault: str | None = None) -> tuple[str, str]:
    """The questioner's reply (text, finish_reason), well formed or with one planted fault."""
    puzzle = puzzles.write_puzzle(document, level, answer_type, rng)
    answer: object = {"integer": lambda a: int(a), "float": lambda a: float(a),
                      "boolean": lambda a: a == "true"}.get(answer_type, str)(puzzle.answer)
    partial = puzzles.evaluate(puzzle.start, puzzle.steps[:1]) if puzzle.start is not None else None
    data = {
        "analysis": f"Level {level}: {len(puzzle.steps)} operations on figures taken from the record; "
                    f"working them through gives {puzzle.answer}.",
        "question": puzzle.question,
        "intermediate_results": {"step_1": f"first operation gives {partial}" if partial is not None
                                 else "first operation applied to x", "final": str(puzzle.answer)},
        "answer": answer,
        "solving_time_estimate": 2 * level,
        "required_concepts": ["arithmetic", "order of operations"],
        "potential_errors": ["skipping a step", "applying an operation with the wrong sign"],
    }
    finish = "stop"
    if fault == "missing_keys":
        del data["potential_errors"]
    elif fault == "meta_reference":
        data["question"] = "According to the passage, " + puzzle.question[0].lower() + puzzle.question[1:]
    elif fault == "copied":
        span = " ".join(document.split())[:400]
        data["question"] = f"{span} What is the first number above?"
    elif fault == "missing_options" and answer_type == "categorical":
        data["question"], data["answer"] = puzzle.question.split("\n")[0], "A"
    elif fault in ("wrong_type", "missing_options"):  # no options to drop: a wrongly typed answer
        data["answer"] = 12 if answer_type in ("string", "categorical") else "a value near twelve"
    elif fault == "invalid_unicode":
        data["question"] = puzzle.question.replace(" ", " \ufffd", 1)
    elif fault == "too_short":
        data["question"] = "Which value?"
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if fault == "broken_json":
        text = text.replace('",\n', '"\n', 1)
    elif fault == "truncated":
        text, finish = text[: len(text) // 2], "length"
    roll = rng.random()  # well-formed replies sometimes come fenced or with a role prefix
    if roll < 0.15:
        text = f"```json\n{text}\n```"
    elif roll < 0.25:
        text = "assistant: " + text
    return text, finish


class _Solver:
    def __init__(self, marker: str, with_document: bool) -> None:
        self.marker, self.with_document = marker, with_document

    def matches(self, chat: Chat) -> bool:
        return self.marker in chat[-1]["content"]

    def respond(self, chat: Chat, rng: random.Random, config: SimModel) -> tuple[str, str]:
        question = between(chat[-1]["content"], QUESTION_BEGIN, QUESTION_END) or ""
        puzzle = puzzles.solve(question)
        if puzzle is None:  # not one of ours: a confident guess
            return f"I am not sure. \\boxed{{{rng.randint(0, 99)}}}", "stop"
        table = config.accuracy_with_document if self.with_document else config.accuracy_without_document
        accuracy = table.get(puzzle.level, table[max(table)] if table else 0.5)
        right = rng.random() < accuracy
        value = puzzles.evaluate(puzzle.start, puzzle.steps) if right else wrong_value(puzzle, rng)
        answer = puzzle.answer
        if not right:
            answer = puzzles.answer_of(puzzle, value) if puzzle.answer_type not in _CHOICE_TYPES else ""
            if answer in ("", puzzle.answer):  # a choice, or a slip that landed on the truth
                answer = wrong_answer(puzzle, rng)
        fault = rng.choice(ANSWER_FAULTS) if rng.random() < config.malformed_rate else None
        text = working(puzzle, value, rng, guess=fault is None)
        text += f" So the answer is \\boxed{{{spelling(puzzle, answer, rng)}}}."
        if fault is not None:
            if fault == "no_box":
                return text.replace("\\boxed{", "").replace("}.", "."), "stop"
            if fault == "unbalanced_box":
                return text[:-2], "stop"
            return text[: max(1, len(text) // 2)], "length"
        return text, "stop"


def wrong_value(puzzle: puzzles.Puzzle, rng: random.Random):
    return puzzles.slip(puzzle.start, puzzle.steps, rng)


def wrong_answer(puzzle: puzzles.Puzzle, rng: random.Random) -> str:
    """A wrong answer when the slipped chain still gives the true one (categorical, boolean...)."""
    kind = puzzle.answer_type
    if kind == "categorical":
        letters = [chr(65 + i) for i in range(len(puzzle.extra["options"]))]
        return rng.choice([x for x in letters if x != puzzle.answer])
    if kind == "boolean":
        return "false" if puzzle.answer == "true" else "true"
    if kind == "string":
        return rng.choice([t for t in puzzle.extra["terms"] if t != puzzle.answer] or ["unknown"])
    return puzzle.answer + "1"  # numbers and expressions: a digit too many


def working(puzzle: puzzles.Puzzle, value, rng: random.Random, guess: bool = True) -> str:
    """Some visible reasoning; now and then an early boxed guess (the last box must win)."""
    head = f"There are {len(puzzle.steps)} operations to apply in order."
    if guess and rng.random() < 0.1:
        head += f" A first rough guess would be \\boxed{{{rng.randint(1, 9)}}}, but let us compute."
    shown = format_number(value) if isinstance(value, Fraction) else puzzles.format_linear(*value)
    return f"{head} Working through them gives {shown}."


def spelling(puzzle: puzzles.Puzzle, answer: str, rng: random.Random) -> str:
    """One of several equivalent ways of writing an answer (12, 12.0, \\frac{24}{2}; (B); Yes)."""
    kind = puzzle.answer_type
    if kind in ("integer", "float"):
        value = Fraction(answer)
        forms = [answer, f"{float(value)}", f"\\frac{{{value.numerator * 2}}}{{{value.denominator * 2}}}"]
        if kind == "integer" and abs(value) >= 1000:
            forms.append(f"{int(value):,}")
        return rng.choice(forms)
    if kind == "categorical":
        return rng.choice([answer, f"({answer})", f"\\text{{{answer}}}", f"{answer}."])
    if kind == "boolean":
        return rng.choice([answer, answer.capitalize(), "yes" if answer == "true" else "no"])
    if kind == "string":
        return rng.choice([answer, answer.capitalize(), f"\\text{{{answer}}}", f"the {answer}"])
    forms = [answer, _swapped(answer)]
    if answer[0].isdigit():
        forms.append(answer.replace("x", " \\cdot x", 1))
    return rng.choice(forms)


def _swapped(expression: str) -> str:
    """m x + c written as c + m x: equivalent, but only math-verify sees it (e.g. 6x-30 -> -30+6x)."""
    match = re.fullmatch(r"(-?[\d./]*x)([+-][\d./]+)", expression)
    if not match:
        return expression
    head, tail = match.groups()
    return f"{tail.lstrip('+')}{head if head.startswith('-') else '+' + head}"


TASKS = (_Questioner(), _Solver(TEACHER_MARKER, True), _Solver(STUDENT_MARKER, False))
