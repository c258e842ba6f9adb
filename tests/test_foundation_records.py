"""Records: content-hash ids and Arrow round trips with the explicit schemas."""

from __future__ import annotations

import pytest

from pipeline.records import (
    CURRICULUM_SCHEMA,
    QUESTION_SCHEMA,
    CurriculumItem,
    Difficulty,
    Label,
    Question,
    Rejection,
    content_id,
    from_table,
    to_table,
)


def make_question(text: str = "How many bridges cross the river?") -> Question:
    return Question(question_id=content_id("darc", text), method="darc", answer_type="integer",
                    question=text, reference_answer="12", doc_id="d1", level=2,
                    required_concepts=["counting"])


def test_ids_are_stable_content_hashes():
    assert content_id("a", 1) == content_id("a", 1)
    assert content_id("a", 1) != content_id("a1")  # parts are separated, not concatenated
    assert len(content_id("x")) == 16


def test_question_round_trips_through_arrow():
    question = make_question()
    table = to_table([question])
    assert table.schema == QUESTION_SCHEMA
    assert from_table(table, Question) == [question]


def test_curriculum_item_row_matches_schema():
    question = make_question()
    item = CurriculumItem(position=0, batch=0, question=question,
                          label=Label(question.question_id, "12", 7, 9, 10, 0.7, 0.6, True, "… \\boxed{12}"),
                          difficulty=Difficulty(question.question_id, 0.4, 4, 10))
    table = to_table([item])
    assert table.schema == CURRICULUM_SCHEMA
    row = table.to_pylist()[0]
    assert (row["label_answer"], row["support"], row["label_n"], row["solve_rate"]) == ("12", 7, 10, 0.4)


def test_rejection_id_depends_on_content():
    a = Rejection("questions", "invalid_json", raw_text="{")
    b = Rejection("questions", "invalid_json", raw_text="{{")
    assert a.rejection_id != b.rejection_id
    assert Rejection("questions", "invalid_json", raw_text="{").rejection_id == a.rejection_id


def test_empty_table_needs_schema():
    with pytest.raises(ValueError):
        to_table([])
    assert to_table([], QUESTION_SCHEMA).num_rows == 0
