"""The graders' arithmetic on texts whose scores are known by hand."""

from __future__ import annotations

import pytest

from sandbox.graders import fuzzy_match, grade, render, rouge_l, rouge_n, string_check


def test_rouge_l_is_the_f_measure_of_the_longest_common_word_subsequence() -> None:
    # LCS of "the cat sat on the mat" and "the cat is on the mat" is 5 words of 6 and 6
    assert rouge_l("The cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("a b c", "c b a") == pytest.approx(1 / 3)


def test_rouge_n_and_fuzzy_match() -> None:
    # bigrams: {the cat, cat sat} vs {the cat, cat ran}: 1 shared of 2 and 2
    assert rouge_n("the cat sat", "the cat ran", 2) == pytest.approx(0.5)
    assert fuzzy_match("abcd", "abcd") == 1.0
    assert fuzzy_match("abcd", "abxy") == pytest.approx(0.5)  # 2 * 2 / 8


def test_string_check_and_templates() -> None:
    assert string_check("eq", "Canberra", "Canberra") and not string_check(
        "eq", "canberra", "Canberra"
    )
    assert string_check("ilike", "It's CANBERRA.", "canberra") and string_check("ne", "a", "b")
    scope = {"item": {"reference": "Paris"}, "sample": {"output_text": "Paris"}}
    assert (
        render("{{ item.reference }}/{{sample.output_text}}/{{item.none}}", scope) == "Paris/Paris/"
    )
    result = grade(
        {
            "type": "string_check",
            "name": "exact",
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference}}",
            "operation": "eq",
        },
        scope,
    )
    assert result == {
        "name": "exact",
        "type": "string_check",
        "sample": None,
        "score": 1.0,
        "passed": True,
    }


def test_the_judge_stand_in_says_what_it_is() -> None:
    scope = {"item": {"reference": "Paris"}, "sample": {"output_text": "Paris"}}
    result = grade(
        {"type": "score_model", "name": "judge", "range": [1, 5], "pass_threshold": 4}, scope
    )
    assert result["score"] == 5.0 and result["passed"]
    assert "stand-in" in result["sample"]["note"]
