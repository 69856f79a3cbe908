"""Hosting and the chat playground in Korean: every card, reply and error they show is Korean
(names, models, commands and others' words quoted), English stays English, and the cards that a
background task updates later speak the language of the person who started the work."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from adaptive_cards import chat, deployment
from adaptive_cards.common import Card
from app import build_context
from bot.render import card_activity, render
from infra import i18n
from infra.azure import Azure, Resource
from infra.errors import UserError
from infra.records import RecordStore
from infra.storage import SqliteStorage
from sandbox.app import create_sandbox_app
from skills.chat import Answer, ChatSession, DeploymentGone, parse_example
from skills.deployment.arm import DeploymentInfo
from skills.deployment.follow import Follower
from skills.deployment.records import DeleteCard, DeploymentRecord
from skills.deployment.service import refuse_existing
from skills.deployment.views import (
    DeletedForInactivity,
    DeploymentDeleted,
    DeploymentFailed,
    DeploymentList,
    DeploymentPlan,
    DeploymentProgress,
    DeploymentRow,
    DeploymentSucceeded,
    IdleWarning,
)
from skills.notify import View
from skills.playground import NO_SESSION, Comparison, Side
from tests.harness import SANDBOX_TOKEN, bot_settings
from tests.korean import english, texts_of
from tests.training_flow import wait_until

MODEL = "gpt-4o-mini-2024-07-18"
TUNED = f"{MODEL}.ft-0123456789abcdef0123456789abcdef-teacher"
RESOURCE = Resource("sub", "group", "aoai-lab", "http://127.0.0.1:9/")
TEACHER = "The system is an AI teacher that helps people learn about AI"


def plan(sku: str = "standard", fine_tuned: bool = True, price: float | None = 1.7) -> Any:
    return DeploymentPlan("teacher", TUNED, sku, 1, fine_tuned, price, "f" * 32, 24)


def answer(text: str, **changes: Any) -> Answer:
    found = Answer("teacher", text, 1234, 12, TUNED, 1.0, "stop")
    return replace(found, **changes)


def session() -> ChatSession:
    return ChatSession(
        conversation="c",
        user="u",
        resource=RESOURCE,
        deployment="teacher",
        model=TUNED,
        system=TEACHER,
        examples=[("What are the types of AI?", "Narrow, general and super intelligence.")],
    )


def views() -> Iterator[View]:
    """Every view of hosting, as the notifier renders it."""
    for each in (plan(), plan("developer"), plan(fine_tuned=False), plan(price=None)):
        yield DeploymentProgress(each, "Creating", 75.0)
    yield DeploymentSucceeded(plan(), 1100.0)
    yield DeploymentFailed(plan(), i18n._("Azure no longer shows it."), "ftjob-0123")
    yield IdleWarning("teacher", TUNED, 13 * 86400.0, 2 * 86400.0)
    yield DeletedForInactivity("teacher", TUNED)


def cards() -> Iterator[Card]:
    """Every card of hosting and the playground, built in the current language."""
    yield deployment.confirm_card(plan())
    yield deployment.cancelled_card(plan())
    rows = [
        DeploymentRow("teacher", TUNED, "standard", 1, "Succeeded", 7200.0, 86400.0, 0.1, 14.9),
        DeploymentRow("base", MODEL, "globalstandard", 2, "Creating", None, 60.0, None, None),
        DeploymentRow("fresh", TUNED, "developer", 1, "Deleting", None, None, None, None),
    ]
    yield deployment.deployments_card(
        DeploymentList("aoai-lab", rows, [DeletedForInactivity("old", TUNED)])
    )
    yield deployment.deployments_card(DeploymentList("aoai-lab", [], []))
    yield deployment.delete_confirm_card("teacher", TUNED, "d" * 32, 24)
    yield deployment.deleting_card(deployment.deleting_sentence("teacher"))
    yield deployment.deleting_card(deployment.kept_sentence("teacher"))
    yield deployment.deleted_card(DeploymentDeleted("teacher"))
    yield deployment.deleted_card(DeploymentDeleted("teacher", by="Ada"))
    yield deployment.deleted_card(DeploymentDeleted("teacher", elsewhere=True))
    yield deployment.kept_alive_card("teacher", TUNED, "kim-1")
    yield chat.session_card(session())
    yield chat.session_card(session().model_copy(update={"system": "", "examples": []}))
    yield chat.compare_card(
        Comparison(
            "What is AI?",
            Side("teacher", answer("Software that learns.", dropped=3, finish_reason="length")),
            Side("base", None, DeploymentGone("base").message),
        )
    )
    yield chat.compare_card(
        Comparison(
            "What is AI?",
            Side("teacher", answer("", finish_reason="content_filter")),
            Side("base", answer("")),
        )
    )


def shown() -> list[list[str]]:
    """What a person reads on every card, view and chat message of this area."""
    seen = [texts_of(render(view).serialize()) for view in views()]
    seen += [texts_of(card_activity(content).serialize()) for content in cards()]
    messages = [
        chat.answer_message(answer("Narrow AI does one task.\n\nGeneral AI would do any.")),
        chat.answer_message(answer("", finish_reason="content_filter")),
        chat.said_with(i18n._("System message set for `{deployment}`:", deployment="t"), TEACHER),
    ]
    seen += [[message] for message in messages]
    return seen


def errors() -> list[UserError]:
    """The sentences hosting and the playground refuse with."""
    found: list[UserError] = [DeploymentGone("teacher"), UserError(NO_SESSION)]
    for existing in (
        DeploymentInfo("teacher", TUNED, "1", "Standard", 1, "Deleting"),
        DeploymentInfo("teacher", TUNED, "1", "Standard", 1, "Creating"),
        DeploymentInfo("teacher", MODEL, "1", "Standard", 1, "Succeeded"),
    ):
        try:
            refuse_existing(existing, TUNED)
        except UserError as error:
            found.append(error)
    try:
        parse_example("no arrow")
    except UserError as error:
        found.append(error)
    return found


def test_every_hosting_and_chat_text_is_korean() -> None:
    with i18n.use("ko"):
        seen = shown()
        said = [error.message for error in errors()]
    leaks = [line for texts in seen for line in english(texts)]
    assert leaks == []
    assert english(said) == []
    flat = "\n".join(text for texts in seen for text in texts)
    assert "배포" in flat and "US$1.70" in flat and "`teacher`" in flat
    assert "> Narrow AI does one task." in flat  # the model's words, quoted
    assert TEACHER in flat  # the user's system message, as written


def test_english_stays_english() -> None:
    with i18n.use("en"):
        flat = "\n".join(text for texts in shown() for text in texts)
        said = [error.message for error in errors()]
    assert "Estimated hosting fee: $1.70 per hour (about $40.80 a day)" in flat
    assert "Deploy `teacher`?" in flat and "idle 0.1 days, 14.9 days left of 15" in flat
    assert (
        "> Narrow AI does one task.\n>\n> General AI would do any.\n\n_teacher · 1,234 prompt"
        in flat
    )
    assert "System message set for `t`:\n> " + TEACHER in flat
    assert said[0].startswith("There is no ready deployment `teacher`")
    assert "배포" not in flat + "".join(said)


class Recorder:
    """Notify as the bot's notifier does it: each view rendered when it is sent."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    async def send(self, conversation: str, view: View) -> str:
        self.seen.append(render(view).serialize())
        return f"m{len(self.seen)}"

    async def update(self, conversation: str, message: str, view: View) -> None:
        self.seen.append(render(view).serialize())


