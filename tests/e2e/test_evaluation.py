"""`evaluate` from chat, against the bot's embedded sandbox: after training on Microsoft Learn's
tutorial data, the fine-tuned model and its base answer the job's validation file on Azure
OpenAI Evals (v1, checked against Microsoft's spec by the sandbox), the card follows both runs,
and the result compares them with a 95% interval; bad input gets one sentence and spends nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.azure import azure_clients
from infra.records import RecordStore
from skills.evaluation.records import EvalRecord, EvalRequest
from tests.channel import Activity, ChannelFake, Conversation, card_text, verbs
from tests.harness import bot_settings, bot_state, client_settings, free_port, running_bot
from tests.korean import english, texts_of
from tests.sandbox_server import wait_for

DATA = Path(__file__).resolve().parents[1] / "data"
MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"sandbox_speedup": 3000.0}


async def trained_job(bot_url: str, tmp_path: Path) -> str:
    """A job trained on the tutorial's training file, with its validation file."""
    settings = client_settings(tmp_path / "client")
    async with (
        azure_clients(settings, sandbox_url=f"{bot_url}/sandbox") as azure,
        asyncio.timeout(90),
    ):
        client = azure.openai
        files = []
        for name in ("mslearn_training_set.jsonl", "mslearn_validation_set.jsonl"):
            uploaded = await client.files.create(
                file=(name, (DATA / name).read_bytes()), purpose="fine-tune"
            )
            files.append(uploaded.id)
        for file_id in files:
            while (await client.files.retrieve(file_id)).status != "processed":
                await _pause()
        job = await client.fine_tuning.jobs.create(
            model=MODEL, training_file=files[0], validation_file=files[1], suffix="clippy"
        )
        while (job := await client.fine_tuning.jobs.retrieve(job.id)).status != "succeeded":
            assert job.status in ("validating_files", "queued", "running"), job.error
            await _pause()
        return job.id


async def upload(bot_url: str, tmp_path: Path, name: str, content: bytes) -> str:
    """A file uploaded to the sandbox's resource with the SDK, once processed."""
    settings = client_settings(tmp_path / "client")
    async with azure_clients(settings, sandbox_url=f"{bot_url}/sandbox") as azure:
        uploaded = await azure.openai.files.create(file=(name, content), purpose="fine-tune")
        while (await azure.openai.files.retrieve(uploaded.id)).status != "processed":
            await _pause()
        return uploaded.id


def chat_lines(count: int) -> bytes:
    """A chat file of `count` short questions and answers."""
    lines = []
    for n in range(count):
        messages = [
            {"role": "user", "content": f"What is {n} plus one?"},
            {"role": "assistant", "content": f"It is {n + 1}."},
        ]
        lines.append(json.dumps({"messages": messages}))
    return "\n".join(lines).encode()


async def _pause() -> None:
    await asyncio.sleep(0.05)


def updated(card_id: str, words: str) -> Callable[[Activity], bool]:
    """An in-place update of message `card_id` whose text contains `words`."""
    return lambda a: a["_op"] == "update" and a["id"] == card_id and words in card_text(a)


async def deploy(chat: Conversation, command: str) -> Activity:
    """Deploy, confirm, and return the card once it says deployed."""
    confirm = await chat.say(command)
    assert "Deploy " in card_text(confirm), card_text(confirm)
    await chat.press(confirm, "Deploy")
    return await chat.reply(updated(confirm["id"], "is deployed"), seconds=30)


