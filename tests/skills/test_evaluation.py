"""An evaluation's items from a file (chat, preference pairs, a sample of a big file, bad input)
and its statistics (the paired bootstrap's interval)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.errors import UserError
from skills.deployment.arm import DeploymentInfo
from skills.evaluation.items import MAX_ITEMS, items_of
from skills.evaluation.service import refuse_judge
from skills.evaluation.stats import compare, paired_bootstrap

DATA = Path(__file__).resolve().parents[1] / "data"


def chat_line(question: str, answer: str) -> str:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": answer},
    ]
    return json.dumps({"messages": messages})


def test_a_chat_file_compares_against_each_last_answer() -> None:
    items = items_of((DATA / "mslearn_validation_set.jsonl").read_text(encoding="utf-8"))
    assert len(items.rows) == items.examples == 10 and not items.sampled
    first = items.rows[0]
    assert first["input"][-1] == {"role": "user", "content": "What's the capital of Australia?"}
    assert first["reference"] == "It's Canberra, not Sydney. Shocking, I know!"
    assert not items.preference and not items.short_references
    prompt, completion = items.tokens("gpt-4o-mini-2024-07-18")
    assert prompt > completion > 0


def test_a_preference_file_compares_against_the_preferred_answer() -> None:
    items = items_of((DATA / "dpo.jsonl").read_text(encoding="utf-8"))
    assert items.preference and len(items.rows) == 10
    assert items.rows[0]["reference"].startswith("Today in San Francisco, it is not quite cold")
    assert items.rows[0]["input"] == [
        {"role": "user", "content": "Hello, can you tell me how cold San Francisco is today?"}
    ]


def test_a_big_file_is_sampled_the_same_way_every_time() -> None:
    text = "\n".join(chat_line(f"Question {n}?", f"Answer {n}.") for n in range(1500))
    items = items_of(text)
    assert items.sampled and len(items.rows) == MAX_ITEMS and items.examples == 1500
    assert items_of(text).rows == items.rows
    assert items.short_references  # "Answer N." is short: exact match fits


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"messages": [{"role": "user", "content": "Hi"}]}', "no assistant answers"),
        ("", "no assistant answers"),
        (chat_line("a", "b") + "\nnot json", "Line 2 of that file is not JSON"),
    ],
)
def test_a_file_without_answers_gets_one_sentence(text: str, words: str) -> None:
    with pytest.raises(UserError) as raised:
        items_of(text)
    assert words in raised.value.message


def test_the_paired_bootstrap_interval() -> None:
    # every item 0.1 better: the difference is 0.1 and so is every resample's
    difference, low, high = paired_bootstrap([0.2, 0.4, 0.6], [0.3, 0.5, 0.7])
    assert difference == pytest.approx(0.1) and low == pytest.approx(0.1) == high
    # mixed: the interval spans 0
    difference, low, high = paired_bootstrap([0.5, 0.5, 0.5, 0.5], [0.9, 0.1, 0.8, 0.2])
    assert difference == pytest.approx(0.0) and low < 0 < high
    compared = compare("rouge_l", [(0.2, False), (0.4, True)], [(0.6, True), (0.8, True)])
    assert compared.base_mean == pytest.approx(0.3) and compared.tuned_pass == 1.0
    assert compared.significant and compared.low == pytest.approx(0.4)


def test_a_judge_must_be_a_chat_model() -> None:
    embeddings = DeploymentInfo(
        "vectors", "text-embedding-3-small", "1", "Standard", 1, "Succeeded"
    )
    with pytest.raises(UserError) as raised:
        refuse_judge(embeddings)
    assert "not a chat model" in raised.value.message
    refuse_judge(DeploymentInfo("judge", "gpt-4o", "2024-08-06", "Standard", 1, "Succeeded"))
