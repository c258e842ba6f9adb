"""Near-duplicate questions are rejected as `duplicate` before labelling, naming the kept question."""

from __future__ import annotations

from pipeline.backends.sim import SimBackend
from pipeline.config import DarcConfig, SimModel
from pipeline.dedup import DUPLICATE, dedup_questions
from pipeline.questions import write_questions
from pipeline.records import Document, Question
from retrieval.embedder import HashEmbedder, load_embedder

DOCS = [Document("d0", "The bridge spans 1,280 metres and has 2 towers of 227 metres; it opened in 1937."),
        Document("d1", "Wheat harvests reached 3,400 tonnes in 2011 while rainfall averaged 640 millimetres."),
        Document("d2", "The orchestra performed 32 symphonies in 1998 for 12,500 listeners across 18 concerts.")]


def planted(questions: list[Question]) -> list[Question]:
    """Copies of the first two questions: one re-cased and re-punctuated, one with a word changed."""
    first, second = questions[0], questions[1]
    twin = Question("twin", "darc", first.answer_type, first.question.upper().replace("?", " ?"), "1", doc_id="d0")
    near = Question("near", "darc", second.answer_type, second.question.replace("results", "comes out"), "1",
                    doc_id="d0")
    return [*questions, twin, near]


def test_planted_duplicates_are_rejected_with_the_kept_id():
    questions = write_questions(DOCS, DarcConfig(), SimBackend(SimModel(backend="sim", malformed_rate=0.0)), 0).kept
    out = dedup_questions(planted(questions), DarcConfig(dedup_cosine=0.9), HashEmbedder().encode)
    dropped = {r.record_id: r for r in out.rejected}
    assert {"twin", "near"} <= set(dropped) and all(r.reason == DUPLICATE for r in out.rejected)
    assert questions[0].question_id in dropped["twin"].detail
    assert len(out.kept) + len(out.rejected) == len(questions) + 2
    assert "twin" not in {q.question_id for q in out.kept}



def test_a_duplicate_keeps_the_questioners_raw_text_in_the_rejects():
    first = Question("a", "darc", "integer", "How many towers does the bridge have?", "2", doc_id="d0",
                     raw_text='{"question": "How many towers does the bridge have?", "answer": "2"}')
    twin = Question("b", "darc", "integer", first.question, "2", doc_id="d0", raw_text='```json\n{"question": ...}')
    out = dedup_questions([first, twin], DarcConfig(), HashEmbedder().encode)
    assert [(r.record_id, r.raw_text) for r in out.rejected] == [("b", twin.raw_text)]


def test_distinct_questions_survive_with_the_real_embedding_model():
    texts = ["How many towers does a 1,280 metre suspension bridge opened in 1937 have?",
             "What was the average rainfall, in millimetres, in a year with a 3,400 tonne wheat harvest?",
             "How many towers does a suspension bridge of 1,280 metres that opened in 1937 have?"]
    questions = [Question(f"q{i}", "darc", "integer", t, "1", doc_id="d0") for i, t in enumerate(texts)]
    out = dedup_questions(questions, DarcConfig(dedup_cosine=0.9), load_embedder().encode)
    assert [q.question_id for q in out.kept] == ["q0", "q1"]
    assert out.rejected[0].record_id == "q2" and "q0" in out.rejected[0].detail


def test_empty_input():
    assert dedup_questions([], DarcConfig(), HashEmbedder().encode).kept == []