async def test_a_followed_deployment_speaks_its_deployers_language(tmp_path: Path) -> None:
    """The follower updates a Korean deployer's card in Korean while the bot speaks English."""
    root = web.Application()
    root.add_subapp("/sandbox", create_sandbox_app(tmp_path / "sandbox", arm_token=SANDBOX_TOKEN))
    runner = web.AppRunner(root)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/sandbox"
    settings = bot_settings(tmp_path / "bot")
    storage = SqliteStorage(tmp_path / "state.sqlite3")
    recorder = Recorder()
    ctx = build_context(settings, RecordStore(storage), recorder)
    ctx = replace(ctx, azure=Azure(settings, sandbox_url=url))
    resource = ctx.azure.default
    try:
        with i18n.use("ko"):
            gone = DeploymentRecord(
                resource=resource, name="gone", model=TUNED, fine_tuned=True, conversation="c"
            )
            deleting = gone.model_copy(
                update={
                    "name": "deleted",
                    "state": "deleting",
                    "delete_cards": [DeleteCard(conversation="c", card="m0")],
                }
            )
        assert i18n.current() == "en" and gone.language == "ko"
        follower = Follower(ctx)
        for record in (gone, deleting):
            await ctx.records.put(record)
            follower.follow(record.resource, record.name)
        # "gone" had no card: its follower posts its progress first, then its end
        await wait_until(lambda: len(recorder.seen) >= 3, 20)
    finally:
        await ctx.tasks.close(grace=1.0)
        await ctx.azure.close()
        await storage.close()
        await runner.cleanup()
    texts = [texts_of(activity) for activity in recorder.seen]
    failed = [t for t in texts if any("`gone`" in line for line in t)][-1]
    assert english(failed) == [], failed
    flat = "\n".join(failed)
    assert "`gone` 배포 실패" in flat and "Azure에 더 이상 표시되지 않습니다." in flat
    # The deleted card's heading is bot/render.py's (still English there): it is said with
    # adaptive_cards.deployment.deleted_card, Korean in test_every_hosting_and_chat_text_is_korean.
    assert any(any("deleted" in line for line in t) for t in texts)


