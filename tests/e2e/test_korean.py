"""A user whose Teams runs in Korean does the whole lab and reads Korean in every word the bot
itself says; `language en` switches that user to English; an English user in the same channel
still reads English.

The conversation sends `locale: ko-KR` as Teams does, and buttons are pressed by their verb (their
titles are Korean). Every activity the bot sends is read by tests/korean.py: any English word
outside quotations, names and codes, or a particle pair (`을(를)`) left for the reader, fails the
test, with the line it stands in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.commands import build_router
from bot.package import localization
from tests.channel import Activity, Conversation, card_text, verbs
from tests.korean import english, particle_pairs, texts_of
from tests.training_flow import FAST, SAMPLE

KOREAN = {"locale": "ko-KR"}
KO_USER = "0c0c0000-0000-4000-8000-00000000000c"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**FAST, "sandbox_speedup": 3000.0}


async def press(chat: Conversation, card: Activity, verb: str, **fields: Any) -> None:
    """Press the button of `card` whose verb is `verb`, as Teams does."""
    data = verbs(card).get(verb)
    assert data is not None, f"no {verb!r} button in {list(verbs(card))}: {card_text(card)}"
    activity = chat.activity(value=data, replyToId=card["id"], **fields)
    response = await chat.post(activity)
    assert response.status in (200, 201), response.status


async def said(chat: Conversation, text: str, **fields: Any) -> Activity:
    """Say `text` in Korean; the bot's new message in answer (not a card's update)."""
    response = await chat.post(chat.activity(text=text, **KOREAN, **fields))
    assert response.status in (200, 201), response.status
    return await chat.reply(lambda a: a["_op"] == "post")


def with_verb(verb: str) -> Callable[[Activity], bool]:
    return lambda a: verb in verbs(a)


def not_korean(chat: Conversation, since: int = 0) -> list[str]:
    """Every English word the bot said in `chat` (after its `since`-th activity), and every
    particle pair (`을(를)`) it left for the reader to choose."""
    found = []
    for activity in chat.replies()[since:]:
        texts = texts_of(activity)
        found += english(texts) + [f"a particle pair  <-  {line}" for line in particle_pairs(texts)]
    return found


async def attach_samples(chat: Conversation, text: str, **fields: Any) -> Activity:
    attachments = []
    for name in ("training_set.jsonl", "validation_set.jsonl"):
        url = chat.channel.serve_file(f"{chat.id}-{name}", (SAMPLE / name).read_bytes())
        attachments.append(
            {"contentType": "application/octet-stream", "contentUrl": url, "name": name}
        )
    return await chat.say(text, attachments=attachments, **fields)


async def test_the_whole_lab_in_korean_then_english_on_request(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation(conversation_type="channel", team_id="team-ko", aad_object_id=KO_USER)

    # help and the sample, in Korean command words
    assert "도움말" in card_text(await chat.say("도움말", **KOREAN))
    offer = await chat.say("샘플", **KOREAN)
    offer = await chat.reply(with_verb("validate"), 20) if "validate" not in verbs(offer) else offer

    # validate the sample: the report card, with "start training"
    await press(chat, offer, "validate", **KOREAN)
    report = await chat.reply(lambda a: "train" in verbs(a), 60)

    # train: the confirmation, the live card, the notice
    await press(chat, report, "train", **KOREAN)
    confirm = await chat.reply(with_verb("train-confirm"), 20)
    await press(chat, confirm, "train-confirm", **KOREAN)
    notice = await chat.reply(lambda a: a["_op"] == "post" and "deploy" in verbs(a), 120)

    # deploy from the notice, then chat with it
    await press(chat, notice, "deploy", **KOREAN)
    plan = await chat.reply(with_verb("deploy-confirm"), 20)
    await press(chat, plan, "deploy-confirm", **KOREAN)
    deployed = await chat.reply(lambda a: "chat" in verbs(a), 60)
    name = str(verbs(deployed)["chat"].get("deployment") or "")
    assert name, verbs(deployed)
    await press(chat, deployed, "chat", **KOREAN)
    await chat.reply()
    await said(chat, "안녕하세요, AI에 대해 알려 주세요.")
    # in a chat session a prompt that starts with a command noun goes to the model
    answer = await said(chat, "학습 데이터는 어떻게 만드나요?")
    assert "train-confirm" not in verbs(answer) and "학습을 시작할까요" not in card_text(answer)
    await chat.say("/초기화", **KOREAN)
    # the chat ends from the Korean Teams menu: Teams sends the item's title, the bare word
    router = build_router()
    menu = {v for k, v in localization(router, "ko").items() if k.endswith(".title")}
    end = router.commands[[c.name for c in router.commands].index("end")].korean[0]
    assert end == "종료" and end in menu, menu
    ended = await said(chat, end)
    assert "채팅을 끝냈습니다" in ended["text"], ended

    # the lab's clean-up: delete the deployment
    ask = await chat.say(f"삭제 {name}", **KOREAN)
    await press(chat, ask, "delete-confirm", **KOREAN)
    # the card says it is gone (waited for: an update after the listing would be the answer to
    # the next message), and the listing agrees
    gone = f"{name} 배포가 삭제되었습니다"  # the name: a TextRun, no backticks
    await chat.reply(lambda a: a["id"] == ask["id"] and gone in card_text(a), 60)
    assert name not in card_text(await said(chat, "배포목록"))

    # the lab's keys and roles, then the audit trail of everything above, in Korean
    assert "역할 할당" in card_text(await said(chat, "역할 me"))
    await said(chat, "키")
    ask = await said(chat, "키 rotate key2")
    await press(chat, ask, "keys-rotate-confirm", **KOREAN)
    await chat.reply(lambda a: a["id"] == ask["id"] and "다시 생성했습니다" in card_text(a), 60)
    audit = card_text(await said(chat, "감사"))
    rows = audit.splitlines()
    for start in ("학습 ", "배포 ", "삭제 ", "역할 할당 ", "키 다시 생성 KEY2 · 완료"):
        assert any(row.startswith(start) for row in rows), audit  # one row an action
    assert "학습 시작을 승인했습니다(약 US$" in audit, audit  # the price said for its reader
    assert "Azure가 요청을 접수했습니다" in audit, audit

    found = not_korean(chat)
    assert not found, "English or a particle pair the bot said in Korean:\n" + "\n".join(found)

    # `language en`: the same user now reads English, whatever Teams says, in every answer to
    # their turns (a card of the Korean work above, updated later, stays Korean: it keeps its
    # starter's language)
    asked = [chat.activity(text=text, **KOREAN) for text in ("language en", "help")]
    for activity in asked:
        await chat.post(activity)
        await chat.reply()
    answers = [a for a in chat.replies() if a.get("replyToId") in {b["id"] for b in asked}]
    assert "English" in answers[0]["text"]
    assert "FineTune Ops commands" in card_text(answers[-1])
    assert not any("가" <= c <= "힣" for a in answers for c in card_text(a))
    back = await chat.say("language auto", **KOREAN)
    assert "한국어" in back["text"], back["text"]


async def test_the_labs_resource_steps_in_korean(
    conversation: Callable[..., Conversation],
) -> None:
    """The lab's first step and its last, in Korean: provision a resource, delete everything the
    bot made on it, purge it, and read the audit trail of it."""
    chat = conversation(aad_object_id=KO_USER)
    account = "aoai-ko1"

    ask = await said(chat, f"프로비저닝 name={account}")
    assert f"{account} 리소스를 만들까요?" in card_text(ask), card_text(ask)
    await press(chat, ask, "provision-confirm", **KOREAN)
    ready = f"{account} 리소스 준비 완료"
    await chat.reply(lambda a: a["id"] == ask["id"] and ready in card_text(a), 60)
    assert account in card_text(await said(chat, "리소스"))

    # teardown says what it is: it deletes the resource itself
    ask = await said(chat, "정리")
    assert f"{account}에서 제가 만든 것을 모두 삭제할까요?" in card_text(ask), card_text(ask)
    await press(chat, ask, "teardown-confirm", **KOREAN)
    done = f"{account}에서 제가 만든 것을 모두 삭제했습니다"
    await chat.reply(lambda a: a["id"] == ask["id"] and done in card_text(a), 60)

    # the name is held for 48 hours; the answer names the Korean command, its particle chosen
    held = (await said(chat, f"프로비저닝 name={account}"))["text"]
    assert held.startswith(f"`{account}`은 최근에 삭제되어") and f"`영구삭제 {account}`" in held
    assert "UTC까지)" in held and not re.search(r"\d-\d\dT\d", held), held  # a date, said

    ask = await said(chat, f"영구삭제 {account}")
    await press(chat, ask, "purge-confirm", **KOREAN)
    purged = f"{account} 영구 삭제 완료"
    await chat.reply(lambda a: a["id"] == ask["id"] and purged in card_text(a), 60)

    audit = card_text(await said(chat, "감사"))
    for line in (  # each action named by the command word that did it
        f"영구삭제 {account} · 완료",
        "영구 삭제함: 이름과 하위 도메인을 다시 쓸 수 있습니다",
        f"정리 {account} · 완료",
        "1개 중 1개 삭제",
        f"프로비저닝 {account} (northcentralus) · 완료",
        "새로 만듦, 엔드포인트",
    ):
        assert line in audit, audit
    found = not_korean(chat)
    assert not found, "English or a particle pair the bot said in Korean:\n" + "\n".join(found)


async def test_every_error_path_answers_in_korean(
    conversation: Callable[..., Conversation],
) -> None:
    chat = conversation()
    for text in (
        "hlep",
        "도움말 없는명령",
        "검증",
        "학습",
        "학습 epochs=abc",
        "상태 ftjob-nothing",
        "이벤트",
        "이벤트 ftjob-nothing",
        "취소 ftjob-nothing",
        "배포",
        "배포 ftjob-nothing",
        "배포 gpt-4o-mini-2024-07-18.ft-nothing sku=nothing",
        "삭제 nothing",
        "채팅 nothing",
        "/시스템 선생님처럼 답하세요",
        "예시 질문만",
        "비교",
        "언어 klingon",
        "프로비저닝",
        "역할 remove",
        "키 rotate key3",
        "영구삭제",
        "감사 many",
        "작업",
    ):
        await chat.say(text, **KOREAN)
    assert "`검증`" in (await said(chat, "검즘"))["text"]  # a Korean near-miss, in Korean
    await chat.say("", value={"verb": "no-such-button"}, **KOREAN)
    await chat.say("", value={"verb": "train-confirm", "token": "forged"}, **KOREAN)

    # a broken file: the findings are in Korean, the user's lines are quoted
    url = chat.channel.serve_file(f"{chat.id}-bad.jsonl", b'{"messages": [}\nnot json\n')
    attachment = {"contentType": "application/octet-stream", "contentUrl": url, "name": "bad.jsonl"}
    await chat.checked("검증", attachments=[attachment], **KOREAN)
    found = not_korean(chat)
    assert not found, "English or a particle pair the bot said in Korean:\n" + "\n".join(found)


async def test_an_english_user_in_the_same_channel_still_reads_english(
    conversation: Callable[..., Conversation],
) -> None:
    korean = conversation(conversation_type="channel", team_id="team-mixed", user_id="ko-user")
    english_user = Conversation(
        korean.bot_url,
        korean.channel,
        korean.session,
        conversation_type="channel",
        team_id="team-mixed",
        user_id="en-user",
    )
    english_user.id = korean.id
    assert "FineTune Ops 명령" in card_text(await korean.say("help", **KOREAN))
    assert "FineTune Ops commands" in card_text(await english_user.say("help", locale="en-US"))
    # a card keeps its language whoever presses its button: the Korean user's sample offer,
    # pressed by the English user, gives a Korean report
    await korean.say("샘플", **KOREAN)
    offer = await korean.reply(with_verb("validate"), 20)
    await press(english_user, offer, "validate", locale="en-US")
    report = await english_user.reply(lambda a: "train" in verbs(a), 60)
    assert "학습" in card_text(report) and english(texts_of(report)) == []
    # Teams' clientInfo entity is read when the activity has no locale
    client_info = [{"type": "clientInfo", "locale": "ko-KR"}]
    assert "FineTune Ops 명령" in card_text(await english_user.say("help", entities=client_info))
    # a choice beats the Teams locale
    await english_user.say("language en", entities=client_info)
    assert "FineTune Ops commands" in card_text(await english_user.say("help", **KOREAN))