async def test_evaluate_a_job_against_its_base_from_chat(
    conversation: Callable[..., Conversation],
    bot_url: str,
    tmp_path: Path,
    bot_records: RecordStore,
    session: aiohttp.ClientSession,
) -> None:
    job = await trained_job(bot_url, tmp_path)
    chat = conversation()

    # not deployed yet: the bot offers a Developer tier deployment (the deploy card asks first)
    offer = await chat.say(f"evaluate {job}")
    assert "has no deployment yet" in card_text(offer) and "Developer tier" in card_text(offer)
    await chat.press(offer, "Deploy it")
    ask = await chat.reply(lambda a: "Deploy gpt-4o-mini-clippy?" in card_text(a))
    assert "Developer deployment: no hourly hosting fee" in card_text(ask)
    await chat.press(ask, "Cancel")
    await chat.reply(updated(ask["id"], "cancelled"))
    deployed = await deploy(chat, f"deploy {job} name=clippy sku=developer")

    # no base deployment: the bot offers a Global Standard one, billed per token only
    offer = await chat.say("evaluate clippy")
    said = card_text(offer)  # the model's name a TextRun of its own, not code in markdown
    assert "There is no deployment of the base model gpt-4o-mini-2024-07-18 to" in said, said
    await chat.press(offer, "Deploy it")
    ask = await chat.reply(lambda a: "Deploy gpt-4o-mini?" in card_text(a))
    assert "No hosting fee" in card_text(ask)
    await chat.press(ask, "Deploy")
    await chat.reply(updated(ask["id"], "is deployed"), seconds=30)

    # bad input: one sentence each, nothing asked or spent
    for command, words in (
        ("evaluate nowhere against gpt-4o-mini", "There is no deployment named `nowhere`"),
        ("evaluate gpt-4o-mini against gpt-4o-mini", "serves the base model"),
        ("evaluate clippy against clippy", "serves a fine-tuned model"),
        ("evaluate clippy against gpt-4o-mini sideways", "I don't understand"),
        ("evaluate clippy against gpt-4o-mini file-nothere", "Azure OpenAI has no file"),
        (
            "evaluate clippy against gpt-4o-mini judge=nowhere",
            "There is no deployment named `nowhere`",
        ),
    ):
        answer = await chat.say(command)
        assert words in answer["text"], (command, answer["text"])
    assert not await bot_records.all(EvalRequest)

    # a file attached to the command is the one evaluated
    name = "mslearn_validation_set.jsonl"
    url = chat.channel.serve_file(f"{chat.id}-{name}", (DATA / name).read_bytes())
    attachment = {"contentType": "application/octet-stream", "contentUrl": url, "name": name}
    asked = card_text(await chat.say("evaluate clippy", attachments=[attachment]))
    assert "Evaluate clippy against gpt-4o-mini?" in asked and f"10 ({name})" in asked, asked
    answer = await chat.say("evaluate clippy", attachments=[attachment, attachment])
    assert "Attach one file of examples to `evaluate`, not 2." in answer["text"]
    in_channel = {"contentType": "reference", "name": name, "contentUrl": "https://x/y.jsonl"}
    answer = await chat.say("evaluate clippy", attachments=[in_channel])
    assert "only in a personal chat with me" in answer["text"], answer["text"]

    # a preference file is compared with the preferred answers, a big one sampled: the card says so
    dpo = await upload(bot_url, tmp_path, "dpo.jsonl", (DATA / "dpo.jsonl").read_bytes())
    asked = card_text(await chat.say(f"evaluate clippy against gpt-4o-mini {dpo}"))
    assert "preference (DPO) file" in asked and "preferred answer" in asked, asked
    big = await upload(bot_url, tmp_path, "big.jsonl", chat_lines(1200))
    asked = card_text(await chat.say(f"evaluate clippy against gpt-4o-mini {big}"))
    assert "The file has 1,200 examples; a fixed sample of 1,000 of them" in asked, asked
    assert "exact_match" in asked  # short answers are also checked for an exact match

    # the deployment card's "Evaluate" finds the base deployment itself; "Cancel" spends nothing
    await chat.press(deployed, "Evaluate")
    offered = await chat.reply(lambda a: "Evaluate clippy against gpt-4o-mini?" in card_text(a))
    await chat.press(offered, "Cancel")
    await chat.reply(updated(offered["id"], "Evaluation cancelled"))

    # the question states what is compared, on what, and the estimate of both runs
    confirm = await chat.say(f"evaluate {job} against gpt-4o-mini judge=gpt-4o-mini")
    text = card_text(confirm)
    assert "Evaluate clippy against gpt-4o-mini?" in text, text
    assert "10" in text and job in text and "rouge_l" in text and "fuzzy_match" in text
    assert "tokens for both runs, an estimated less than $0.01" in text, text

    # confirmed: the card follows both runs, then shows the result in place
    await chat.press(confirm, "Evaluate")
    done = await chat.reply(updated(confirm["id"], "Evaluation of clippy"), seconds=60)
    result = card_text(done)
    assert "Mean score" in result and "95% interval" in result, result
    assert "judge (the opinion of the model gpt-4o-mini, not a measurement)" in result

    (record,) = await bot_records.all(EvalRecord)
    assert record.state == "completed" and record.outcome is not None
    rouge = next(c for c in record.outcome.comparisons if c.grader == "rouge_l")
    # Done means: the fine-tuned model's mean rouge_l is higher, with a 95% interval excluding 0
    assert rouge.tuned_mean > rouge.base_mean and rouge.low > 0, rouge
    assert record.outcome.tokens > 0 and record.outcome.cost is not None
    assert "better" in result

    # every output of both runs downloads as JSONL from the card's link, and only with its key
    actions = done["attachments"][0]["content"]["actions"]
    (link,) = [a["url"] for a in actions if a["type"] == "Action.OpenUrl"]
    async with session.get(link) as response:
        assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
        rows = [json.loads(line) for line in (await response.text()).splitlines()]
    assert [row["item"] for row in rows] == list(range(10))
    assert rows[0]["reference"] == "It's Canberra, not Sydney. Shocking, I know!"
    assert rows[0]["base"]["deployment"] == "gpt-4o-mini" and rows[0]["fine_tuned"]["answer"]
    assert set(rows[0]["fine_tuned"]["grades"]) == {"fuzzy_match", "rouge_l", "judge"}
    async with session.get(link.replace("key=", "key=x")) as response:
        assert response.status == 404

    # pressing "Evaluate" again does not run it twice
    await chat.press(confirm, "Evaluate")
    assert "already answered" in (await chat.reply())["text"]