def _actions(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if node.get("type") == "Action.Submit" else []
        return own + [a for value in node.values() for a in _actions(value)]
    if isinstance(node, list):
        return [a for value in node for a in _actions(value)]
    return []


def test_each_deployment_has_its_model_state_and_buttons_delete_apart_from_chat() -> None:
    row = DeploymentRow("teacher", TUNED, "standard", 1, "Succeeded", 60.0, 600.0, 0.1, 14.9)
    listing = deployment.deployments_card(
        DeploymentList("aoai-lab", [row], [DeletedForInactivity("old", TUNED)])
    )
    shown = texts_of(card_activity(listing).serialize())
    assert "`teacher` · Succeeded, Standard x1" in shown  # name, state, sku: one line
    assert f"`{TUNED}`" in shown
    first = next(b for b in listing["body"] if b.get("separator"))
    buttons = first["items"][-1]["columns"]  # Chat and Keep alive, then Delete in a column
    left, right = ([a["title"] for a in _actions(c)] for c in buttons)
    assert (left, right) == (["Chat", "Keep alive"], ["Delete"])
    styles = {a["title"]: a.get("style") for a in _actions(listing)}
    assert styles == {"Chat": None, "Keep alive": None, "Delete": "destructive", "Redeploy": None}
    gone = _actions(listing)[-1]["data"]
    assert (gone["verb"], gone["model"], gone["name"]) == ("deploy", TUNED, "old")


def test_the_main_action_is_positive_and_what_deletes_is_destructive() -> None:
    def styles(content: Card) -> list[tuple[str, str | None]]:
        return [(a["title"], a.get("style")) for a in _actions(content)]

    assert styles(deployment.confirm_card(plan())) == [("Deploy", "positive"), ("Cancel", None)]
    assert styles(deployment.succeeded_card(DeploymentSucceeded(plan(), 1.0))) == [
        ("Chat with it", "positive"),
        ("Evaluate", None),
        ("Delete deployment", "destructive"),
    ]
    warning = deployment.idle_warning_card(IdleWarning("teacher", TUNED, 1.0, 2.0))
    assert styles(warning) == [("Keep alive", "positive"), ("Delete now", "destructive")]
    assert warning["body"][0]["style"] == "warning"  # a band, not a text colour
    asked = deployment.delete_confirm_card("teacher", TUNED, "d" * 32, 24)
    assert styles(asked) == [("Delete", "destructive"), ("Keep it", None)]
