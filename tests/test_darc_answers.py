"""Answer extraction, normalisation, equivalence and voting (pipeline.answers, pipeline.voting)."""

from __future__ import annotations

import math

import pytest

from pipeline.answers import equivalent, extract_answer, fits_type, last_boxed, normalize
from pipeline.voting import vote


def test_last_balanced_box_wins():
    text = r"First \boxed{3}, then \boxed{\frac{24}{2}} and a broken \boxed{7"
    assert last_boxed(text) == r"\frac{24}{2}"
    assert last_boxed("no box here") is None


@pytest.mark.parametrize("spelling", ["12", "12.0", r"\frac{24}{2}", r"\dfrac{36}{3}", "$12$", r"\text{12}", "24/2"])
def test_integer_spellings_normalise_to_one_string(spelling):
    assert normalize(spelling, "integer") == "12"


def test_thousands_and_floats_normalise():
    assert normalize("1,200", "integer") == "1200"
    assert normalize(r"\frac{13}{4}", "float") == normalize("3.250", "float") == "3.25"


@pytest.mark.parametrize("spelling", ["B", "(B)", r"\text{B}", "B.", "b", "Option B", "B) 42 apples"])
def test_categorical_spellings_normalise_to_one_letter(spelling):
    assert normalize(spelling, "categorical") == "B"


def test_non_letter_is_not_a_categorical_answer():
    assert normalize("42", "categorical") is None


def test_boolean_and_string_normalise():
    assert {normalize(s, "boolean") for s in ["True", "yes", r"\text{Yes}", "true."]} == {"true"}
    assert normalize("maybe", "boolean") is None
    assert normalize(r"The \text{Reactor}", "string") == "reactor"


def test_math_verify_merges_only_what_strings_cannot():
    assert equivalent("3x+12", "12+3x", "expression")
    assert equivalent("3x+12", "3(x+4)", "expression")
    assert not equivalent("3x+12", "3x+13", "expression")
    assert not equivalent("12", "13", "integer")
    assert equivalent("12", r"\sqrt{144}", "integer")


def test_type_fit():
    assert fits_type("12", "integer") and not fits_type("12.5", "integer")
    assert fits_type("x^2+1", "expression") and not fits_type("avaluenear12", "expression")
    assert fits_type("C", "categorical") and not fits_type("CD", "categorical")


def test_extract_answer_reads_the_last_box_with_its_type():
    assert extract_answer(r"so \boxed{(C)}", "categorical") == "C"
    assert extract_answer("The answer is 12.", "integer") is None


def test_unboxed_teacher_answers_do_not_vote():
    texts = [r"\boxed{12}", "twelve, I think", r"\boxed{12.0}", r"\boxed{13}"]
    result = vote([extract_answer(t, "integer") for t in texts], "integer")
    assert (result.answer, result.support, result.valid, result.n) == ("12", 2, 3, 4)
    assert result.majority_fraction == 0.5
    assert result.entropy == pytest.approx(-(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3))


def test_vote_merges_equivalent_groups_and_keeps_a_well_typed_representative():
    answers = [normalize(a, "expression") for a in ["12+3x", "3x+12", "3(x+4)", "3x+13"]]
    result = vote(answers, "expression")
    assert result.support == 3 and result.winners == [0, 1, 2]
    assert equivalent(result.answer, "3x+12", "expression")


def test_tie_is_reported_and_first_group_wins():
    result = vote(["A", "B", "B", "A"], "categorical")
    assert result.tied and result.answer == "A"


def test_no_valid_answers():
    result = vote([None, None], "integer")
    assert result.answer is None and result.valid == 0 and result.majority_fraction == 0.0


def test_expression_terms_are_sorted_so_strings_group_reordered_sums():
    spellings = ["6x+30", "30+6x", r"6 \cdot x + 30", "6*x+30"]
    assert {normalize(s, "expression") for s in spellings} == {"30+6x"}
    assert normalize("6x-30", "expression") == normalize("-30+6x", "expression")
    assert normalize("x^-1+2", "expression") == "2+x^-1"  # a sign after ^ is not a term boundary
