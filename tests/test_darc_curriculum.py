"""Curriculum order, balanced batches, non-monotone documents and the calibration summary."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.config import DarcConfig
from pipeline.curriculum import calibration_summary, non_monotone_documents, order_curriculum
from pipeline.records import Difficulty, Label, Question

TYPES = ["integer", "integer", "float", "categorical"]  # shares 1/2, 1/4, 1/4


def row(i: int, level: int, answer_type: str, rate: float, doc: str = "d", agrees: bool = True):
    qid = f"q{i}"
    return (Question(qid, "darc", answer_type, f"question {i}", "1", doc_id=doc, level=level),
            Label(qid, "1", 5, 10, 10, 0.5, 0.1, agrees), Difficulty(qid, rate, int(rate * 10), 10))


def rows_for(count: int):
    return [row(i, 1 + i % 3, TYPES[i % 4], (i * 7 % 10) / 10, doc=f"d{i % 5}") for i in range(count)]


def test_order_is_by_level_then_solve_rate_within_each_type():
    items = order_curriculum(rows_for(60), DarcConfig(), batch_size=8)
    levels = [it.question.level for it in items]
    assert levels == sorted(levels) and [it.position for it in items] == list(range(60))
    for level in (1, 2, 3):
        for kind in set(TYPES):
            rates = [it.difficulty.solve_rate for it in items if it.question.level == level
                     and it.question.answer_type == kind]
            assert rates == sorted(rates, reverse=True)


def test_batches_keep_the_answer_type_mix_close_to_the_whole_set():
    items = order_curriculum(rows_for(96), DarcConfig(), batch_size=8)
    assert [it.batch for it in items] == [i // 8 for i in range(96)]
    for batch in range(12):
        mix = Counter(it.question.answer_type for it in items if it.batch == batch)
        assert abs(mix["integer"] - 4) <= 1 and abs(mix["float"] - 2) <= 1 and abs(mix["categorical"] - 2) <= 1


def test_sort_is_stable_for_equal_keys():
    rows = [row(i, 1, "integer", 0.5) for i in range(5)]
    assert [it.question.question_id for it in order_curriculum(rows, DarcConfig(), 2)] == [f"q{i}" for i in range(5)]


def test_non_monotone_documents_are_flagged_with_the_margin():
    rows = [row(0, 1, "integer", 0.4, "bad"), row(1, 3, "integer", 0.7, "bad"),
            row(2, 1, "integer", 0.8, "ok"), row(3, 2, "integer", 0.9, "ok")]  # 0.1 up: within margin
    assert non_monotone_documents(rows, 0.2) == {"bad"}
    items = order_curriculum(rows, DarcConfig(monotone_margin=0.2), 4)
    assert {it.question.doc_id for it in items if it.non_monotone_doc} == {"bad"}


def test_calibration_summary_per_level():
    rows = [row(0, 1, "integer", 0.8), row(1, 1, "integer", 0.6, agrees=False), row(2, 3, "float", 0.2)]
    summary = calibration_summary(order_curriculum(rows, DarcConfig(), 2), DarcConfig())
    assert [s["level"] for s in summary] == [1, 2, 3]
    first = summary[0]
    assert (first["count"], first["target_solve_rate"], first["label_agreement"]) == (2, 0.8, 0.5)
    assert first["measured_mean"] == pytest.approx(0.7) and first["measured_std"] == pytest.approx(0.1)
    assert summary[1]["count"] == 0 and summary[1]["measured_mean"] is None


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        order_curriculum([], DarcConfig(), 0)


def test_gasp_variants_join_the_level_whose_target_is_nearest_their_solve_rate():
    from pipeline.config import DarcConfig
    from pipeline.curriculum import order_curriculum
    from pipeline.records import Difficulty, Label, Question

    def row(qid, method, level, rate):
        q = Question(qid, method, "integer", f"question {qid}?", "1", doc_id="d", level=level)
        return q, Label(qid, "1", 9, 10, 10, 0.9, 0.1, True), Difficulty(qid, rate, int(rate * 10), 10)

    rows = [row("lift", "gasp", 0, 0.25), row("easy", "darc", 1, 0.9), row("lemma", "gasp", 0, 0.55),
            row("mid", "darc", 2, 0.5), row("hard", "darc", 3, 0.1)]
    order = [item.question.question_id for item in order_curriculum(rows, DarcConfig(), batch_size=2)]
    assert order == ["easy", "lemma", "mid", "lift", "hard"]
