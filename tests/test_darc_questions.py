"""The questioner step: tolerant parsing, strict validation, one reason code per failure."""

from __future__ import annotations

import json
import random

import pytest

from pipeline import questions as q
from pipeline.answers import normalize
from pipeline.backends.sim import SimBackend
from pipeline.backends.sim.darc import QUESTION_FAULTS, question_json, true_answer
from pipeline.config import DarcConfig, SimModel
from pipeline.records import Document, Rejected

DOC = Document("doc-1", "The bridge spans 1,280 metres and has 2 towers of 227 metres. It carried 112,000 "
                        "vehicles a day after its 1937 opening; engineers repainted it every 7 years.")
DARC = DarcConfig(answer_types=["integer", "float", "categorical", "string", "boolean", "expression"])

# The reason each planted questioner fault must be rejected with.
FAULT_REASONS = {
    "broken_json": q.INVALID_JSON, "missing_keys": q.MISSING_KEYS, "truncated": q.TRUNCATED,
    "meta_reference": q.META_REFERENCE, "copied": q.COPY_RATIO, "wrong_type": q.ANSWER_TYPE_MISMATCH,
    "invalid_unicode": q.INVALID_UNICODE, "too_short": q.TOO_SHORT,
}


def good(**changes) -> str:
    data = {"analysis": "one step", "question": "A bridge has 2 towers of 227 metres each. What is their "
            "combined height in metres?", "intermediate_results": {"sum": "454"}, "answer": 454,
            "solving_time_estimate": 1, "required_concepts": ["addition"], "potential_errors": ["none"]}
    data.update(changes)
    return json.dumps(data)


def parse(text: str, answer_type: str = "integer", finish: str = "stop"):
    return q.parse_question(text, finish, DOC, 1, answer_type, DARC)


def reason(text: str, answer_type: str = "integer", finish: str = "stop") -> str:
    with pytest.raises(Rejected) as caught:
        parse(text, answer_type, finish)
    return caught.value.reason


def test_well_formed_question_is_kept_with_a_content_id():
    question = parse(good())
    assert question.reference_answer == "454" and question.level == 1 and question.doc_id == "doc-1"
    assert question.question_id == parse(good()).question_id and len(question.question_id) == 16
    assert json.loads(question.intermediate_results) == {"sum": "454"}


@pytest.mark.parametrize("wrap", ["```json\n{}\n```", "assistant: {}", "Here it is:\n{}\nDone."])
def test_parsing_tolerates_fences_role_prefixes_and_prose(wrap):
    assert parse(wrap.replace("{}", good())).reference_answer == "454"


@pytest.mark.parametrize("fault", sorted(FAULT_REASONS))
def test_each_planted_fault_has_its_reason(fault):
    text, finish = question_json(DOC.text, 2, "integer", random.Random(3), fault)
    assert reason(text, "integer", finish) == FAULT_REASONS[fault]


def test_missing_options_planted_by_the_sim():
    text, finish = question_json(DOC.text, 2, "categorical", random.Random(3), "missing_options")
    assert reason(text, "categorical", finish) == q.MISSING_OPTIONS


def test_truncated():
    assert reason(good(), finish="length") == q.TRUNCATED


def test_empty_output():
    assert reason("  \n") == q.EMPTY_OUTPUT


def test_invalid_json():
    assert reason('{"analysis": "x", "question": ') == q.INVALID_JSON
    assert reason("no object at all") == q.INVALID_JSON


def test_schema_mismatch():
    assert reason(good(required_concepts="addition")) == q.SCHEMA_MISMATCH
    assert reason("[1, 2]") == q.INVALID_JSON  # no braces: not an object at all


def test_missing_and_extra_keys():
    data = json.loads(good())
    del data["analysis"]
    assert reason(json.dumps(data)) == q.MISSING_KEYS
    assert reason(good(hint="use addition")) == q.EXTRA_KEYS


def test_invalid_unicode():
    assert reason(good(question="A bridge has 2 towers \ud800 of 227 metres. Combined height?")) == q.INVALID_UNICODE


