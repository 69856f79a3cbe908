"""Nothing lost, nothing left running (issue 23): each finding of the fault probe, reproduced with
barriers (a card refused by the channel, a request held by the sandbox until the bot is killed),
then `teardown`, after which the official SDKs find nothing on the sandbox: no file, no job, no
deployment.

The sandbox runs in this process (tests/sandbox_server.py), so a test sets its barriers, while
the bot runs in-process or as a process of its own (tests/instances.py), which a test kills with
SIGKILL where a barrier holds it.

1. A deployment that costs money drops out of `teardown`: the card update refused with a 429;
   the bot killed while Resource Manager holds the answer to the deployment's PUT.
2. Teardown forgets what it failed to delete: a deployment the bot did not record, a job
   deletion Azure refuses; the second `teardown` lists and deletes what is left. A deletion
   Azure refuses stays refused after a restart (the recovery of confirmed work takes only work
   a crash kept from being recorded).
3. Confirmed work that never starts: a 429 on the job card's post, a 429 on the teardown card's
   update; a second teardown of the same resource while one runs, and after a restart.
4. A crash during an upload leaves a duplicate file: the bot killed while the sandbox holds the
   answer to the upload, and the same with two instances when the launch's owner dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.azure import azure_clients
from infra.blob import BlobAccount, BlobStorage
from infra.records import RecordStore
from infra.storage import SqliteStorage
from sandbox.service import Sandbox
from skills.audit import AuditEntry
from skills.deployment.records import DeploymentRecord
from skills.provisioning.records import TeardownRecord
from skills.training.records import LaunchRecord, TrainingRequest
from tests.channel import Activity, ChannelFake, Conversation, button, buttons, card_text
from tests.harness import SANDBOX_TOKEN, bot_settings, client_settings, running_bot
from tests.instances import Balancer, Process, bot_process, ready
from tests.sandbox_server import serving_sandbox
from tests.training_flow import (
    FAST,
    is_job_card,
    job_cards,
    notice_job,
    notices,
    train,
    updates_of,
    validate_samples,
    wait_until,
)

SPEEDUP = 3000.0
ENV = {
    "SANDBOX_ARM_TOKEN": SANDBOX_TOKEN,
    "SANDBOX_SPEEDUP": str(SPEEDUP),
    "SANDBOX_FAULTS": "",
    "FTBOT_POLL_RUNNING": "0.1",
    "FTBOT_POLL_QUEUED": "0.2",
    "FTBOT_CARD_SECONDS": "0.2",
    "FTBOT_UPDATES_PER_SECOND": "50",
}
"""A bot process on the test's sandbox, fast."""
DEPLOYMENT_PUT = r"/deployments/[^/]+$"
UPLOAD = r"/openai/v1/files$"
JOB_DELETE = r"/openai/fine_tuning/jobs/[^/]+$"


@dataclass
class Lab:
    """The sandbox in this process, the channel fake, and the bots a test starts."""

    url: str
    sandbox: Sandbox
    channel: ChannelFake
    session: aiohttp.ClientSession
    folder: Path
    env: dict[str, str]
    started: list[Process] = field(default_factory=list)

    async def bot(self, name: str = "bot") -> Process:
        """`ftbot run` as a process of its own (same `name`, same data folder: a restart)."""
        process = bot_process(name, self.folder, {**ENV, **self.env, "FTBOT_SANDBOX_URL": self.url})
        self.started.append(process)
        await ready(process, "/healthz", self.session)
        return process

    async def leftovers(self) -> dict[str, list[str]]:
        """What is on the well-known account, read with the official SDKs: files, fine-tuning
        jobs and deployments."""
        settings = client_settings(self.folder / "client")
        async with azure_clients(settings, sandbox_url=self.url) as azure:
            files = [f"{f.id} {f.filename}" async for f in azure.openai.files.list()]
            jobs = [f"{j.id} {j.status}" async for j in azure.openai.fine_tuning.jobs.list()]
            deployments = [
                f"{d.name} {d.properties.model.name if d.properties and d.properties.model else ''}"
                async for d in azure.cognitive.deployments.list(azure.resource_group, azure.account)
            ]
        return {"files": files, "jobs": jobs, "deployments": deployments}


