"""Provisioning, roles, keys, teardown, purge, the audit trail and Azure's errors in Korean: the
skills run on a real sandbox (the official SDKs, a real state store) and everything they say is
checked with tests.korean; work that speaks later (the provisioning and teardown cards) speaks the
language of the person who confirmed it, whatever the language of the task that runs it.

The cards are drawn elsewhere (adaptive_cards/provisioning.py): these tests read the texts the
skills put in the views, the sentences of their errors and the audit entries they write.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from app import build_context
from infra import i18n
from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import Said
from infra.records import RecordStore
from infra.storage import SqliteStorage
from skills.audit import Actor
from skills.azure_errors import openai_error
from skills.confirmations import Confirmations
from skills.context import Context
from skills.deployment import arm as deployments
from skills.deployment.records import DeploymentRecord
from skills.models import ModelChoice
from skills.notify import View
from skills.provisioning import arm, regions
from skills.provisioning.access import Access
from skills.provisioning.records import ProvisionRequest
from skills.provisioning.service import Provisioning
from skills.provisioning.teardown import Teardown
from skills.provisioning.views import (
    Origin,
    ProvisionFailed,
    ProvisionProgress,
    ProvisionSucceeded,
    TeardownProgress,
)
from skills.resources import Resources
from tests.harness import bot_settings
from tests.korean import english
from tests.sandbox_server import running_sandbox
from tests.training_flow import wait_until

ADA = Actor("0a11ce00-0000-4000-8000-000000000001", "Ada Admin")
CONVERSATION, SCOPE = "conv-ko", "conversation:conv-ko"


@dataclass
class Sent:
    """One view a workflow showed, and the language it was shown in."""

    message: str
    view: View
    language: str


class Recorder:
    """The Notify protocol as a channel sees it: each view kept with the language of its send
    (bot/render.py renders the card inside that call, so this is the card's language)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def send(self, conversation: str, view: View) -> str:
        self.sent.append(Sent(f"m{len(self.sent)}", view, i18n.current()))
        return f"m{len(self.sent) - 1}"

    async def update(self, conversation: str, message: str, view: View) -> None:
        self.sent.append(Sent(message, view, i18n.current()))

    def views(self, kind: type[View]) -> list[View]:
        return [s.view for s in self.sent if isinstance(s.view, kind)]


@dataclass
class Skills:
    ctx: Context
    notify: Recorder
    resources: Resources
    provisioning: Provisioning
    access: Access
    teardown: Teardown


@asynccontextmanager
async def skills(tmp_path: Path) -> AsyncIterator[Skills]:
    """The provisioning skills on a sandbox of their own, as app.py builds them."""
    async with running_sandbox(tmp_path / "sandbox", speedup=3000) as sandbox_url:
        settings = bot_settings(tmp_path / "data", sandbox_url=sandbox_url, sandbox_speedup=3000.0)
        storage = SqliteStorage(tmp_path / "records.sqlite3")
        notify = Recorder()
        ctx = build_context(settings, RecordStore(storage), notify)
        resources = Resources(ctx)
        try:
            yield Skills(
                ctx,
                notify,
                resources,
                Provisioning(ctx, resources),
                Access(ctx, resources),
                Teardown(ctx, resources),
            )
        finally:
            await ctx.tasks.close()
            await ctx.azure.close()
            await storage.close()


def korean_only(texts: list[str]) -> list[str]:
    """The English in `texts`, after checking that they are Korean at all."""
    assert any(any("\uac00" <= c <= "\ud7a3" for c in t) for t in texts), texts
    return english(texts)


def progress_texts(notify: Recorder) -> list[str]:
    texts = []
    for view in notify.views(ProvisionProgress):
        assert isinstance(view, ProvisionProgress)
        texts += [view.step, view.state, view.plan.region]
    return [t for t in texts if t]


async def provision(s: Skills, name: str, group: str = "") -> ProvisionRequest:
    """`provision` asked in Korean; confirmed and run, as every background run is, from a task
    whose own language is English."""
    with i18n.use("ko"):
        plan = await s.provisioning.ask(SCOPE, CONVERSATION, ADA, name, "northcentralus", group)
        assert plan.region == "미국 중북부"
    record = await s.provisioning.start(plan.token, CONVERSATION, ADA, "card-1")
    assert record.language == "ko"
    request = await s.ctx.records.get(ProvisionRequest.at(plan.token))
    assert request is not None
    return request


async def test_provisioning_roles_keys_teardown_and_purge_speak_korean(tmp_path: Path) -> None:
    async with skills(tmp_path) as s:
        await provision(s, "aoai-ko")
        await wait_until(lambda: s.notify.views(ProvisionSucceeded))
        assert {sent.language for sent in s.notify.sent} == {"ko"}
        assert korean_only(progress_texts(s.notify)) == []
        assert "리소스 만드는 중" in progress_texts(s.notify)

        with i18n.use("ko"):
            shown = await s.provisioning.describe(SCOPE)
            resource = await s.resources.current(SCOPE)
            assert resource.account == "aoai-ko"
            texts = [shown.auth, shown.state]
            assert korean_only(texts) == [], texts
            assert shown.origin is not None and not shown.origin.adopted
            assert shown.origin.by == "Ada Admin"  # the card says their name, not their id

            # roles: what each allows and where it is assigned, who holds it, what changed
            listed = await s.access.role_holders(resource)
            texts = [t for line in listed.lines for t in (line.allows, line.scope, *line.holders)]
            assert korean_only(texts) == [], texts
            changed = await s.access.change(resource, ADA.id, "User", ADA)
            texts = [t for line in changed.lines for t in (line.allows, line.scope, line.note)]
            assert korean_only(texts) == [] and texts.count("지금 할당함") == 4

            # keys: masked, which one the bot uses, and a rotation
            keys = await s.access.keys(resource)
            assert korean_only([keys.auth]) == [] and keys.rotated == {}
            plan = await s.access.ask_rotate(resource, CONVERSATION, ADA, "key1")
            before = time.time()
            await s.access.rotate(plan.token, CONVERSATION, ADA)
            rotated = (await s.access.keys(resource)).rotated  # the card says when, and who
            assert list(rotated) == ["key1"] and rotated["key1"].by == "Ada Admin"
            assert before <= rotated["key1"].at <= time.time()

            # teardown: the list, then a run that speaks Korean from an English task (a
            # deployment the bot made, and the account; one it made and Azure deleted since is
            # not listed: teardown lists what is there)
            base = ModelChoice("gpt-4o-mini", "2024-07-18", fine_tuned=False)
            cognitive = s.ctx.azure.cognitive(resource.subscription_id)
            await deployments.start_deployment(cognitive, resource, "teacher", base, "standard", 1)
            for name in ("teacher", "gone"):
                await s.ctx.records.put(
                    DeploymentRecord(
                        resource=resource,
                        name=name,
                        model=base.model,
                        state="succeeded",
                        conversation=CONVERSATION,
                    )
                )
            asked = await s.teardown.ask(resource, CONVERSATION, ADA)
            assert [item.kind for item in asked.items] == ["deployment", "account"]
            labels = [item.label for item in asked.items]  # names in the bot's words (TextRuns)
            assert labels == ["teacher (gpt-4o-mini)", "aoai-ko (리소스 그룹 sandbox는 남겨 둠)"]
        await s.teardown.start(asked.token, CONVERSATION, ADA, "card-2")

        def finished() -> bool:
            done = s.notify.views(TeardownProgress)
            return bool(done) and isinstance(done[-1], TeardownProgress) and done[-1].finished

        await wait_until(finished)
        torn = [s for s in s.notify.sent if isinstance(s.view, TeardownProgress)]
        assert {sent.language for sent in torn} == {"ko"}
        last = torn[-1].view
        assert isinstance(last, TeardownProgress)
        assert [i.state for i in last.items] == ["done", "done"]
        assert [i.label for i in last.items] == labels  # said in Korean, from an English task

        with i18n.use("ko"):
            purge = await s.provisioning.ask_purge(CONVERSATION, ADA, "aoai-ko")
            await s.provisioning.purge(purge.token, CONVERSATION, ADA)
            with pytest.raises(UserError) as refused:
                await s.provisioning.ask_purge(CONVERSATION, ADA, "aoai-ko")
            assert korean_only([refused.value.message]) == []

        # the audit trail keeps what each action was and how it ended as message ids with
        # parameters: a Korean actor's entries read in English to an English reader
        entries = await s.ctx.audit.last(10)
        assert [e.action for e in entries] == [
            "purge",
            "teardown",
            "keys rotate",
            "roles",
            "provision",
        ]
        assert [e.target for e in entries if e.action == "teardown"] == ["aoai-ko"]
        details = [e.detail for e in entries if isinstance(e.detail, Said)]
        assert len(details) == len(entries)
        with i18n.use("ko"):
            assert korean_only([said.text() for said in details]) == []
        english_details = [said.text() for said in details]
        assert not any("\uac00" <= c <= "\ud7a3" for t in english_details for c in t)
        assert "deleted 2 of 2" in english_details, english_details


async def test_a_failed_provisioning_says_why_in_korean(tmp_path: Path) -> None:
    async with skills(tmp_path) as s:
        await provision(s, "aoai-sandbox", group="elsewhere")  # its subdomain is taken
        await wait_until(lambda: s.notify.views(ProvisionFailed))
        failed = s.notify.views(ProvisionFailed)[0]
        assert isinstance(failed, ProvisionFailed)
        assert s.notify.sent[-1].language == "ko"
        assert korean_only([failed.reason, failed.plan.region]) == [], failed.reason
        assert failed.reason.startswith("`aoai-sandbox`는 이미 사용 중인 이름입니다")


async def test_refusals_and_azure_errors_are_korean(tmp_path: Path) -> None:
    async with skills(tmp_path) as s:
        said: list[str] = []
        with i18n.use("ko"):
            for name, region, group in (
                ("bad_name!", "northcentralus", ""),
                ("aoai-ko", "westeurope", ""),
                ("aoai-ko", "northcentralus", "bad group."),
            ):
                with pytest.raises(UserError) as refused:
                    await s.provisioning.ask(SCOPE, CONVERSATION, ADA, name, region, group)
                said.append(refused.value.message)
            assert "`northcentralus`(미국 중북부)" in said[1]

            # Resource Manager refuses: the keys of an account that is not there
            missing = Resource(s.ctx.azure.default.subscription_id, "sandbox", "aoai-none", "")
            with pytest.raises(UserError) as refused:
                await s.access.keys(missing)
            said.append(refused.value.message)
            assert "`aoai-none`의 키 조회에 실패했습니다" in said[-1]

            # the data plane refuses: Azure's own message is quoted
            client = s.ctx.azure.openai(s.ctx.azure.default)
            with pytest.raises(openai.APIStatusError) as failure:
                await client.fine_tuning.jobs.retrieve("ftjob-none")
            said.append(openai_error(failure.value, "`ftjob-none`").message)

            # questions answered twice, elsewhere or by someone else
            confirmations = Confirmations(s.ctx.records)
            asked = await confirmations.ask(
                ProvisionRequest,
                CONVERSATION,
                ADA.id,
                scope=SCOPE,
                user_name=ADA.name,
                resource=missing,
                location="northcentralus",
            )
            key = ProvisionRequest.at(asked.token)
            for conversation, user in (("other", ADA.id), (CONVERSATION, "bob"), (None, None)):
                if conversation is None:
                    await confirmations.answer(key, "confirmed", CONVERSATION, "provision")
                    conversation = CONVERSATION
                with pytest.raises(UserError) as refused:
                    await confirmations.answer(key, "confirmed", conversation, "provision", user)
                said.append(refused.value.message)
            with pytest.raises(UserError) as refused:
                await confirmations.answer(
                    ProvisionRequest.at("gone"), "confirmed", CONVERSATION, "provision"
                )
            said.append(refused.value.message)
        assert korean_only(said) == [], said


def test_region_and_state_names() -> None:
    with i18n.use("ko"):
        assert regions.region_name("swedencentral") == "스웨덴 중부"
        assert (arm.state_name("Creating"), arm.state_name("succeeded")) == ("생성 중", "성공")
        assert regions.region_name("westeurope") == "westeurope"


async def test_english_is_still_english(tmp_path: Path) -> None:
    async with skills(tmp_path) as s:
        plan = await s.provisioning.ask(SCOPE, CONVERSATION, ADA, "aoai-en", "northcentralus", "")
        assert plan.region == "North Central US"
        with i18n.use("ko"):  # a Korean task runs what an English speaker asked for
            await s.provisioning.start(plan.token, CONVERSATION, ADA, "card-1")
        await wait_until(lambda: s.notify.views(ProvisionSucceeded))
        assert {sent.language for sent in s.notify.sent} == {"en"}
        assert "Creating the account" in progress_texts(s.notify)
        shown = await s.provisioning.describe(SCOPE)
        assert shown.auth == "Entra ID (the bot's own identity)"
        assert shown.origin == Origin(adopted=False, by="Ada Admin", at=shown.origin.at)
        listed = await s.access.role_holders(await s.resources.current(SCOPE))
        assert listed.lines[0].scope == "account"
        assert listed.lines[0].allows.startswith("Upload files, fine-tune")
        with pytest.raises(UserError) as refused:
            await s.provisioning.ask(SCOPE, CONVERSATION, ADA, "aoai-en", "westeurope", "")
        assert "`northcentralus` (North Central US)" in refused.value.message
