"""`spend` and `budget` through the whole protocol: the channel fake posts to the bot, the bot asks
the embedded sandbox's Cost Management (Query_Usage, checked against Microsoft's specification)
through azure-mgmt-costmanagement, and the card splits what the sandbox billed.

The ledger the card must match is what the sandbox really ran, measured from outside: the job's
`trained_tokens` at the list price, and the hour between the deployment's creation (its
`systemData.createdAt`) and its deletion (the `x-sandbox-time` of the DELETE's answer) at the
hourly fee: Azure bills from the deployment's readiness to its removal, each as long after those
two moments. The card shows cents, so each part must be within 1% of the ledger or half a cent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.mgmt.cognitiveservices.models import (
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    Sku,
)

from infra.azure import AzureClients, azure_clients
from infra.prices import HOSTING_PRICE_PER_HOUR, TRAINING_PRICE_PER_1M_TOKENS
from sandbox.contract import ACCOUNT, BOT_PRINCIPAL, RESOURCE_GROUP, SUBSCRIPTION
from sandbox.ids import assignment_name
from tests.channel import Conversation, buttons, card_text
from tests.e2e.test_deployment import MODEL, trained_model
from tests.harness import SANDBOX_TOKEN, client_settings
from tests.korean import english, texts_of
from tests.sandbox_server import wait_for
from tests.training_flow import FAST, facts_of, is_job_card, job_cards, train, validate_samples

GROUP_SCOPE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
COST_READER = "72fafb9e-0641-4937-9268-a91bfd8191a3"
SPEEDUP = 3000.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox_speedup": SPEEDUP, "cost_delay_hours": 0.0}


def money(value: str) -> float:
    """`$1,234.56` -> 1234.56."""
    return float(re.sub(r"[^0-9.]", "", value))


async def sandbox_time(bot_url: str) -> float:
    """The embedded sandbox's clock, from the header every answer carries."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{bot_url}/sandbox/subscriptions/{SUBSCRIPTION}/resourcegroups",
            params={"api-version": "2025-04-01"},
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        ) as response,
    ):
        return float(response.headers["x-sandbox-time"])


async def host(azure: AzureClients, bot_url: str, model: str, hours: float) -> float:
    """Deploy `model`, keep it up for `hours` of sandbox time, delete it; returns the hours it
    was billed for, from outside (creation to deletion, as the sandbox's clock says)."""
    cognitive = azure.cognitive
    cognitive._config.polling_interval = 0.02
    body = Deployment(
        sku=Sku(name="standard", capacity=1),
        properties=DeploymentProperties(
            model=DeploymentModel(format="OpenAI", name=model, version="1")
        ),
    )
    poller = await cognitive.deployments.begin_create_or_update(
        RESOURCE_GROUP, ACCOUNT, "teacher", body
    )
    deployed = await poller.result()
    created = deployed.system_data.created_at.timestamp()

    async def hosted() -> bool:
        return await sandbox_time(bot_url) >= created + hours * 3600

    await wait_for(hosted, within=60)
    deleted: list[float] = []

    def seen(response: Any) -> None:  # the DELETE's answer: when the sandbox took it
        if not deleted:
            deleted.append(float(response.http_response.headers["x-sandbox-time"]))

    poller = await cognitive.deployments.begin_delete(
        RESOURCE_GROUP, ACCOUNT, "teacher", raw_response_hook=seen
    )
    await poller.result()
    return (deleted[0] - created) / 3600


def near(shown: str, expected: float) -> bool:
    return abs(money(shown) - expected) <= max(0.01 * expected, 0.005)


