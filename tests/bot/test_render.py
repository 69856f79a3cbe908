"""The transport's own words in Korean: a proactive message's preview and the lines render.py
writes, the note of a card cut to fit, argument errors, an undelivered message, the note of an
echo that was cut, a failed turn's language. Driven through the real renderer, the real Notifier
(CloudAdapter to the channel fake), the real argument parsers and Azure clients; English stays
what it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity

from bot.adapter import create_adapter
from bot.arguments import key_values, no_args, optional_word
from bot.language import TURN_LANGUAGE, spoken
from bot.limits import fit, fits
from bot.notifier import Notifier
from bot.render import render
from infra import i18n
from infra.azure import Azure, Resource
from infra.errors import UserError
from skills.checks import CheckingFiles, FilesOffered
from skills.deployment.views import (
    DeletedForInactivity,
    DeploymentDeleted,
    DeploymentFailed,
    DeploymentPlan,
    DeploymentProgress,
    DeploymentSucceeded,
    IdleWarning,
)
from skills.notify import NotDelivered, View
from skills.provisioning.records import TeardownItem
from skills.provisioning.views import (
    ProvisionFailed,
    ProvisionPlan,
    ProvisionProgress,
    ProvisionSucceeded,
    TeardownProgress,
)
from skills.training.jobs import JobState
from skills.training.views import FinalView
from tests.channel import THREAD as CONVERSATION
from tests.channel import ChannelFake
from tests.harness import bot_settings
from tests.korean import english, texts_of

MODEL = "gpt-4o-mini-2024-07-18"
TUNED = f"{MODEL}.ft-0123456789abcdef0123456789abcdef-teacher"
PLAN = DeploymentPlan("teacher", TUNED, "standard", 1, True, 1.7, "f" * 32, 24)
PROVISION = ProvisionPlan(
    "aoai-lab", "rg-lab", "sub", "northcentralus", "North Central US", False, False, "a" * 32, 24
)
ITEMS = (TeardownItem(kind="deployment", id="teacher", label="teacher", state="done"),)


def job(status: str) -> JobState:
    return JobState(
        id="ftjob-abc",
        status=status,
        model=MODEL,
        fine_tuned_model=TUNED if status == "succeeded" else None,
        created_at=0,
        finished_at=None,
        trained_tokens=5166,
        training_file="file-1",
        validation_file="file-2",
        result_files=[],
        hyperparameters={"n_epochs": 3},
        error_code="invalid_file" if status == "failed" else None,
        error_message="The training file was deleted." if status == "failed" else None,
    )


PREVIEWS: list[tuple[View, str]] = [
    (FinalView(job("succeeded"), "a.jsonl", None, None), f"Training succeeded: {TUNED}"),
    (
        FinalView(job("failed"), "a.jsonl", None, None),
        "Training failed: The training file was deleted.",
    ),
    (FinalView(job("cancelled"), "a.jsonl", None, None), "Training cancelled: ftjob-abc"),
    (DeploymentProgress(PLAN, "Creating", 1.0), "Deploying teacher"),
    (DeploymentSucceeded(PLAN, 1.0), "teacher is deployed"),
    (DeploymentFailed(PLAN, "why", "ref"), "Deployment of teacher failed"),
    (DeploymentDeleted("teacher"), "teacher is deleted"),
    (IdleWarning("teacher", TUNED, 1.0, 2.0), "teacher will be deleted for inactivity"),
    (DeletedForInactivity("teacher", TUNED), "teacher was deleted for inactivity"),
    (CheckingFiles(("a.jsonl",), "validating"), "Checking your files"),
    (FilesOffered(("a.jsonl",), ("a" * 64,)), "Shall I check these files?"),
    (ProvisionProgress(PROVISION, "Creating", "Creating", 1.0), "Provisioning aoai-lab"),
    (ProvisionSucceeded(PROVISION, "https://x/", 1.0, False), "aoai-lab is ready"),
    (ProvisionFailed(PROVISION, "why"), "Provisioning aoai-lab failed"),
    (TeardownProgress("aoai-lab", ITEMS, False, False), "Teardown of aoai-lab: in progress"),
    (TeardownProgress("aoai-lab", ITEMS, True, False), "Teardown of aoai-lab: done"),
]


@pytest.mark.parametrize(("view", "shown"), PREVIEWS, ids=[s for _, s in PREVIEWS])
def test_a_proactive_message_previews_in_its_language(view: View, shown: str) -> None:
    with i18n.use("en"):
        assert render(view).summary == shown
    with i18n.use("ko"):
        summary = render(view).summary
    names = [TUNED, "teacher", "aoai-lab", "ftjob-abc", "The training file was deleted."]
    assert summary != shown and english([summary], names) == [], summary


def test_the_other_final_status_and_the_job_preview() -> None:
    with i18n.use("ko"):
        ended = render(FinalView(job("paused"), "a.jsonl", None, None)).summary
        unknown = render(FinalView(job("expired"), "a.jsonl", None, None)).summary
    assert ended == "학습 종료: 일시 중지됨"  # the bot resumes it now (`재개`)
    assert unknown == "학습 종료: expired"  # a status Azure added later: its word, as it is
    with i18n.use("en"):
        assert render(FinalView(job("paused"), "a.jsonl", None, None)).summary == (
            "Training ended: Paused"
        )


@pytest.mark.parametrize(
    ("view", "shown"),
    [
        (DeploymentDeleted("teacher"), "`teacher` is deleted"),
        (DeploymentDeleted("teacher", by="Alice {0}"), "`teacher` is deleted (by `Alice {0}`)"),
        (DeploymentDeleted("teacher", elsewhere=True), "`teacher` is deleted (deleted elsewhere)"),
    ],
)
def test_the_deleted_card_says_who_in_its_language(view: DeploymentDeleted, shown: str) -> None:
    def seen(activity: Activity) -> list[str]:
        return texts_of({"attachments": [{"content": activity.attachments[0].content}]})

    with i18n.use("en"):
        assert seen(render(view)) == [shown]
    with i18n.use("ko"):
        korean = seen(render(view))
    assert english(korean) == [] and "`teacher`" in korean[0], korean
    if view.by:
        assert "`Alice {0}`" in korean[0]


async def test_a_view_sent_later_speaks_the_language_around_the_send(
    notifier: Notifier, channel: ChannelFake
) -> None:
    view = DeploymentDeleted("teacher", by="Alice")
    with i18n.use("ko"):
        message = await notifier.send(CONVERSATION, view)
        await notifier.update(CONVERSATION, message, DeploymentDeleted("teacher"))
    await notifier.send(CONVERSATION, view)
    korean, updated, english_one = (dict(a) for a in channel.sent)
    for sent in (korean, updated):
        assert english(texts_of(sent)) == [] and english([sent["summary"]], ["teacher"]) == []
    assert updated["_op"] == "update" and updated["summary"] == "teacher 배포가 삭제되었습니다"
    assert texts_of(english_one) == ["`teacher` is deleted (by `Alice`)"]  # names: TextRuns
    assert english_one["summary"] == "teacher is deleted"


async def test_an_undelivered_message_says_why_in_the_language(
    notifier: Notifier, channel: ChannelFake
) -> None:
    with i18n.use("ko"):
        with pytest.raises(NotDelivered) as unknown:
            await notifier.post("never-seen", MessageFactory.text("hello"))
        channel.failures = [(403, {})]
        with pytest.raises(NotDelivered) as refused:
            await notifier.post(CONVERSATION, MessageFactory.text("nope"))
        said = [unknown.value.message, refused.value.message]
    assert english(said) == [] and "HTTP 403" in said[1], said
    assert unknown.value.message == (
        "I have never been in that conversation, so I cannot write there."
    )
    assert refused.value.message == "The channel refused the message (HTTP 403)."


def _big_card(elements: int) -> Activity:
    body = [{"type": "TextBlock", "text": "x" * 5_000} for _ in range(elements)]
    content = {"type": "AdaptiveCard", "version": "1.5", "body": body}
    return MessageFactory.attachment(CardFactory.adaptive_card(content))


def _note(activity: Activity) -> str:
    content: dict[str, Any] = activity.attachments[0].content
    return str(content["body"][-1]["text"])


def test_a_card_cut_to_fit_says_so_in_the_language() -> None:
    with i18n.use("en"):
        one = fit(_big_card(4))
        many = fit(_big_card(8))
    assert fits(one) and fits(many)
    assert _note(one) == "This card was cut to fit Teams' message size limit: 1 part is not shown."
    assert _note(many) == (
        "This card was cut to fit Teams' message size limit: 5 parts are not shown."
    )
    with i18n.use("ko"):
        korean = fit(_big_card(8))
    assert fits(korean) and english([_note(korean)]) == [] and "개 항목" in _note(korean)


def _refusal(parse: Callable[[], object]) -> str:
    with pytest.raises(UserError) as raised:
        parse()
    return raised.value.message


ARGUMENTS: list[tuple[Callable[[], object], str]] = [
    (lambda: no_args("extra words", {}), "This command takes no arguments (got `extra words`)."),
    (lambda: optional_word("me please", {}), "Expected one word, got `me please`."),
    (
        lambda: key_values("a colour=blue", {"model", "epochs"}),
        "Unknown option `colour`; use `epochs`, `model`.",
    ),
    (
        lambda: key_values("epochs=", {"model", "epochs"}),
        "Option `epochs` needs a value, as in `epochs=...`.",
    ),
]


@pytest.mark.parametrize(("parse", "shown"), ARGUMENTS, ids=[s for _, s in ARGUMENTS])
def test_a_bad_argument_is_refused_in_the_language(parse: Callable[[], object], shown: str) -> None:
    with i18n.use("en"):
        assert _refusal(parse) == shown
    with i18n.use("ko"):
        korean = _refusal(parse)
    assert korean != shown and english([korean]) == [], korean


def test_an_echo_cut_short_says_so_in_the_language() -> None:
    long = "w" * 100
    with i18n.use("en"):
        assert _refusal(lambda: no_args(long, {})).endswith("(cut at 60 of 100 characters)).")
    with i18n.use("ko"):
        korean = _refusal(lambda: no_args(long, {}))
    assert english([korean]) == [] and "100자 중 60자" in korean, korean


def test_no_resource_yet_is_said_in_the_language(tmp_path: Path) -> None:
    azure = Azure(bot_settings(tmp_path), sandbox_url="http://127.0.0.1:9", sandbox_token="t")
    nowhere = Resource("sub", "group", "", "")
    with i18n.use("ko"):
        korean = _refusal(lambda: azure.openai(nowhere))
    assert english([korean]) == [] and "`프로비저닝 name=<리소스>`" in korean
    assert _refusal(lambda: azure.openai(nowhere)).startswith("There is no Azure OpenAI resource")


def test_a_failed_turn_is_told_in_the_turns_language(tmp_path: Path) -> None:
    adapter = create_adapter(bot_settings(tmp_path))

    def context(**fields: Any) -> TurnContext:
        return TurnContext(adapter, Activity().deserialize({"type": "message", **fields}))

    decided = context(locale="ko-KR")
    decided.turn_state[TURN_LANGUAGE] = "en"  # the user chose English: the hook keeps it
    assert spoken(decided) == "en"
    assert spoken(context(locale="ko-KR")) == "ko"  # failed before deciding: the locale
    info = [{"type": "clientInfo", "locale": "ko-KR"}]
    assert spoken(context(entities=info)) == "ko"
    assert spoken(context(locale="fr-FR")) == "en"
    assert spoken(context()) == "en"