async def test_a_restart_mid_evaluation_resumes_and_finishes_on_its_card(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_port()  # the resource's endpoint stays the same
    async with running_bot(bot_settings(data, sandbox_speedup=3000.0, port=port)) as url:
        job = await trained_job(url, tmp_path)
        chat = Conversation(url, channel, session)
        await deploy(chat, f"deploy {job} name=clippy sku=standard")
        await deploy(chat, f"deploy {MODEL} name=base sku=globalstandard")
    # at speed 1 each run takes 5 s of its sandbox's time (0.5 s an item): the bot stops mid-run
    async with (
        running_bot(bot_settings(data, sandbox_speedup=1.0, port=port)) as url,
        bot_state(data) as state,
    ):
        chat.bot_url = url
        confirm = await chat.say("evaluate clippy")
        await chat.press(confirm, "Evaluate")
        live = await chat.reply(updated(confirm["id"], "Evaluating clippy"))
        assert "0 of 10 done" in card_text(live)  # per model: base, then fine-tuned

        async def running() -> bool:
            records = await state.all(EvalRecord)
            return bool(records) and records[0].state == "running"

        await wait_for(running, within=30)
    async with (
        running_bot(bot_settings(data, sandbox_speedup=1.0, port=port)) as url,
        bot_state(data) as state,
    ):
        chat.bot_url = url
        done = await chat.reply(updated(confirm["id"], "Evaluation of clippy"), seconds=60)
        assert "Mean score" in card_text(done)
        (record,) = await state.all(EvalRecord)
        assert record.state == "completed" and len(record.runs) == 2
        later = [a for a in chat.replies() if a["_op"] == "post" and "Evaluat" in card_text(a)]
        assert later == [confirm], "the evaluation finished on the card that asked"
        shown = card_text(await chat.say("audit"))
        assert shown.count("evaluate clippy against base · done") == 1


async def test_a_run_that_fails_ends_the_evaluation_with_azures_reason(
    channel: ChannelFake, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    data, port = tmp_path / "data", free_port()
    async with running_bot(bot_settings(data, sandbox_speedup=3000.0, port=port)) as url:
        job = await trained_job(url, tmp_path)
        chat = Conversation(url, channel, session)
        await deploy(chat, f"deploy {job} name=clippy sku=standard")
        await deploy(chat, f"deploy {MODEL} name=base sku=globalstandard")
    settings = bot_settings(data, sandbox_speedup=1.0, port=port)
    async with running_bot(settings) as url, bot_state(data) as state:
        chat.bot_url = url
        confirm = await chat.say("evaluate clippy against base")
        await chat.press(confirm, "Evaluate")

        async def running() -> bool:
            records = await state.all(EvalRecord)
            return bool(records) and records[0].state == "running"

        await wait_for(running, within=30)
        # the base deployment goes while its run answers (each item takes 0.5 s here)
        ask = await chat.say("delete base")
        await chat.press(ask, "Delete")
        failed = await chat.reply(updated(confirm["id"], "Evaluation of clippy failed"), 30)
        assert "The API deployment for this resource does not exist" in card_text(failed)
        (record,) = await state.all(EvalRecord)
        assert record.state == "failed" and record.outcome is None
        shown = card_text(await chat.say("audit"))
        assert "evaluate clippy against base · failed" in shown, shown


async def test_evaluate_in_korean(
    conversation: Callable[..., Conversation], bot_url: str, tmp_path: Path
) -> None:
    job = await trained_job(bot_url, tmp_path)
    chat = conversation()
    korean = {"locale": "ko-KR"}
    await deploy(chat, f"deploy {job} name=clippy sku=developer")
    start = len(chat.replies())
    offer = await chat.say("평가 clippy", **korean)  # no base deployment: the offer, in Korean
    assert "먼저 배포하세요" in card_text(offer), card_text(offer)
    await chat.press(offer, "배포하기", **korean)
    ask = await chat.reply(lambda a: "deploy-confirm" in verbs(a))
    await chat.press(ask, "배포", **korean)
    await chat.reply(lambda a: a["id"] == ask["id"] and "chat" in verbs(a), 30)
    confirm = await chat.say(f"평가 {job}", **korean)
    assert "evaluate-confirm" in verbs(confirm), card_text(confirm)
    await chat.press(confirm, "평가", **korean)
    done = await chat.reply(lambda a: a["id"] == confirm["id"] and "평균 점수" in card_text(a), 60)
    assert "95% 신뢰 구간" in card_text(done)
    found = [line for a in chat.replies()[start:] for line in english(texts_of(a))]
    assert not found, "English the bot said in Korean:\n" + "\n".join(found)