async def test_spend_splits_what_the_sandbox_billed(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job_id, model = await trained_model(bot_url, tmp_path)
    async with azure_clients(
        client_settings(tmp_path / "client"), sandbox_url=f"{bot_url}/sandbox"
    ) as azure:
        job = await azure.openai.fine_tuning.jobs.retrieve(job_id)
        hours = await host(azure, bot_url, model, 1.0)
    training = (job.trained_tokens or 0) * TRAINING_PRICE_PER_1M_TOKENS[MODEL] / 1_000_000
    hosting = hours * HOSTING_PRICE_PER_HOUR["standard"]

    chat = conversation()
    answer = await chat.say("spend")
    facts = facts_of(answer)
    assert "Spend on aoai-sandbox this month" in card_text(answer), card_text(answer)
    assert near(facts["Training jobs"], training), (facts, training)
    assert near(facts["Hosting"], hosting), (facts, hosting)
    assert money(facts["Inference"]) == 0.0  # nobody chatted
    assert money(facts["Not reported by Azure yet (estimate)"]) == 0.0  # no delay set
    assert near(facts["Total"], training + hosting)
    assert "Azure's latest data is for" in card_text(answer)

    thirty = await chat.say("spend last 30 days")
    assert "in the last 30 days" in card_text(thirty)
    assert near(facts_of(thirty)["Total"], training + hosting)


@pytest.mark.parametrize("settings_overrides", [{"sandbox_speedup": SPEEDUP}])
async def test_what_azure_has_not_reported_yet_is_the_bots_labelled_estimate(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job_id, _ = await trained_model(bot_url, tmp_path)  # the default delay: 8 hours
    async with azure_clients(
        client_settings(tmp_path / "client"), sandbox_url=f"{bot_url}/sandbox"
    ) as azure:
        job = await azure.openai.fine_tuning.jobs.retrieve(job_id)
    training = (job.trained_tokens or 0) * TRAINING_PRICE_PER_1M_TOKENS[MODEL] / 1_000_000

    answer = await conversation().say("spend")
    facts = facts_of(answer)
    assert money(facts["Training jobs"]) == 0.0  # Cost Management has not reported it yet
    assert near(facts["Not reported by Azure yet (estimate)"], training), (facts, training)
    assert near(facts["Total"], training)
    assert "Azure Cost Management has reported no cost yet." in card_text(answer)
    assert "Azure reports costs hours late" in card_text(answer)


async def test_without_cost_management_reader_one_sentence_names_the_role(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    async with azure_clients(
        client_settings(tmp_path / "client"), sandbox_url=f"{bot_url}/sandbox"
    ) as azure:
        name = assignment_name(GROUP_SCOPE, BOT_PRINCIPAL, COST_READER)
        await azure.authorization.role_assignments.delete(GROUP_SCOPE, name)
    answer = await conversation().say("spend")
    text = answer["text"]
    assert "Cost Management Reader" in text and RESOURCE_GROUP in text, text
    assert not answer.get("attachments")


@pytest.mark.parametrize(
    "settings_overrides",
    [{"sandbox_speedup": SPEEDUP, "sandbox_faults": "costs429=1,retry_after=0.01"}],
)
async def test_throttling_is_one_sentence_with_the_wait(
    conversation: Callable[..., Conversation], bot_url: str
) -> None:
    answer = await conversation().say("spend")
    assert "throttling" in answer["text"] and "try `spend` again after 1 sec" in answer["text"]


async def test_budget_is_set_by_an_admin_and_shown(
    conversation: Callable[..., Conversation], bot_url: str
) -> None:
    chat = conversation()
    assert "No budget is set here" in card_text(await chat.say("budget"))
    for bad in ("budget 0/month", "budget -5/month", "budget lots"):
        refused = await chat.say(bad)
        assert "A budget is a positive amount a month" in refused["text"], refused
    answer = await chat.say("budget 500/month")
    assert "500.00 a month" in card_text(answer)
    assert "500.00 a month" in card_text(await chat.say("budget"))
    spend = await chat.say("spend")
    assert "of $500.00" in facts_of(spend)["Budget this month"]
    thirty = await chat.say("spend last 30 days")  # a monthly budget is not set against 30 days
    assert "Budget this month" not in facts_of(thirty)
    audit = card_text(await chat.say("audit"))
    assert "budget" in audit and "500.00/month" in audit


@pytest.mark.parametrize(
    "settings_overrides",
    [{**FAST, "sandbox_speedup": SPEEDUP, "admins": ["admin-1"], "trainers": ["trainer-1"]}],
)
async def test_a_training_over_the_budget_waits_for_an_admin_and_runs_once_approved(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation(user_id="admin-1", user_name="Ada Admin")
    assert "0.01 a month" in card_text(await chat.say("budget 0.01/month"))

    chat.user = {"id": "trainer-1", "name": "Tom Trainer"}  # the same conversation, its trainer
    refused = await chat.say("budget 1000/month")
    assert refused["text"] == "Only an admin can set the budget; `budget` shows it."
    await validate_samples(chat)
    confirm = await train(chat)
    assert "That is over the budget: an admin must approve it." in card_text(confirm)
    await chat.press(confirm, "Confirm training")
    waiting = await chat.reply(
        lambda a: a["id"] == confirm["id"] and "Approve a training over the budget?" in card_text(a)
    )
    assert facts_of(waiting)["Asked by"] == "Tom Trainer"
    assert not job_cards(chat)  # nothing started

    refused = await chat.say("", value=buttons(waiting)["Approve"])  # a trainer cannot approve
    assert "needs the admin role" in refused["text"]

    chat.user = {"id": "admin-1", "name": "Ada Admin"}
    await chat.press(waiting, "Approve")
    approved = await chat.reply(
        lambda a: a["id"] == confirm["id"] and "Approved by" in card_text(a)
    )
    assert "Approved by Ada Admin; the training starts." in card_text(approved)
    await chat.reply(is_job_card, seconds=30)  # it runs, as Tom asked it
    again = await chat.say("", value=buttons(waiting)["Approve"])
    assert "already" in again["text"]
    assert len(job_cards(chat)) == 1

    audit = card_text(await chat.say("audit"))
    for words in ("approval asked", "Tom Trainer", "approve", "Ada Admin", "train"):
        assert words in audit, audit


async def test_spend_and_budget_speak_korean(conversation: Callable[..., Conversation]) -> None:
    chat = conversation()
    said = [await chat.say(words, locale="ko-KR") for words in ("예산 500/월", "비용", "예산")]
    assert "예산" in card_text(said[0]) and "이번 달" in card_text(said[1])
    for activity in said:
        assert english(texts_of(activity)) == [], texts_of(activity)


@pytest.mark.parametrize(
    "settings_overrides",
    [{"sandbox_speedup": SPEEDUP, "cost_delay_hours": 0.0, "budget_check_seconds": 0.2}],
)
async def test_the_conversation_hears_once_when_the_month_passes_its_budget(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    chat = conversation()
    await chat.say("budget 0.02/month")
    await trained_model(bot_url, tmp_path)  # about $0.03 of training: past 100% (and 80%)

    def notice(activity: dict[str, Any]) -> bool:
        return "has used its whole budget this month" in card_text(activity)

    await chat.reply(notice, seconds=30)  # the watch found it; nobody asked
    await chat.say("spend")  # the month computed again: the notice decided again, not sent
    assert len([a for a in chat.replies() if notice(a)]) == 1
    assert not [a for a in chat.replies() if "of its budget this month" in card_text(a)]


@pytest.mark.parametrize(
    "settings_overrides",
    [{"azure_openai_endpoint": "https://aoai-lab.openai.azure.com/", "azure_openai_api_key": "k"}],
)
async def test_without_resource_manager_spend_is_one_sentence(
    conversation: Callable[..., Conversation],
) -> None:
    answer = await conversation().say("spend")
    assert answer["text"] == (
        "I cannot read costs without Azure Resource Manager: set AZURE_SUBSCRIPTION_ID and "
        "AZURE_RESOURCE_GROUP."
    )


@pytest.mark.parametrize(
    "settings_overrides",
    [{"sandbox_speedup": SPEEDUP, "admins": ["admin-1"], "trainers": ["trainer-1"]}],
)
async def test_a_deployment_over_the_budget_waits_for_an_admin(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job, model = await trained_model(bot_url, tmp_path)
    chat = conversation(user_id="admin-1", user_name="Ada Admin")
    await chat.say("budget 10/month")  # a month of hosting at $1.70 an hour is far more
    chat.user = {"id": "trainer-1", "name": "Tom Trainer"}
    confirm = await chat.say(f"deploy {model} name=teacher")
    assert "That is over the budget: an admin must approve it." in card_text(confirm)
    await chat.press(confirm, "Deploy")
    waiting = await chat.reply(
        lambda a: (
            a["id"] == confirm["id"] and "Approve a deployment over the budget?" in card_text(a)
        )
    )
    chat.user = {"id": "admin-1", "name": "Ada Admin"}
    await chat.press(waiting, "Approve")
    await chat.reply(lambda a: a["id"] == confirm["id"] and "is deployed" in card_text(a), 20)
    audit = card_text(await chat.say("audit"))
    assert "approval asked" in audit and "deploy teacher" in audit, audit
