"""The lab's first three steps and its last one, from chat, against the bot's embedded sandbox:
provision, resource, roles, keys, keys rotate, teardown, purge, audit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from azure.core.exceptions import ResourceNotFoundError
from openai import AsyncOpenAI

from infra.azure import AzureClients, Resource, azure_clients
from sandbox import contract
from tests.channel import Activity, Conversation, card_text
from tests.e2e.test_deployment import updated
from tests.harness import SANDBOX_TOKEN, client_settings
from tests.training_flow import (
    FAST,
    ask,
    is_notice,
    notices,
    train,
    validate_samples,
    wait_until,
)

ADMIN = "0a11ce00-0000-4000-8000-000000000001"
"""The caller's AAD object id (Teams sends it as `from.aadObjectId`)."""
GROUP, ACCOUNT, REGION = "sandbox", "aoai-lab2", "northcentralus"
CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**FAST, "sandbox_speedup": 3000.0}


def clients(bot_url: str, tmp_path: Path) -> Any:
    """The official SDKs on the bot's sandbox, as the bot's own principal, on aoai-lab2."""
    return azure_clients(
        client_settings(
            tmp_path / "client", azure_resource_group=GROUP, azure_openai_account=ACCOUNT
        ),
        sandbox_url=f"{bot_url}/sandbox",
    )


def as_principal(endpoint: str, object_id: str) -> AsyncOpenAI:
    """The v1 data plane with a token acting as `object_id` (docs/sandbox.md, "Auth")."""
    return AsyncOpenAI(
        base_url=f"{endpoint.rstrip('/')}/openai/v1/",
        api_key=contract.token(SANDBOX_TOKEN, object_id),
        max_retries=0,
    )


async def confirm(chat: Conversation, command: str, button: str, done: str) -> Activity:
    """Say `command`, press `button` on its card, wait until that card says `done`."""
    card = await chat.say(command)
    await chat.press(card, button)
    return await chat.reply(updated(card["id"], done), seconds=60)


def answer(activity: Activity) -> bool:
    """A new message of the bot's (the answer to a button), not a card's update or a notice."""
    return activity["_op"] == "post" and not is_notice(activity)


async def principal_can_chat(endpoint: str, deployment: str) -> bool:
    async with as_principal(endpoint, ADMIN) as client:
        try:
            await client.chat.completions.create(
                model=deployment, messages=[{"role": "user", "content": "What is AI?"}]
            )
        except openai.AuthenticationError as error:
            assert error.body["code"] == "PermissionDenied", error.body  # type: ignore[index]
            return False
    return True