def test_too_short_and_too_long():
    assert reason(good(question="Sum?")) == q.TOO_SHORT
    assert reason(good(question="How tall? " * 300)) == q.TOO_LONG


@pytest.mark.parametrize("phrase", ["According to the document, how", "In the passage above, how",
                                    "As stated in the text, how", "Based on the given article, how"])
def test_meta_reference(phrase):
    assert reason(good(question=f"{phrase} many towers does a 1,280 metre bridge have?")) == q.META_REFERENCE


def test_copy_ratio():
    copied = "The bridge spans 1,280 metres and has 2 towers of 227 metres. How many towers?"
    assert q.copy_ratio(copied, q.char_grams(DOC.text)) > 0.8
    assert reason(good(question=copied, answer=2)) == q.COPY_RATIO


@pytest.mark.parametrize(("answer_type", "answer"), [("integer", "about 12"), ("integer", 12.5),
                                                     ("float", "twelve"), ("categorical", 3),
                                                     ("boolean", "perhaps"), ("string", 12),
                                                     ("expression", "a value near twelve")])
def test_answer_type_mismatch(answer_type, answer):
    assert reason(good(answer=answer), answer_type) == q.ANSWER_TYPE_MISMATCH


def test_missing_options():
    two = "Which is taller?\nA. 227 metres\nB. 112 metres"
    assert reason(good(question=two, answer="A"), "categorical") == q.MISSING_OPTIONS
    three = two + "\nC. 7 metres"
    assert reason(good(question=three, answer="D"), "categorical") == q.MISSING_OPTIONS
    assert parse(good(question=three, answer="(A)"), "categorical").reference_answer == "A"


def test_json_schema_names_every_key_and_the_answer_type():
    schema = q.question_json_schema("categorical")
    assert schema["required"] == list(q.OUTPUT_KEYS) and schema["additionalProperties"] is False
    assert schema["properties"]["answer"]["pattern"] == "^[A-Z]$"


class Recorder:
    """A backend that records the sampling settings it is called with, answering from the sim."""

    def __init__(self, sim):
        self.sim, self.name, self.model, self.calls = sim, "sim", "sim", []

    def generate(self, prompts, sampling):
        self.calls.append((len(prompts), sampling))
        return self.sim.generate(prompts, sampling)


def test_write_questions_one_prompt_per_document_level_type_and_schema_passed():
    docs = [DOC, Document("doc-2", "Wheat harvests reached 3,400 tonnes in 2011, up from 2,950 tonnes, "
                                   "while rainfall averaged 640 millimetres over 7 months.")]
    backend = Recorder(SimBackend(SimModel(backend="sim", malformed_rate=0.0)))
    out = q.write_questions(docs, DARC, backend, seed=0)
    assert len(out.kept) == 2 * 3 * 6 and not out.rejected
    assert [c[0] for c in backend.calls] == [6] * 6
    assert all(c[1].json_schema is not None and c[1].n == 1 for c in backend.calls)
    assert all(normalize(true_answer(x.question), x.answer_type) == normalize(x.reference_answer, x.answer_type)
               for x in out.kept)
    assert out.usage["completion_tokens"] > 0


def test_every_malformed_sim_output_is_rejected_with_a_known_reason():
    docs = [Document(f"d{i}", DOC.text.replace("1937", str(1900 + i))) for i in range(12)]
    sim = SimBackend(SimModel(backend="sim", malformed_rate=1.0))
    out = q.write_questions(docs, DARC, sim, seed=1)
    assert not out.kept
    reasons = {r.reason for r in out.rejected}
    assert reasons <= set(FAULT_REASONS.values()) | {q.MISSING_OPTIONS, q.ANSWER_TYPE_MISMATCH}
    assert len(reasons) >= 8 and all(r.raw_text and r.doc_id for r in out.rejected)
    assert len(QUESTION_FAULTS) == len(FAULT_REASONS) + 1