@pytest.fixture
async def lab(
    tmp_path: Path, channel: ChannelFake, session: aiohttp.ClientSession
) -> AsyncIterator[Lab]:
    async with serving_sandbox(tmp_path / "azure", speedup=SPEEDUP) as (url, sandbox):
        found = Lab(url, sandbox, channel, session, tmp_path, {})
        try:
            yield found
        finally:
            for process in found.started:
                process.stop()


@contextlib.asynccontextmanager
async def in_process_bot(lab: Lab, **overrides: Any) -> AsyncIterator[str]:
    """The bot in this process, on the lab's sandbox; yields its URL."""
    values = {**FAST, "sandbox_url": lab.url, "sandbox_speedup": SPEEDUP, **overrides}
    settings = bot_settings(lab.folder / "data", **values)
    async with running_bot(settings) as url:
        yield url


@contextlib.asynccontextmanager
async def state_of(folder: Path) -> AsyncIterator[RecordStore]:
    """A bot's SQLite state, read beside it."""
    storage = SqliteStorage(folder / "state.sqlite3")
    try:
        yield RecordStore(storage)
    finally:
        await storage.close()


def background(work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """A press whose turn a barrier may hold (or whose bot is killed): awaited at the end."""
    return asyncio.ensure_future(work)


async def settled(*tasks: asyncio.Task[Any]) -> None:
    """Wait for presses sent in the background; one whose bot was killed fails, and that is
    expected."""
    await asyncio.gather(*tasks, return_exceptions=True)


def updated(card_id: str, words: str) -> Callable[[Activity], bool]:
    """An in-place update of message `card_id` whose text contains `words`."""
    return lambda a: a["_op"] == "update" and a["id"] == card_id and words in card_text(a)


async def trained(chat: Conversation) -> str:
    """Validate the samples, train, confirm, wait for the notice; returns the job id."""
    await validate_samples(chat)
    await chat.press(await train(chat), "Confirm training")
    await wait_until(lambda: notices(chat), 90)
    return notice_job(chat)


def audited(audit: str, action: str) -> int:
    """How many entries of `action` the audit card lists (each entry's line starts with it)."""
    return sum(line.startswith(f"{action} ") for line in audit.splitlines())


async def torn_down(chat: Conversation, *expected: str) -> Activity:
    """`teardown`: the card lists each of `expected`; confirm it and return the card's end."""
    ask = await chat.say("teardown")
    listed = card_text(ask)
    for words in expected:
        assert words in listed, f"{words!r} not in the teardown card:\n{listed}"
    await chat.press(ask, "Delete all of it")
    return await chat.reply(
        lambda a: a["_op"] == "update" and a["id"] == ask["id"] and "Teardown of" in card_text(a),
        seconds=90,
    )


async def nothing_left(lab: Lab, chat: Conversation) -> None:
    """The bot says nothing is left to tear down, and the SDKs find nothing either."""
    answer = card_text(await chat.say("teardown"))
    assert "nothing to tear down" in answer, answer
    assert await lab.leftovers() == {"files": [], "jobs": [], "deployments": []}


# -- 1. a deployment that costs money drops out of teardown -----------------------------------


async def test_a_deployment_whose_card_update_is_refused_is_followed_and_torn_down(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """Finding 1, first half: the channel answers the update that turns the confirmation into
    the first progress with one 429. The deployment is recorded before that update, followed
    anyway, and its card catches up; `deployments`, `teardown` and `audit` know it."""
    async with in_process_bot(lab) as url:
        chat = Conversation(url, channel, session)
        job = await trained(chat)
        confirm = await chat.say(f"deploy {job}")
        channel.refuse(lambda a: a["_op"] == "update" and a["id"] == confirm["id"], 429)
        await chat.press(confirm, "Deploy")
        await chat.reply(updated(confirm["id"], "is deployed"), seconds=60)
        assert channel.refused, "the 429 was never given"
        listing = card_text(await chat.say("deployments"))
        assert "Succeeded" in listing
        audit = card_text(await chat.say("audit"))
        assert audited(audit, "deploy")
        end = await torn_down(chat, "deployment: ", "job: ", "file: ")
        assert "is done" in card_text(end), card_text(end)
        await nothing_left(lab, chat)


async def test_a_bot_killed_while_azure_holds_the_deployment_put_loses_nothing(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """Finding 1, second half: Resource Manager holds its answer to the deployment's PUT (the
    deployment exists) and the bot is killed (-9) meanwhile. After the restart the deployment is
    known: followed to the end on its card, listed, in the audit trail, and torn down first, so
    deleting the job is not refused with Azure's 409 ("model is deployed")."""
    bot = await lab.bot()
    chat = Conversation(bot.url, channel, session)
    job = await trained(chat)
    confirm = await chat.say(f"deploy {job}")
    held = lab.sandbox.barriers.hold("PUT", DEPLOYMENT_PUT)
    press = background(chat.press(confirm, "Deploy"))
    await asyncio.wait_for(held.reached.wait(), 60)
    bot.kill()
    held.release()
    await settled(press)

    bot = await lab.bot()
    chat.bot_url = bot.url
    await chat.reply(updated(confirm["id"], "is deployed"), seconds=60)
    listing = card_text(await chat.say("deployments"))
    assert "Succeeded" in listing and "days left of 15" in listing
    audit = card_text(await chat.say("audit"))
    assert audited(audit, "deploy")
    end = await torn_down(chat, "deployment: ", f"job: {job}", "file: ")
    assert "is done" in card_text(end), card_text(end)
    await nothing_left(lab, chat)


# -- 2. teardown forgets what it failed to delete ----------------------------------------------


async def test_teardown_keeps_what_it_could_not_delete_and_retries_it(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """Finding 2: a deployment of the bot's model that the bot never recorded (made in the portal,
    or by a PUT whose answer was lost) is found on Azure and deleted first; a job deletion that
    Azure refuses is shown on the card with the reason and kept, and the next `teardown` lists it
    again and deletes it (before: the job's record was deleted with the rest, and the second
    teardown said nothing was left)."""
    async with in_process_bot(lab) as url:
        chat = Conversation(url, channel, session)
        job = await trained(chat)
        settings = client_settings(lab.folder / "client")
        async with azure_clients(settings, sandbox_url=lab.url) as azure:
            model = (await azure.openai.fine_tuning.jobs.retrieve(job)).fine_tuned_model
            assert model
            await _deploy_outside(azure, "portal-copy", model)
        refused = lab.sandbox.barriers.refuse("DELETE", JOB_DELETE, 403)
        end = await torn_down(chat, "deployment: portal-copy", f"job: {job}", "file: ")
        text = card_text(end)
        assert refused.refused == 1
        assert "1 item not deleted" in text and "Injected fault" in text, text
        assert "Try again asks to delete it" in text
        assert buttons(end)["Try again"]["verb"] == "teardown"
        left = await lab.leftovers()
        assert [j.split()[0] for j in left["jobs"]] == [job] and left["deployments"] == []

        end = await torn_down(chat, f"job: {job}")
        assert "is done" in card_text(end), card_text(end)
        await nothing_left(lab, chat)


async def _deploy_outside(azure: Any, name: str, model: str) -> None:
    """A deployment made without the bot (the portal, the CLI), waited until it succeeds."""
    from azure.mgmt.cognitiveservices.models import (
        Deployment,
        DeploymentModel,
        DeploymentProperties,
        Sku,
    )

    body = Deployment(
        sku=Sku(name="Standard", capacity=1),
        properties=DeploymentProperties(
            model=DeploymentModel(format="OpenAI", name=model, version="1")
        ),
    )
    poller = await azure.cognitive.deployments.begin_create_or_update(
        azure.resource_group, azure.account, name, body
    )
    await poller.result()


async def test_a_deletion_azure_refused_is_not_carried_out_after_a_restart(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """A deletion that Azure refuses is said at once and ends there. Its answered question is not
    taken, at the next start, for one whose deletion a crash kept from being recorded: the
    deployment stays, its record says what Azure shows, the audit trail says it failed (before:
    the restart marked it deleting, and its follower deleted it)."""
    async with in_process_bot(lab) as url:
        chat = Conversation(url, channel, session)
        confirm = await chat.say("deploy gpt-4o-mini-2024-07-18 name=base")
        await chat.press(confirm, "Deploy")
        await chat.reply(updated(confirm["id"], "is deployed"), seconds=60)
        ask = await chat.say("delete base")
        refused = lab.sandbox.barriers.refuse("DELETE", DEPLOYMENT_PUT, 409)
        await chat.press(ask, "Delete")
        answer = card_text(await chat.reply())
        assert refused.refused == 1 and "could not delete deployment `base`" in answer, answer
    async with in_process_bot(lab) as url:  # its start recovers what a crash left unrecorded
        chat.bot_url = url
        async with state_of(lab.folder / "data") as records:
            [deployment] = await records.all(DeploymentRecord)
            deletions = [e for e in await records.all(AuditEntry) if e.action == "delete"]
        assert (deployment.state, deployment.delete_cards) == ("succeeded", [])
        assert [e.outcome for e in deletions] == ["failed"]
        assert [d.split()[0] for d in (await lab.leftovers())["deployments"]] == ["base"]
        end = await torn_down(chat, "deployment: base")
        assert "is done" in card_text(end), card_text(end)
        await nothing_left(lab, chat)


# -- 3. confirmed work that never starts -------------------------------------------------------


async def test_confirmed_work_starts_though_its_first_card_is_refused(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """Finding 3, SQLite mode: the job card's post after "Confirm training" and the teardown
    card's update after "Delete all of it" each answered with one 429. The training and the
    teardown run all the same and their cards catch up; `status` and the audit trail say so."""
    async with in_process_bot(lab) as url:
        chat = Conversation(url, channel, session)
        await validate_samples(chat)
        confirmation = await train(chat)
        channel.refuse(lambda a: a["_op"] == "post" and is_job_card(a), 429)
        await chat.press(confirmation, "Confirm training")
        await wait_until(lambda: notices(chat), 90)
        assert len(channel.refused) == 1
        [card] = job_cards(chat)
        assert "Succeeded" in card_text(updates_of(chat, card["id"])[-1])
        job = notice_job(chat)
        assert job in card_text(await chat.say("status"))
        audit = card_text(await chat.say("audit"))
        assert audited(audit, "train")

        ask = await chat.say("teardown")
        channel.refuse(lambda a: a["_op"] == "update" and a["id"] == ask["id"], 429)
        await chat.press(ask, "Delete all of it")
        end = await chat.reply(updated(ask["id"], "Teardown of aoai-sandbox is done"), 90)
        assert len(channel.refused) == 2
        assert "FAILED" not in card_text(end)
        assert await lab.leftovers() == {"files": [], "jobs": [], "deployments": []}


async def test_one_teardown_at_a_time_even_across_a_restart(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """Finding 3, the end: two `teardown` cards of one resource; the second is confirmed while
    the first runs (Azure holds its deletion), and the bot is killed and restarted meanwhile.
    Only the first runs, before and after the restart; the second is told it is under way
    (before: both ran side by side after the restart)."""
    bot = await lab.bot()
    chat = Conversation(bot.url, channel, session)
    confirm = await chat.say("deploy gpt-4o-mini-2024-07-18 name=base")
    await chat.press(confirm, "Deploy")
    await chat.reply(updated(confirm["id"], "is deployed"), seconds=60)
    first = await chat.say("teardown")
    second = await chat.say("teardown")
    held = lab.sandbox.barriers.hold("DELETE", DEPLOYMENT_PUT)
    await chat.press(first, "Delete all of it")
    await asyncio.wait_for(held.reached.wait(), 60)
    await chat.press(second, "Delete all of it")
    refused = await chat.reply()
    assert "under way" in card_text(refused), card_text(refused)
    bot.kill()
    held.release()

    bot = await lab.bot()
    chat.bot_url = bot.url
    await chat.reply(updated(first["id"], "Teardown of aoai-sandbox is done"), 60)
    await chat.press(second, "Delete all of it")  # refused before: it stays refused
    again = card_text(await chat.reply())
    assert "say `teardown` again" in again, again
    async with state_of(lab.folder / "bot") as records:
        runs = await records.all(TeardownRecord)
    assert [run.token for run in runs] == [button(first, "Delete all of it")["request"]]
    audit = card_text(await chat.say("audit"))
    assert audited(audit, "teardown") == 1, audit
    await nothing_left(lab, chat)


async def test_a_confirmation_whose_work_was_not_recorded_starts_it_at_the_next_start(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """Confirming and recording are one step: on Blob Storage, whose writes are one blob at a
    time, a crash between the answered question and its launch's record leaves the question
    confirmed and nothing else. The next start records the launch from the question and runs it
    (before: "already answered" for good, and no training)."""
    async with in_process_bot(lab) as url:
        chat = Conversation(url, channel, session)
        await validate_samples(chat)
        confirmation = await train(chat)
    token = button(confirmation, "Confirm training")["token"]
    async with state_of(lab.folder / "data") as records:

        def confirmed(found: TrainingRequest | None) -> TrainingRequest | None:
            assert found is not None
            answer = {"state": "confirmed", "by_name": "Test User", "answered_at": found.created_at}
            return found.model_copy(update=answer)

        await records.update(TrainingRequest.at(token), confirmed)
        assert await records.get(LaunchRecord.at_token(token)) is None
    async with in_process_bot(lab) as url:
        chat.bot_url = url
        await wait_until(lambda: notices(chat), 90)
        assert audited(card_text(await chat.say("audit")), "train")
        end = await torn_down(chat, f"job: {notice_job(chat)}", "file: ")
        assert "is done" in card_text(end), card_text(end)
        await nothing_left(lab, chat)


# -- 4. a crash during an upload leaves a duplicate file ---------------------------------------


def training_files(left: dict[str, list[str]]) -> list[str]:
    """The uploads of the sample's training file among what is on the sandbox."""
    return [f for f in left["files"] if re.search(r" training_set[.\w]*\.jsonl$", f)]


async def test_a_bot_killed_during_an_upload_uploads_once(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession
) -> None:
    """Finding 4: the sandbox stores the training file and holds its answer; the bot is killed
    (-9). After the restart the launch finds the upload it made (the file's name carries a hash
    of its content) instead of uploading a second copy, and teardown deletes it."""
    bot = await lab.bot()
    chat = Conversation(bot.url, channel, session)
    await validate_samples(chat)
    confirmation = await train(chat)
    held = lab.sandbox.barriers.hold("POST", UPLOAD)
    press = background(chat.press(confirmation, "Confirm training"))
    await asyncio.wait_for(held.reached.wait(), 60)
    bot.kill()
    held.release()
    await settled(press)
    assert len(training_files(await lab.leftovers())) == 1

    bot = await lab.bot()
    chat.bot_url = bot.url
    await wait_until(lambda: notices(chat), 90)
    assert len(training_files(await lab.leftovers())) == 1, await lab.leftovers()
    # the upload is named for its content on Azure; the card names the file as the user knows it
    end = await torn_down(chat, f"job: {notice_job(chat)}", "(training_set.jsonl)")
    assert "is done" in card_text(end), card_text(end)
    await nothing_left(lab, chat)


@pytest.mark.timeout(300)
async def test_a_launch_whose_owner_dies_during_the_upload_uploads_once(
    lab: Lab, channel: ChannelFake, session: aiohttp.ClientSession, azurite: str
) -> None:
    """Finding 4 with two instances on one storage account: the instance that owns the launch
    is killed while the sandbox holds the answer to its upload; the other takes the launch over
    and finds that upload instead of making a second one."""
    container = f"lost-{uuid.uuid4().hex[:12]}"
    lab.env.update(
        {
            "FTBOT_STATE": "blob",
            "AZURE_STORAGE_CONNECTION_STRING": azurite,
            "FTBOT_STATE_CONTAINER": container,
            "FTBOT_LEASE_SECONDS": "15",
        }
    )
    bots = list(await asyncio.gather(lab.bot("bot-1"), lab.bot("bot-2")))
    balancer = Balancer(bots, session)
    await balancer.start()
    try:
        chat = Conversation(balancer.url, channel, session)
        await validate_samples(chat)
        confirmation = await train(chat)
        token = button(confirmation, "Confirm training")["token"]
        held = lab.sandbox.barriers.hold("POST", UPLOAD)
        press = background(chat.press(confirmation, "Confirm training"))
        await asyncio.wait_for(held.reached.wait(), 60)
        [owner] = [b for b in bots if f"owns launch/{token}" in b.output()]
        owner.kill()
        held.release()
        await settled(press)

        await wait_until(lambda: notices(chat), 150)
        assert len(training_files(await lab.leftovers())) == 1, await lab.leftovers()
        settings = bot_settings(
            lab.folder / "reader", state="blob", storage_connection_string=azurite
        )
        store = BlobStorage(BlobAccount(settings), container, own_account=True)
        try:
            launch = await RecordStore(store).get(LaunchRecord.at_token(token))
        finally:
            await store.close()
        assert launch is not None and launch.stage == "created"
        end = await torn_down(chat, f"job: {launch.job}", "file: ")
        assert "is done" in card_text(end), card_text(end)
        await nothing_left(lab, chat)
    finally:
        await balancer.close()
