"""The questioner step: one prompt per document x level x answer type -> parsed, validated questions.

Parsing is tolerant (code fences, a leading role prefix, prose around the object); validation is
strict, and every failure is a `Rejection` with one of the reason codes below. The checks run on the
CPU before any teacher token is spent on a question.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline.answers import fits_type, normalize
from pipeline.backends import Backend, Sampling, add_usage, usage
from pipeline.config import DarcConfig, SamplingConfig
from pipeline.prompts import OUTPUT_KEYS, questioner_chat
from pipeline.records import Document, Question, Rejected, Rejection, StepOutput, content_id

STEP = "questions"
TRUNCATED = "truncated"  # finish_reason other than "stop": out of tokens, or aborted
EMPTY_OUTPUT = "empty_output"
INVALID_JSON = "invalid_json"  # no JSON object could be read
SCHEMA_MISMATCH = "schema_mismatch"  # a field has the wrong JSON type
MISSING_KEYS = "missing_keys"
EXTRA_KEYS = "extra_keys"
INVALID_UNICODE = "invalid_unicode"  # replacement chars, lone surrogates, control characters
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
META_REFERENCE = "meta_reference"  # "according to the passage": not self-contained
COPY_RATIO = "copy_ratio"  # too much of the question copied from the document
ANSWER_TYPE_MISMATCH = "answer_type_mismatch"
MISSING_OPTIONS = "missing_options"  # categorical without >= 3 labelled options incl. the answer

MIN_QUESTION_CHARS = 20
MIN_OPTIONS = 3
GRAM_CHARS = 6

_ROLE_PREFIX = re.compile(r"^\s*(?:<\|im_start\|>\s*)?(?:assistant|model|response|answer)\s*[:\n]", re.I)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_META = re.compile(
    r"\b(?:according to|based on|as (?:stated|described|mentioned|shown) in|from|in|per)\s+the\s+"
    r"(?:given\s+|above\s+|provided\s+|following\s+|original\s+)?"
    r"(?:document|passage|text|article|excerpt|context|source(?: text)?)\b"
    r"|\bthe\s+(?:document|passage|excerpt)\b"
    r"|\b(?:this|the\s+given|the\s+above|the\s+provided|the\s+following)\s+(?:text|article|context)\b",
    re.I)
_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])[.)]\s+\S", re.M)
_BAD_CHARS = re.compile("[\ufffd\ufffe\uffff\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "analysis": str, "question": str, "intermediate_results": dict, "answer": (str, int, float, bool),
    "solving_time_estimate": (int, float, str), "required_concepts": list, "potential_errors": list,
}


def question_json_schema(answer_type: str) -> dict[str, Any]:
    """JSON schema of the questioner's reply, for backends with guided decoding."""
    answer = {"integer": {"type": "integer"}, "float": {"type": "number"},
              "boolean": {"type": "boolean"},
              "categorical": {"type": "string", "pattern": "^[A-Z]$"}}.get(answer_type, {"type": "string"})
    strings = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 10}
    return {
        "type": "object",
        "properties": {
            "analysis": {"type": "string"}, "question": {"type": "string"},
            "intermediate_results": {"type": "object", "additionalProperties": {"type": "string"}},
            "answer": answer, "solving_time_estimate": {"type": "number"},
            "required_concepts": strings, "potential_errors": strings,
        },
        "required": list(OUTPUT_KEYS), "additionalProperties": False,
    }


def write_questions(documents: list[Document], darc: DarcConfig, questioner: Backend, seed: int,
                    sampling: SamplingConfig | None = None) -> StepOutput[Question]:
    """Ask for one question per document x level x answer type; keep those that validate."""
    settings = sampling or SamplingConfig()
    out: StepOutput[Question] = StepOutput(kept=[], usage={})
    grams = {doc.doc_id: char_grams(doc.text) for doc in documents}
    for answer_type in darc.answer_types:  # one call per answer type: the JSON schema differs
        jobs = [(doc, level) for doc in documents for level in sorted(darc.levels)]
        chats = [questioner_chat(doc.text, level, answer_type) for doc, level in jobs]
        call = Sampling.of(settings, 1, seed, question_json_schema(answer_type))
        generations = questioner.generate(chats, call)
        add_usage(out.usage, usage(generations))
        for (doc, level), completions in zip(jobs, generations, strict=True):
            for completion in completions:
                try:
                    out.kept.append(parse_question(completion.text, completion.finish_reason, doc, level,
                                                   answer_type, darc, grams[doc.doc_id]))
                except Rejected as bad:
                    out.rejected.append(Rejection(
                        STEP, bad.reason, content_id("questioner", doc.doc_id, level, answer_type),
                        bad.detail, completion.text, doc_id=doc.doc_id))
    return out


