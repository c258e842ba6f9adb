"""The simulated questioner's questions: grounded arithmetic chains the sim can always solve again.

A question takes numbers and words from the document and chains operations on them; the number of
operations is the difficulty (level L has 2L - 1 of them, DARC's "reasoning steps"), so the level is
recoverable from the question text alone. Each answer type wraps the same chain differently.
`solve(question_text)` reads any question written here back into its true answer and level.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction

from pipeline.answers import format_number

FLOAT_DIVISOR = 8  # float questions end with "then divide by 8": an exact answer to 3 decimals
TERMS = 5
# Several wordings of the same chain, so that the sim's questions are not near-duplicates of each other.
OPS = {"add": ("add", "increase it by", "raise it by"),
       "subtract": ("subtract", "decrease it by", "take away"),
       "multiply by": ("multiply by", "multiply it by", "scale it by a factor of"),
       "divide by": ("divide by",)}
_VERB = {phrase: op for op, phrases in OPS.items() for phrase in phrases}
JOINERS = (", then ", "; next, ", ", after that ")
STARTS = ("Start with", "Begin with", "Take")
INTROS = ("The figures below come from a record about {0} and {1}.",
          "A study of {0} reports several quantities, some tied to {1}.",
          "Consider a ledger kept on {0}, {1} and {2}.",
          "An engineer reviewing {2} notes figures about {0}.",
          "In a report on {1}, a few numbers concerning {2} stand out.")
ASKS = ("What number results?", "What is the final number?", "Which number do you end up with?")
_PHRASE = "|".join(sorted(map(re.escape, _VERB), key=len, reverse=True))
_JOIN = "|".join(map(re.escape, JOINERS))
_START = re.compile(rf"(?:{'|'.join(STARTS)}) (x|-?\d+)((?:(?:{_JOIN})(?:{_PHRASE}) -?\d+)*)")
_OP = re.compile(rf"(?:{_JOIN})({_PHRASE}) (-?\d+)")
_OPTION = re.compile(r"^([A-Z])\. (-?\d+)$", re.M)
_THRESHOLD = re.compile(r"Is the result greater than (-?\d+)\?")
_TERMS = re.compile(r"ordered list of terms: ([a-z, ]+)\. ")
_NUMBERS = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\w,])|(?<![\w.,])\d{1,6}(?![\w,])")
_WORDS = re.compile(r"\b[a-z]{6,14}\b")
_FALLBACK_WORDS = ["harbour", "lantern", "meadow", "quarry", "furnace", "orchard", "granite"]


@dataclass(slots=True)
class Puzzle:
    """What the sim knows about one of its questions."""

    question: str
    answer: str  # canonical (see `pipeline.answers.normalize`)
    level: int
    answer_type: str
    steps: list[tuple[str, int]]  # the operations, in order
    start: int | None  # None when the chain starts from x (expression)
    extra: dict  # options, terms or threshold, per answer type


def document_numbers(text: str) -> list[int]:
    """Whole numbers written in the document, in order, without repeats (at most 6 digits)."""
    values = [int(m.replace(",", "")) for m in _NUMBERS.findall(text)]
    return [v for v in dict.fromkeys(values) if 0 < v <= 999_999]


def document_words(text: str) -> list[str]:
    return list(dict.fromkeys(_WORDS.findall(text.lower())))


def write_puzzle(document: str, level: int, answer_type: str, rng: random.Random) -> Puzzle:
    """A new question on this document at this level and answer type."""
    numbers = document_numbers(document) or [rng.randint(2, 99) for _ in range(6)]
    words = document_words(document)
    topic = (words[:3] + _FALLBACK_WORDS)[:3] if len(words) >= 3 else _FALLBACK_WORDS[-3:]
    steps = []
    for _ in range(2 * level - 1):
        op = rng.choice(["add", "subtract", "multiply by"])
        steps.append((op, rng.randint(2, 9) if op == "multiply by" else rng.choice(numbers)))
    start = None if answer_type == "expression" else rng.choice(numbers)
    if answer_type == "float":
        steps.append(("divide by", FLOAT_DIVISOR))
    chain = f"{rng.choice(STARTS)} {'x' if start is None else start}" + "".join(
        f"{rng.choice(JOINERS)}{rng.choice(OPS[op])} {v}" for op, v in steps)
    intro = rng.choice(INTROS).format(*topic)
    value = evaluate(start, steps)
    extra: dict = {}
    if answer_type in ("integer", "float"):
        question = f"{intro} {chain}. {rng.choice(ASKS)}"
        if answer_type == "float":
            question = question[:-1] + " (to three decimal places)?"
    elif answer_type == "categorical":
        options = wrong_values(start, steps, value, rng, 3) + [value]
        rng.shuffle(options)
        extra["options"] = options
        lines = "\n".join(f"{chr(65 + i)}. {format_number(v)}" for i, v in enumerate(options))
        question = f"{intro} {chain}. Which value results?\n{lines}"
    elif answer_type == "boolean":
        extra["threshold"] = int(value) + rng.choice([-7, -3, -1, 1, 4, 9])
        question = f"{intro} {chain}. Is the result greater than {extra['threshold']}?"
    elif answer_type == "string":
        terms = (words[3:] + _FALLBACK_WORDS)[:TERMS]
        extra["terms"] = terms
        question = (f"{intro} Consider the ordered list of terms: {', '.join(terms)}. {chain}, and call "
                    f"the result r. Which term is at position (r mod {TERMS}) + 1 of the list?")
    elif answer_type == "expression":
        question = f"Let x be an unknown quantity. {intro} {chain}. Which expression in x results?"
    else:
        raise ValueError(f"the sim cannot write {answer_type!r} questions")
    puzzle = Puzzle(question, "", level, answer_type, steps, start, extra)
    puzzle.answer = answer_of(puzzle, value)
    return puzzle


def evaluate(start: int | None, steps: list[tuple[str, int]]) -> Fraction | tuple[Fraction, Fraction]:
    """The chain's value; from x it is (m, c) for m*x + c."""
    m, c = (Fraction(1), Fraction(0)) if start is None else (Fraction(0), Fraction(start))
    for op, v in steps:
        if op == "add":
            c += v
        elif op == "subtract":
            c -= v
        elif op == "multiply by":
            m, c = m * v, c * v
        else:
            m, c = m / v, c / v
    return (m, c) if start is None else c


