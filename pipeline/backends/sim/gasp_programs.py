"""The simulated model's coding tasks: stdin/stdout problems it can write, solve, and get wrong.

Each task family has a level (1 easy .. 3 hard, the student's accuracy comes from it), a question
template the sim reads back (`recognise`), a correct program, an off-by-one buggy program, and a
generator of test inputs. Programs use only what the strict sandbox policy allows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

READ_LIST = "xs = [int(t) for t in input().split()]\n"


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    level: int
    template: str  # with {d} where the family has a parameter
    pattern: re.Pattern
    correct: Callable[[int], str]
    buggy: Callable[[int], str]


def _window(d: int) -> str:
    return READ_LIST + f"w = {d}\nprint(max(sum(xs[i:i + w]) for i in range(len(xs) - w + 1)))\n"


def _window_bug(d: int) -> str:
    return READ_LIST + f"w = {d}\nprint(max(sum(xs[i:i + w]) for i in range(max(1, len(xs) - w))))\n"


def _run(strict: bool) -> str:
    compare = ">" if strict else ">="
    return (READ_LIST + "best = run = 1\nfor a, b in zip(xs, xs[1:]):\n"
            f"    run = run + 1 if b {compare} a else 1\n    best = max(best, run)\nprint(best)\n")


def _pairs(d: int, inclusive: bool) -> str:
    start = "i" if inclusive else "i + 1"
    return (READ_LIST + f"d = {d}\ncount = 0\nfor i in range(len(xs)):\n    for j in range({start}, len(xs)):\n"
            "        count += (xs[i] + xs[j]) % d == 0\nprint(count)\n")


FAMILIES = (
    Family("sum_to_n", 1, "Read one integer n from standard input and print the sum 1 + 2 + ... + n.",
           re.compile(r"print the sum 1 \+ 2 \+ \.\.\. \+ n"),
           lambda d: "n = int(input())\nprint(n * (n + 1) // 2)\n",
           lambda d: "n = int(input())\nprint(sum(range(n)))\n"),
    Family("largest", 1, "Read a line of space-separated integers and print the largest of them.",
           re.compile(r"print the largest of them"),
           lambda d: READ_LIST + "print(max(xs))\n",
           lambda d: READ_LIST + "print(sorted(xs)[-2] if len(xs) > 1 else xs[0])\n"),
    Family("count_divisible", 2, "Read a line of space-separated integers and print how many of them are "
           "divisible by {d}.", re.compile(r"how many of them are divisible by (\d+)"),
           lambda d: READ_LIST + f"print(sum(1 for x in xs if x % {d} == 0))\n",
           lambda d: READ_LIST + f"print(sum(1 for x in xs[1:] if x % {d} == 0))\n"),
    Family("window_sum", 2, "Read a line of space-separated integers and print the largest sum of {d} "
           "consecutive numbers.", re.compile(r"largest sum of (\d+) consecutive numbers"), _window, _window_bug),
    Family("increasing_run", 3, "Read a line of space-separated integers and print the length of the longest "
           "strictly increasing run of consecutive numbers.", re.compile(r"longest strictly increasing run"),
           lambda d: _run(True), lambda d: _run(False)),
    Family("pair_sums", 3, "Read a line of space-separated integers and print how many pairs i < j have "
           "a sum divisible by {d}.", re.compile(r"how many pairs i < j have a sum divisible by (\d+)"),
           lambda d: _pairs(d, False), lambda d: _pairs(d, True)),
)


def families_at(level: int) -> list[Family]:
    return [f for f in FAMILIES if f.level == level]


def write_task(level: int, rng: random.Random) -> tuple[str, str, list[str], Family, int]:
    """A new task: (question, reference program, test inputs, family, parameter)."""
    family = rng.choice(families_at(level))
    d = rng.randint(2, 5)
    return family.template.format(d=d), family.correct(d), test_inputs(family, rng), family, d


def test_inputs(family: Family, rng: random.Random) -> list[str]:
    if family.name == "sum_to_n":
        return [f"{n}\n" for n in [1, 2, *(rng.randint(3, 1000) for _ in range(5))]]
    cases = []
    for _ in range(7):
        size = rng.randint(6, 12)
        cases.append(" ".join(str(rng.randint(-20, 40)) for _ in range(size)) + "\n")
    cases.append("5 4 3 9 9 10 11 12 2 1\n")  # a run at the end, repeats, falls: catches the usual slips
    return cases


def recognise(question: str) -> tuple[Family, int] | None:
    """The family and parameter of a question the sim wrote; None for any other text."""
    for family in FAMILIES:
        match = family.pattern.search(question)
        if match:
            return family, int(match.group(1)) if match.groups() else 0
    return None