def parse_question(text: str, finish_reason: str, document: Document, level: int, answer_type: str,
                   darc: DarcConfig, document_grams: set[str] | None = None) -> Question:
    """One questioner completion -> a `Question`, or `Rejected` with the first failed check."""
    if finish_reason != "stop":
        raise Rejected(TRUNCATED, f"finish_reason {finish_reason!r}: the completion did not end by itself")
    if not text.strip():
        raise Rejected(EMPTY_OUTPUT)
    data = read_json_object(text)
    _check_keys(data)
    question, answer = data["question"].strip(), data["answer"]
    for name, value in (("question", question), ("answer", str(answer)), ("analysis", data["analysis"])):
        if bad := _BAD_CHARS.search(value):
            raise Rejected(INVALID_UNICODE, f"{name} holds U+{ord(bad.group()):04X}")
    if len(question) < MIN_QUESTION_CHARS:
        raise Rejected(TOO_SHORT, f"{len(question)} characters < {MIN_QUESTION_CHARS}")
    if len(question) > darc.max_question_chars:
        raise Rejected(TOO_LONG, f"{len(question)} characters > {darc.max_question_chars}")
    if meta := _META.search(question):
        raise Rejected(META_REFERENCE, f"mentions {meta.group()!r}")
    ratio = copy_ratio(question, document_grams if document_grams is not None else char_grams(document.text))
    if ratio > darc.copy_ratio_max:
        raise Rejected(COPY_RATIO, f"{ratio:.2f} of the question's 6-grams are in the document")
    reference = check_answer(answer, answer_type)
    if answer_type == "categorical":
        _check_options(question, reference)
    return Question(
        question_id=content_id("darc", document.doc_id, level, answer_type, question), method="darc",
        answer_type=answer_type, question=question, reference_answer=reference, doc_id=document.doc_id,
        level=level, analysis=data["analysis"],
        intermediate_results=json.dumps(data["intermediate_results"], ensure_ascii=False),
        solving_time_estimate=str(data["solving_time_estimate"]),
        required_concepts=[str(c) for c in data["required_concepts"]],
        potential_errors=[str(e) for e in data["potential_errors"]], raw_text=text)


def read_json_object(text: str) -> dict[str, Any]:
    """Tolerant reading: drop a role prefix and code fences, then take the outermost braces."""
    body = _ROLE_PREFIX.sub("", text.strip(), count=1)
    if fence := _FENCE.search(body):
        body = fence.group(1)
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise Rejected(INVALID_JSON, "no JSON object in the output")
    try:
        data = json.loads(body[start:end + 1])
    except json.JSONDecodeError as error:
        raise Rejected(INVALID_JSON, str(error)) from None
    if not isinstance(data, dict):
        raise Rejected(SCHEMA_MISMATCH, f"expected a JSON object, got {type(data).__name__}")
    return data


def _check_keys(data: dict[str, Any]) -> None:
    if missing := [k for k in OUTPUT_KEYS if k not in data]:
        raise Rejected(MISSING_KEYS, ", ".join(missing))
    if extra := sorted(set(data) - set(OUTPUT_KEYS)):
        raise Rejected(EXTRA_KEYS, ", ".join(extra))
    for key, kind in _TYPES.items():
        if not isinstance(data[key], kind):
            raise Rejected(SCHEMA_MISMATCH, f"{key} is {type(data[key]).__name__}")
    for key in ("required_concepts", "potential_errors"):
        if not all(isinstance(item, str) for item in data[key]):
            raise Rejected(SCHEMA_MISMATCH, f"{key} must be a list of strings")


def check_answer(answer: Any, answer_type: str) -> str:
    """The questioner's own answer, normalised; `answer_type_mismatch` when it is not of its type."""
    if answer_type == "boolean" and isinstance(answer, bool):
        return "true" if answer else "false"
    if isinstance(answer, bool) or (answer_type in ("string", "categorical") and not isinstance(answer, str)):
        raise Rejected(ANSWER_TYPE_MISMATCH, f"{answer!r} is not a {answer_type} answer")
    normalized = normalize(str(answer), answer_type)
    if normalized is None or not fits_type(normalized, answer_type):
        raise Rejected(ANSWER_TYPE_MISMATCH, f"{answer!r} is not a {answer_type} answer")
    return normalized


def option_letters(question: str) -> list[str]:
    """The option letters a categorical question lists, one option per line (A., B), (C) ...)."""
    return list(dict.fromkeys(_OPTION_LINE.findall(question)))


def _check_options(question: str, letter: str) -> None:
    letters = option_letters(question)
    expected = [chr(ord("A") + i) for i in range(len(letters))]
    if len(letters) < MIN_OPTIONS or letters != expected:
        raise Rejected(MISSING_OPTIONS, f"options found: {''.join(letters) or 'none'}")
    if letter not in letters:
        raise Rejected(MISSING_OPTIONS, f"answer {letter} is not among options {''.join(letters)}")


def char_grams(text: str) -> set[str]:
    """The set of character 6-grams of a text, after lower-casing and collapsing whitespace."""
    flat = " ".join(text.lower().split())
    return {flat[i:i + GRAM_CHARS] for i in range(len(flat) - GRAM_CHARS + 1)}


def copy_ratio(question: str, document_grams: set[str]) -> float:
    """Share of the question's character 6-grams that also occur in the document (DARC's check)."""
    flat = " ".join(question.lower().split())
    grams = [flat[i:i + GRAM_CHARS] for i in range(len(flat) - GRAM_CHARS + 1)]
    return sum(g in document_grams for g in grams) / len(grams) if grams else 0.0