def answer_of(puzzle: Puzzle, value) -> str:
    """The canonical answer a chain value gives for this puzzle's answer type."""
    kind = puzzle.answer_type
    if kind in ("integer", "float"):
        return format_number(value)
    if kind == "categorical":
        options = puzzle.extra["options"]
        return chr(65 + options.index(value)) if value in options else "Z"
    if kind == "boolean":
        return "true" if value > puzzle.extra["threshold"] else "false"
    if kind == "string":
        return puzzle.extra["terms"][int(value) % TERMS]
    return format_linear(*value)


def format_linear(m: Fraction, c: Fraction) -> str:
    head = "x" if m == 1 else "-x" if m == -1 else f"{format_number(m)}x"
    if c == 0:
        return head
    return f"{head}{'+' if c > 0 else '-'}{format_number(abs(c))}"


def wrong_values(start, steps, value, rng: random.Random, count: int) -> list:
    """Plausible wrong chain values (a skipped step, a swapped sign, a slip), distinct from value."""
    found: list = []
    for _ in range(50):
        if len(found) == count:
            break
        candidate = slip(start, steps, rng)
        if candidate != value and candidate not in found:
            found.append(candidate)
    while len(found) < count:
        found.append(value + len(found) + 1)
    return found


def slip(start, steps: list[tuple[str, int]], rng: random.Random):
    """One plausible mistake on the chain."""
    steps = list(steps)
    mistake = rng.choice(["skip", "sign", "factor", "off"])
    index = rng.randrange(len(steps))
    op, v = steps[index]
    if mistake == "skip" and len(steps) > 1:
        steps.pop(index)
    elif mistake == "sign" and op in ("add", "subtract"):
        steps[index] = ("subtract" if op == "add" else "add", v)
    elif mistake == "factor" and op == "multiply by":
        steps[index] = (op, v + rng.choice([-1, 1]))
    else:
        value = evaluate(start, steps)
        delta = rng.choice([1, 2, 3, 10, 100]) * rng.choice([-1, 1])
        return (value[0], value[1] + delta) if start is None else value + delta
    return evaluate(start, steps)


def solve(question: str) -> Puzzle | None:
    """Read a sim-written question back: its true answer and level; None if not one of ours."""
    match = _START.search(question)
    if not match:
        return None
    start = None if match.group(1) == "x" else int(match.group(1))
    steps = [(_VERB[phrase], int(v)) for phrase, v in _OP.findall(match.group(2))]
    level = max(1, (sum(op != "divide by" for op, _ in steps) + 1) // 2)
    extra: dict = {}
    if start is None:
        kind = "expression"
    elif options := _OPTION.findall(question):
        kind, extra["options"] = "categorical", [Fraction(v) for _, v in options]
    elif threshold := _THRESHOLD.search(question):
        kind, extra["threshold"] = "boolean", int(threshold.group(1))
    elif terms := _TERMS.search(question):
        kind, extra["terms"] = "string", terms.group(1).split(", ")
    else:
        kind = "float" if steps and steps[-1][0] == "divide by" else "integer"
    puzzle = Puzzle(question, "", level, kind, steps, start, extra)
    puzzle.answer = answer_of(puzzle, evaluate(start, steps))
    return puzzle
