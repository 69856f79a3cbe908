"""The cards of `evaluate` in English and Korean: the question with its estimate, the live card,
the result with its interval and the worst items quoted, a failure."""

from __future__ import annotations

from typing import Any

from adaptive_cards.evaluation import (
    cancelled_card,
    confirm_card,
    failed_card,
    offer_card,
    progress_card,
    result_card,
)
from infra import i18n
from infra.i18n import _
from skills.evaluation.records import Outcome, Setup, Worst
from skills.evaluation.stats import Comparison
from skills.evaluation.views import EvalDone, EvalFailed, EvalProgress
from tests.korean import english, texts_of

TUNED = "gpt-4o-mini-2024-07-18.ft-0123456789abcdef-clippy"
SETUP = Setup(
    target="clippy",
    model=TUNED,
    base="base",
    base_model="gpt-4o-mini-2024-07-18",
    job="ftjob-abc",
    source="ftjob-abc",
    examples=1500,
    items=1000,
    preference=True,
    graders=("fuzzy_match", "rouge_l", "judge"),
    judge="judge-4o",
    prompt_tokens=40_000,
    completion_tokens=20_000,
    cost=0.03,
)
OUTCOME = Outcome(
    comparisons=(
        Comparison(
            grader="rouge_l",
            base_mean=0.2,
            tuned_mean=0.35,
            base_pass=0.1,
            tuned_pass=0.4,
            difference=0.15,
            low=0.1,
            high=0.2,
        ),
        Comparison(
            grader="fuzzy_match",
            base_mean=0.3,
            tuned_mean=0.31,
            base_pass=0.2,
            tuned_pass=0.2,
            difference=0.01,
            low=-0.02,
            high=0.04,
        ),
        Comparison(
            grader="judge",
            base_mean=3.1,
            tuned_mean=2.4,
            base_pass=0.5,
            tuned_pass=0.3,
            difference=-0.7,
            low=-1.0,
            high=-0.4,
        ),
    ),
    tokens=120_000,
    cost=0.03,
    worst=(
        Worst(
            prompt="Capital?",
            reference="Canberra.",
            base_answer="Canberra",
            tuned_answer="Sydney!",
            base_score=0.9,
            tuned_score=0.1,
        ),
    ),
)


def cards() -> list[dict[str, Any]]:
    return [
        confirm_card(SETUP, "token", 24),
        cancelled_card(SETUP),
        progress_card(EvalProgress(SETUP, 3, 5)),
        result_card(EvalDone(SETUP, OUTCOME)),
        failed_card(EvalFailed(SETUP, "The deployment was deleted.")),
        offer_card(_("Evaluation cancelled"), {"model": TUNED, "sku": "developer"}),
    ]


def shown() -> list[list[str]]:
    return [texts_of({"attachments": [{"content": card}]}) for card in cards()]


def test_the_cards_say_what_is_compared_what_it_costs_and_what_was_found() -> None:
    with i18n.use("en"):
        ask, _cancelled, live, result, failed, offer = ["\n".join(t) for t in shown()]
    assert "Evaluate `clippy` against `base`?" in ask and "120,000 tokens for both runs" in ask
    assert "$0.03" in ask and "a fixed sample of 1,000 of them" in ask
    assert "preferred answer" in ask
    assert "3 of 1,000 done" in live and "5 of 1,000 done" in live
    assert "+0.150 (95% interval +0.100 to +0.200) better" in result
    assert "+0.010 (95% interval -0.020 to +0.040) no clear difference" in result
    assert "base 10.0%, fine-tuned 40.0%" in result
    assert "Where the fine-tuned model did worst" in result
    tiny = OUTCOME.model_copy(update={"cost": 0.0005})
    assert "an estimated less than $0.01" in "\n".join(
        texts_of({"attachments": [{"content": result_card(EvalDone(SETUP, tiny))}]})
    )
    assert "`judge` (the opinion of the model `judge-4o`, not a measurement)" in result
    assert "-0.700 (95% interval -1.000 to -0.400) worse" in result
    assert "Evaluation of `clippy` failed" in failed
    assert "Deploy first" in offer and "Deploy it" in offer
    done = result_card(EvalDone(SETUP, OUTCOME))
    worst = [a for a in done["actions"] if a["type"] == "Action.ShowCard"]  # behind a button
    assert [a["title"] for a in worst] == ["Show where it did worst"]
    quotes = [
        run["text"]
        for block in worst[0]["card"]["body"]
        for run in block.get("inlines", [])
        if str(run.get("id", "")).startswith("quote-")
    ]
    assert quotes == ["Capital?", "Canberra.", "Canberra", "Sydney!"]  # their words, as quotations
    assert "Example 1: base 0.90, fine-tuned 0.10" in result  # not "1. ", a list in markdown


def test_every_evaluation_card_is_korean() -> None:
    with i18n.use("ko"):
        seen = shown()
    assert [line for texts in seen for line in english(texts)] == []
    flat = "\n".join(text for texts in seen for text in texts)
    assert "`clippy`" in flat and "`rouge_l`" in flat