async def test_the_lab_from_provision_to_purge(
    conversation: Callable[..., Conversation],
    bot_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = conversation(aad_object_id=ADMIN, user_name="Ada Admin")

    # 1. provision: a card says what will be created, then one card follows it to the endpoint
    ask_card = await chat.say(f"provision name={ACCOUNT} region={REGION}")
    shown = card_text(ask_card)
    assert f"Create {ACCOUNT}?" in shown and "OpenAI, Standard S0" in shown
    assert "North Central US" in shown and "Custom subdomain" in shown and GROUP in shown
    await chat.press(ask_card, "Create")
    done = await chat.reply(updated(ask_card["id"], f"{ACCOUNT} is ready"), seconds=60)
    endpoint = f"{bot_url}/sandbox/openai-accounts/{ACCOUNT}/"
    assert endpoint in card_text(done)
    posted = [a for a in chat.replies() if a["_op"] == "post"]
    assert posted == [ask_card], "one card follows the provisioning"
    async with clients(bot_url, tmp_path) as azure:
        account = await azure.cognitive.accounts.get(GROUP, ACCOUNT)
        assert account.properties.provisioning_state == "Succeeded"
        assert account.kind == "OpenAI" and account.sku.name == "S0"
        assert account.location == REGION

    # 2. resource: the new account is this conversation's
    shown = card_text(await chat.say("resource"))
    assert ACCOUNT in shown and REGION in shown and "S0" in shown and endpoint in shown
    assert "Entra ID" in shown and "provisioned by Ada Admin" in shown

    # the bot works on it: train and deploy there
    await validate_samples(chat)
    confirmation = await train(chat)
    await chat.press(confirmation, "Confirm training")
    await wait_until(lambda: notices(chat), 60)
    job = (await azure_jobs(bot_url, tmp_path))[0]
    deployed = await confirm(chat, f"deploy {job} name=teacher", "Deploy", "is deployed")
    assert "teacher" in card_text(deployed)

    # 3. the ready card's next step, "Assign the roles to me" (what `roles me` does): before,
    # the caller's own token is refused; after, it can chat
    assert not await principal_can_chat(endpoint, "teacher")
    await chat.press(done, "Assign the roles to me")
    reply = await chat.reply(answer)
    shown = card_text(reply)
    assert shown.count("assigned now") == 4, shown
    for role in (
        "Cognitive Services OpenAI Contributor",
        "Cognitive Services OpenAI User",
        "Cognitive Services Contributor",
        "Cognitive Services Usages Reader",
    ):
        assert role in shown
    async with clients(bot_url, tmp_path) as azure:
        assert len(await assignments(azure, ADMIN)) == 4
    assert await principal_can_chat(endpoint, "teacher")
    again = card_text(await ask(chat, "roles me"))
    assert again.count("already held") == 4
    async with clients(bot_url, tmp_path) as azure:
        assert len(await assignments(azure, ADMIN)) == 4  # not duplicated
    listing = card_text(await ask(chat, "roles"))
    assert "Ada Admin" in listing and "the bot" in listing

    # keys: masked; rotation of KEY2 changes it and the bot keeps working
    async with clients(bot_url, tmp_path) as azure:
        before = await azure.cognitive.accounts.list_keys(GROUP, ACCOUNT)
    keys = await ask(chat, "keys")
    shown = card_text(keys)
    assert f"••••{before.key1[-4:]}" in shown and f"••••{before.key2[-4:]}" in shown
    assert "Azure does not report" in shown and "Entra ID" in shown
    await chat.press(keys, "Regenerate KEY2")  # asks first, as `keys rotate key2` does
    question = await chat.reply(answer)
    assert "Regenerate KEY2 of aoai-lab2?" in card_text(question)
    await chat.press(question, "Regenerate KEY2")
    rotated = await chat.reply(updated(question["id"], "KEY2 of"), seconds=60)
    assert "KEY1 is the key that still works" in card_text(rotated)
    async with clients(bot_url, tmp_path) as azure:
        after = await azure.cognitive.accounts.list_keys(GROUP, ACCOUNT)
    assert after.key1 == before.key1 and after.key2 != before.key2
    assert "teacher" in card_text(await ask(chat, "deployments"))

    # teardown: the list, the destructive button, one card to the end
    ask_card = await ask(chat, "teardown")
    shown = card_text(ask_card)
    assert "teacher" in shown and job in shown and "training_set.jsonl" in shown
    assert f"account: {ACCOUNT}" in shown and "never deleted" in shown
    await chat.press(ask_card, "Delete all of it")
    finished = await chat.reply(
        updated(ask_card["id"], f"Teardown of {ACCOUNT} is done"), seconds=60
    )
    assert "audit trail is kept" in card_text(finished)
    async with clients(bot_url, tmp_path) as azure:
        with pytest.raises(ResourceNotFoundError):
            await azure.cognitive.accounts.get(GROUP, ACCOUNT)
        deleted = await azure.cognitive.deleted_accounts.get(REGION, GROUP, ACCOUNT)
        assert deleted.name == ACCOUNT
        assert await azure.groups.resource_groups.check_existence(GROUP)
    assert ACCOUNT not in card_text(await ask(chat, "resource"))  # back to the default

    reply = await chat.say(f"provision name={ACCOUNT}")
    assert reply["text"].startswith(f"`{ACCOUNT}` was deleted recently and Azure keeps it")
    assert f"`purge {ACCOUNT}`" in reply["text"]

    # purge, from the finished teardown's only button: it says what it does, and asks first
    assert "Purging it deletes it for good" in card_text(finished)
    await chat.press(finished, "Purge for good")
    question = await chat.reply(answer)
    assert f"Purge {ACCOUNT} for good?" in card_text(question)
    await chat.press(question, "Purge")
    purged = await chat.reply(updated(question["id"], f"{ACCOUNT} is purged"), seconds=60)
    assert "free again" in card_text(purged)
    async with clients(bot_url, tmp_path) as azure:
        left = [a.name async for a in azure.cognitive.deleted_accounts.list()]
    assert ACCOUNT not in left

    # audit: every action, with the caller
    shown = card_text(await ask(chat, "audit 20"))
    rows = shown.splitlines()
    for action in ("provision", "train", "deploy", "roles", "keys rotate", "teardown", "purge"):
        assert any(row.startswith(f"{action} ") for row in rows), action
    by = [row for row in rows if row.startswith("{{DATE(")]  # when · who · on what
    assert by and all(" · Ada Admin · " in row and ADMIN not in row for row in by), by

    # no full key in any activity or log line
    secrets = {before.key1, before.key2, after.key2}
    everything = json.dumps(chat.channel.sent) + "\n".join(r.getMessage() for r in caplog.records)
    assert not [k for k in secrets if k in everything]


async def azure_jobs(bot_url: str, tmp_path: Path) -> list[str]:
    """The fine-tuning jobs on aoai-lab2, newest first."""
    async with clients(bot_url, tmp_path) as azure:
        return [j.id async for j in azure.openai.fine_tuning.jobs.list()]


async def assignments(azure: AzureClients, principal: str) -> list[str]:
    """The role GUIDs `principal` holds on aoai-lab2 (at the account and the subscription)."""
    resource: Resource = azure.resource
    account = (
        f"/subscriptions/{resource.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.CognitiveServices/accounts/{ACCOUNT}"
    )
    found = []
    for scope in (account, f"/subscriptions/{resource.subscription_id}"):
        async for a in azure.authorization.role_assignments.list_for_scope(
            scope, filter="atScope()"
        ):
            if a.principal_id == principal and a.scope.lower() == scope.lower():
                found.append(str(a.role_definition_id).rsplit("/", 1)[-1])
    return found


async def test_provision_explains_what_it_refuses_in_plain_words(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation(aad_object_id=ADMIN)
    reply = await chat.say("provision name=bad_name!")
    assert "is not a valid account name" in reply["text"]
    reply = await chat.say("provision name=aoai-lab2 region=westeurope")
    assert reply["text"].startswith("Azure OpenAI does not offer fine-tuning in `westeurope`")
    assert "`northcentralus` (North Central US)" in reply["text"]
    reply = await chat.say("provision name=aoai-sandbox group=elsewhere")  # its subdomain is taken
    ask_card = reply
    await chat.press(ask_card, "Create")
    failed = await chat.reply(updated(ask_card["id"], "failed"), seconds=30)
    assert "another Azure resource (anyone's, anywhere) already uses it" in card_text(failed)
    adopted = await chat.say("provision name=aoai-sandbox group=sandbox")
    assert "Use the existing account aoai-sandbox?" in card_text(adopted)
