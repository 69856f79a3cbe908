"""What the bot says back: every echo of user text is capped (and says so) and never live
markdown in the bot's voice, and every message stays under Teams' message size limit."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from botbuilder.core import CardFactory, MessageFactory

from adaptive_cards.common import card, text
from bot.limits import ENVELOPE, MAX_UTF8, MAX_UTF16, fit, fits, sizes, split_text
from bot.render import render
from infra import i18n
from skills.training.jobs import Checkpoint, Metric
from skills.training.views import FinalView
from tests.adaptive_cards.test_card_rules import pieces
from tests.adaptive_cards.test_cards import TRAINING, TUNED, job
from tests.channel import ChannelFake, Conversation, card_of, card_text
from tests.e2e.test_datasets_chat import attachment
from tests.e2e.test_deployment import MODEL, deploy_and_wait

LINK = re.compile(r"(?<!\\)\[[^\]`]*(?<!\\)\]\(")


def live_links(message: str) -> list[str]:
    """Markdown links a client would draw in `message` (code spans hold none)."""
    outside = re.sub(r"`[^`]*`", "", message)
    return LINK.findall(outside)


def _under_the_limit(activity: dict[str, Any]) -> bool:
    utf8, utf16 = sizes({k: v for k, v in activity.items() if not k.startswith("_")})
    return utf8 <= 28_000 and utf16 <= 40_000


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox_speedup": 3000.0}


async def test_a_huge_unknown_word_comes_back_capped(
    conversation: Callable[..., Conversation],
) -> None:
    word = "w" * 100_000
    reply = await conversation().say(word)
    assert len(reply["text"]) < 300
    assert "(cut at 60 of 100,000 characters)" in reply["text"]


@pytest.mark.parametrize(
    "typed",
    [
        "help [click me](http://evil.test)",
        "help a`b [click me](http://evil.test) `c",  # a backtick to break out of the code span
        "status [x](http://evil.test)",
        "train [x](http://evil.test)",
        "validate `[x](http://evil.test)`",
        "deploy [x](http://evil.test) name=[y](http://evil.test)",
    ],
)
async def test_typed_links_do_not_come_back_live(
    conversation: Callable[..., Conversation], typed: str
) -> None:
    reply = await conversation().say(typed)
    assert "evil.test" in reply["text"]
    assert live_links(reply["text"]) == [], reply["text"]


async def test_a_system_message_comes_back_as_text(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    await deploy_and_wait(chat, f"deploy {MODEL} name=base")
    await chat.say("chat base")
    reply = await chat.say("system [click me](http://evil.test) **loud** `code` " + "x" * 1000)
    assert live_links(reply["text"]) == [] and "**loud**" not in reply["text"]
    assert "(cut at 500 of " in reply["text"]
    shown = list(pieces(card_of(await chat.say("chat base"))))
    quoted = [p.value for p in shown if p.quote]
    assert any(q.startswith("[click me](http://evil.test) **loud** `code`") for q in quoted)
    assert not [p for p in shown if p.markdown and "click me" in p.value]


async def test_huge_keys_in_a_file_do_not_make_a_huge_card(
    conversation: Callable[..., Conversation], channel: ChannelFake
) -> None:
    keys = {f"[k{i}](http://evil.test)" + "k" * 100_000: 1 for i in range(8)}
    content = (json.dumps(keys) + "\n").encode() * 3
    chat = conversation()
    report = await chat.checked("validate", attachments=[attachment(channel, "t.jsonl", content)])
    assert "lines with the keys" in card_text(report)
    assert _under_the_limit(report)
    assert live_links(json.dumps(card_of(report))) == []


def test_long_text_is_split_into_messages_that_fit() -> None:
    long = "\n".join(f"line {i}: " + "é" * 300 for i in range(400))
    parts = split_text(long)
    assert len(parts) > 1 and "\n".join(parts) == long
    assert all(fits(MessageFactory.text(part)) for part in parts)


def test_a_card_over_the_limit_is_cut_and_says_so() -> None:
    big = card([text("x" * 2000) for _ in range(50)])
    activity = fit(MessageFactory.attachment(CardFactory.adaptive_card(big)))
    assert fits(activity)
    assert "cut to fit Teams' message size limit" in json.dumps(activity.serialize())


def test_the_training_notice_and_its_chart_fit_in_one_message() -> None:
    """The loss chart PNG rides in the card, the Chart.Line's fallback, at twice the width a
    phone shows it (~6 KB of base64 for 400 noisy steps): a notice with ids as long as Azure's
    and three checkpoints fits Teams' limit whole, with room to spare, in either language."""
    last = Metric(480, 0.4, 0.86, 0.6, 0.8, 0.62, 0.79)
    noise = [0.3 * math.sin(i * 1.7) * math.cos(i * 0.31) for i in range(401)]
    train = [[float(i), 2.0 * math.exp(-i / 50) + noise[i]] for i in range(1, 401)]
    valid = [[float(i), 2.1 * math.exp(-i / 50) + noise[i] / 2] for i in range(1, 401, 10)]
    tuned = f"{TUNED.split('.ft-')[0]}.ft-{'f' * 32}"  # as long as Azure's (no suffix)
    checkpoints = [
        Checkpoint(f"ftchkpt-{s:032x}", f"{tuned}:ckpt-step-{s}", s, last) for s in (160, 320, 480)
    ]
    ended = replace(job("succeeded"), id=f"ftjob-{'e' * 32}", fine_tuned_model=tuned)
    view = FinalView(ended, TRAINING.files, last, train, valid, checkpoints, 600.0)
    for language in ("en", "ko"):
        with i18n.use(language):
            activity = render(view)
        [card] = activity.attachments
        chart = next(e for e in card.content["body"] if e["type"] == "Chart.Line")
        assert chart["fallback"]["url"].startswith("data:image/png;base64,")
        utf8, utf16 = sizes(activity.serialize())
        assert utf8 < MAX_UTF8 - ENVELOPE - 2_000, (language, utf8)
        assert utf16 < MAX_UTF16 - 2 * ENVELOPE - 1_000, (language, utf16)
        assert fit(activity) is activity and "cut to fit" not in json.dumps(card.content)
