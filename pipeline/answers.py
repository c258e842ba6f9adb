r"""Final answers: extraction from `\boxed{}`, normalisation per answer type, equivalence.

Normalisation is the fast path: it maps the common equivalent spellings of an answer (12, 12.0,
\frac{24}{2}; (B), \text{B}; Yes, true) to one canonical string, so that voting can group answers by
string. `math-verify` (slow: milliseconds a pair) is the slow path, used only when two answers
differ after normalisation and at least one of them is not a plain number.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction
from functools import lru_cache

ANSWER_TYPES = ("integer", "float", "categorical", "string", "boolean", "expression")
MATH_TYPES = frozenset({"integer", "float", "expression"})  # where math-verify may merge groups
MAX_ANSWER_CHARS = 200  # longer "answers" are not final answers; also bounds math-verify's work
MATH_VERIFY_TIMEOUT_S = 5

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_WRAPPERS = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FRAC = re.compile(r"^([+-]?)\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_LETTER = re.compile(r"^(?:option|choice|answer)?\s*\(?([A-Za-z])\)?\s*(?:[.):]\s*.*)?$", re.IGNORECASE)
_TRUE = frozenset({"true", "yes", "t", "y", "correct"})
_FALSE = frozenset({"false", "no", "f", "n", "incorrect"})
_ARTICLES = re.compile(r"^(?:the|a|an)\s+")
_IMPLICIT_PRODUCT = re.compile(r"(\d)\*([A-Za-z])")  # 6*x -> 6x
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_LETTER_RUN = re.compile(r"[A-Za-z]{3,}")
_FUNCTIONS = frozenset({"sin", "cos", "tan", "log", "exp", "sqrt", "arcsin", "arccos", "arctan", "sinh",
                        "cosh", "tanh", "min", "max", "abs"})


def last_boxed(text: str) -> str | None:
    r"""Content of the last `\boxed{...}` whose braces balance; None when there is none."""
    starts = [m.end() for m in _BOX.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for position in range(start, len(text)):
            char = text[position]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    return text[start:position].strip()
    return None


def _clean(answer: str) -> str:
    text = answer.strip().strip("$").strip()
    for _ in range(3):  # nested wrappers such as \text{\textbf{B}}
        text = _WRAPPERS.sub(r"\1", text)
    text = text.replace("\\!", "").replace("\\,", "").replace("{,}", ",").replace("\\left", "")
    return text.replace("\\right", "").replace("\\displaystyle", "").strip()


def number_value(answer: str) -> Fraction | None:
    r"""Exact value of a plain number, decimal, `a/b` or `\frac{a}{b}`; None for anything else."""
    text = _clean(answer).replace(" ", "")
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    if _NUMBER.fullmatch(text):
        return Fraction(text)
    frac = _FRAC.match(text)
    parts = (frac.group(2), frac.group(3)) if frac else text.split("/") if text.count("/") == 1 else None
    if parts and all(_NUMBER.fullmatch(p) for p in parts) and Fraction(parts[1]) != 0:
        value = Fraction(parts[0]) / Fraction(parts[1])
        return -value if frac and frac.group(1) == "-" else value
    return None


def format_number(value: Fraction) -> str:
    """Canonical text of a number: integers plainly, others to 10 significant digits."""
    if value.denominator == 1:
        return str(value.numerator)
    return format(float(value), ".10g")


def normalize(answer: str | None, answer_type: str) -> str | None:
    """Canonical form of an answer for its type; None when it cannot be an answer of that type."""
    if answer is None:
        return None
    text = _clean(answer)
    if not text or len(text) > MAX_ANSWER_CHARS:
        return None
    if answer_type in ("integer", "float"):
        value = number_value(text)
        return format_number(value) if value is not None else text.replace(" ", "")
    if answer_type == "categorical":
        match = _LETTER.match(text)
        return match.group(1).upper() if match else None
    if answer_type == "boolean":
        word = text.lower().strip(".")
        return "true" if word in _TRUE else "false" if word in _FALSE else None
    if answer_type == "string":
        words = re.sub(r"\s+", " ", text.lower().strip(" .'\"")).strip()
        return _ARTICLES.sub("", words) or None
    if answer_type == "expression":
        flat = text.replace(" ", "").replace("\\cdot", "*").replace("\\times", "*")
        return sorted_terms(_IMPLICIT_PRODUCT.sub(r"\1\2", flat))
    raise ValueError(f"unknown answer type {answer_type!r}; expected one of {ANSWER_TYPES}")


def sorted_terms(expression: str) -> str:
    """Top-level terms of a sum in sorted order (30+6x and 6x+30 alike), so strings can group them."""
    terms, current, depth = [], "", 0
    for char in expression:
        depth += char in "({["
        depth -= char in ")}]"
        if depth == 0 and char in "+-" and current and current[-1] not in "^*/eE(":
            terms.append(current)
            current = ""
        current += char
    terms.append(current)
    signed = sorted(t if t[0] in "+-" else "+" + t for t in terms if t)
    return "".join(signed).removeprefix("+")


def extract_answer(text: str, answer_type: str) -> str | None:
    r"""The normalised last `\boxed{}` answer of a completion, or None."""
    return normalize(last_boxed(text), answer_type)


def fits_type(normalized: str, answer_type: str) -> bool:
    """Whether a normalised answer is a well-formed answer of its type (a label must be)."""
    if answer_type == "integer":
        value = number_value(normalized)
        return value is not None and value.denominator == 1
    if answer_type == "float":
        return number_value(normalized) is not None
    if answer_type == "categorical":
        return len(normalized) == 1 and normalized.isalpha() and normalized.isupper()
    if answer_type == "boolean":
        return normalized in ("true", "false")
    if answer_type == "expression":  # maths, not prose: no run of 3+ letters beyond known functions
        words = _LATEX_COMMAND.sub("", normalized)
        return bool(normalized) and all(w.lower() in _FUNCTIONS for w in _LETTER_RUN.findall(words))
    return bool(normalized)


def equivalent(a: str | None, b: str | None, answer_type: str) -> bool:
    """Whether two normalised answers are the same answer: string equality, then math-verify."""
    if a is None or b is None:
        return False
    if a == b:
        return True
    if answer_type not in MATH_TYPES:
        return False
    if answer_type != "expression" and number_value(a) is not None and number_value(b) is not None:
        return False  # two different canonical numbers: no need to ask math-verify
    return _math_equal(*sorted((a, b)))


@lru_cache(maxsize=65536)
def _parsed(answer: str) -> tuple:
    from math_verify import parse

    return tuple(parse(f"${answer}$", parsing_timeout=_timeout_s()))


@lru_cache(maxsize=65536)
def _math_equal(a: str, b: str) -> bool:
    from math_verify import verify

    gold, target = _parsed(a), _parsed(b)
    if not gold or not target:
        return False
    return bool(verify(list(gold), list(target), timeout_seconds=_timeout_s()))


def _timeout_s() -> int | None:
    # math-verify times out with signal.alarm, which works only in the main thread; elsewhere
    # (Prefect task threads) answers are bounded by MAX_ANSWER_CHARS instead.
    return MATH_VERIFY_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
