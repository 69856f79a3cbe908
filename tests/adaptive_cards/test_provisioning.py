"""The provisioning, access, keys, teardown and audit cards, their summaries and the refusals of
their commands in Korean: every card builder on the views the workflows hand it, and every parser
of the resource commands on what a user types, checked with tests.korean; English is still
English.

The texts a view carries from its workflow (a step, a state, a reason, what a role allows, the
labels of what teardown deletes) are said by skills/provisioning in the language of the person
who started it; here they are what that workflow says in Korean (infra/locales/ko/provskills.po).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adaptive_cards import provisioning as cards
from adaptive_cards.common import Card
from bot.access import parse_count, parse_keys, parse_roles
from bot.provisioning import parse_account, parse_provision
from bot.render import render
from infra import i18n
from infra.errors import UserError
from infra.i18n import later
from skills.audit import AuditEntry
from skills.provisioning.records import TeardownItem
from skills.provisioning.views import (
    AuditView,
    KeyRotated,
    KeysView,
    Origin,
    ProvisionFailed,
    ProvisionPlan,
    ProvisionProgress,
    ProvisionSucceeded,
    PurgePlan,
    ResourceView,
    RoleLine,
    RolesView,
    RotatePlan,
    Rotation,
    TeardownPlan,
    TeardownProgress,
)
from tests.korean import english, particle_pairs, texts_of

ENDPOINT = "https://rgtest.openai.azure.com/"
ADA = "Ada Admin (0a11ce00-0000-4000-8000-000000000001)"


def plan(region: str, exists: bool = False, group_exists: bool = False) -> ProvisionPlan:
    """A plan on an account and a group whose names are words (not ids): they must read as code."""
    return ProvisionPlan(
        "teacherlab", "rg-lab", "sub", "northcentralus", region, group_exists, exists, "a" * 32, 24
    )


def items(korean: bool) -> tuple[TeardownItem, ...]:
    """What teardown deletes, labelled as the workflow labels them."""
    if korean:
        labels = (
            "teacher (gpt-4o-mini-2024-07-18.ft-abc-teacher)",
            "ftjob-1과 미세 조정된 모델",
            "file-1 (training_set.jsonl)",
            "teacherlab (리소스 그룹 rg-lab은 남겨 둠)",
        )
        reason = "Azure 응답: `The job is still running.`"  # Azure's words: a TextRun
    else:
        labels = (
            "teacher (gpt-4o-mini-2024-07-18.ft-abc-teacher)",
            "ftjob-1 and its fine-tuned model",
            "file-1 (training_set.jsonl)",
            "teacherlab (group rg-lab, which stays)",
        )
        reason = "Azure said: The job is still running."
    return (
        TeardownItem(kind="deployment", id="teacher", label=labels[0], state="done"),
        TeardownItem(kind="job", id="ftjob-1", label=labels[1], state="failed", reason=reason),
        TeardownItem(kind="file", id="file-1", label=labels[2], state="deleting"),
        TeardownItem(kind="account", id="teacherlab", label=labels[3], state="done"),
    )


def entries() -> tuple[AuditEntry, ...]:
    """Audit entries as the workflows write them, whoever wrote them: names as targets, details
    as message ids with parameters (said in the reader's language); and one written before
    that, whose detail is the text it was written in (shown as a quotation)."""
    teardown = later(
        "deleted {deleted} of {total}; not deleted: {items}", deleted=3, total=4, items="ftjob-1"
    )
    common: dict[str, Any] = {"at": 1.7e9, "user": "0a11", "user_name": "Ada Admin"}
    return (
        AuditEntry(id="3", action="teardown", target="teacherlab", resource="teacherlab (rg-lab)",
                   outcome="partly done", detail=teardown, **common),
        AuditEntry(id="2", action="keys rotate", target="KEY1", resource="teacherlab (rg-lab)",
                   outcome="done", detail=later("the bot switched to {key} first", key="KEY2"),
                   **common),
        AuditEntry(id="1", action="roles remove", target="Bob Builder (0b0b)", outcome="failed",
                   detail="Azure said: AuthorizationFailed", **common),
    )  # fmt: skip


def every_card(korean: bool) -> list[tuple[str, Card]]:
    """Each card of the area, on the views its workflow hands it in that language."""
    region = "미국 중북부" if korean else "North Central US"
    said: dict[str, str] = (
        {
            "step": "리소스 만드는 중",
            "state": "생성 중",
            "note": "`FTBOT_BOT_PRINCIPAL_ID`가 설정되지 않아 제게 역할을 할당하지 않았습니다.",
            "reason": "`teacherlab`은 이미 사용 중인 이름입니다: 다른 Azure 리소스가 "
            "쓰고 있습니다.",
            "auth": "Entra ID(제 ID)",
            "found": "성공",
            "allows": "파일 업로드, 미세 조정, 배포, 모델 호출 (데이터 평면, Entra ID).",
            "scope": "리소스",
            "assigned": "지금 할당함",
            "removed": "지금 제거함",
            "uses": "KEY1 키 인증",
            "date": "2026-01-03",
        }
        if korean
        else {
            "step": "Creating the account",
            "state": "Creating",
            "note": "FTBOT_BOT_PRINCIPAL_ID is not set, so the bot assigned itself no role.",
            "reason": "The name teacherlab is taken: another Azure resource already uses it.",
            "auth": "Entra ID (the bot's own identity)",
            "found": "Succeeded",
            "allows": "Upload files, fine-tune, deploy and call the models (data plane, Entra ID).",
            "scope": "account",
            "assigned": "assigned now",
            "removed": "removed now",
            "uses": "key auth with KEY1",
            "date": "2026-01-03",
        }
    )
    role = RoleLine("Cognitive Services OpenAI Contributor", said["allows"], said["scope"])
    bot = "봇 (`b0b0`)" if korean else "the bot (b0b0)"
    holders = RoleLine(**{**role.__dict__, "holders": (ADA, bot)})
    assigned = RoleLine(**{**role.__dict__, "held": True, "note": said["assigned"]})
    removed = RoleLine(**{**role.__dict__, "held": False, "note": said["removed"]})
    masked = {"key1": "••••abcd", "key2": "••••efgh"}
    rotated = {"key2": Rotation(1_767_261_600.0, "Ada Admin")}  # key1: never by the bot
    progress = ProvisionProgress(plan(region), said["step"], said["state"], 200.0)
    return [
        ("provision-confirm", cards.provision_confirm_card(plan(region))),
        ("provision-adopt", cards.provision_confirm_card(plan(region, True, True))),
        ("provision-cancelled", cards.provision_cancelled_card(plan(region))),
        (
            "provision-starting",
            cards.provision_progress_card(ProvisionProgress(plan(region), "", "", 0)),
        ),
        ("provision-progress", cards.provision_progress_card(progress)),
        (
            "provision-succeeded",
            cards.provision_succeeded_card(
                ProvisionSucceeded(plan(region), ENDPOINT, 95.0, False, said["note"])
            ),
        ),
        (
            "provision-adopted",
            cards.provision_succeeded_card(
                ProvisionSucceeded(plan(region, True, True), ENDPOINT, 3900.0, True)
            ),
        ),
        (
            "provision-failed",
            cards.provision_failed_card(ProvisionFailed(plan(region), said["reason"])),
        ),
        (
            "resource",
            cards.resource_card(
                ResourceView(
                    "sub",
                    "rg-lab",
                    "teacherlab",
                    "northcentralus",
                    "S0",
                    ENDPOINT,
                    said["auth"],
                    Origin(adopted=False, by="Ada Admin", at=1_767_261_600.0),
                    said["found"],
                )
            ),
        ),
        ("roles", cards.roles_card(RolesView("teacherlab", (holders, role)))),
        ("roles-assigned", cards.roles_card(RolesView("teacherlab", (assigned,), ADA, "assigned"))),
        (
            "roles-removed",
            cards.roles_card(RolesView("teacherlab", (removed,), ADA, "removed")),
        ),
        (
            "keys",
            cards.keys_card(
                KeysView("teacherlab", ENDPOINT, said["uses"], masked, "key1", rotated)
            ),
        ),
        (
            "rotate-in-use",
            cards.rotate_confirm_card(RotatePlan("teacherlab", "key1", "key1", "b" * 32, 1)),
        ),
        (
            "rotate-unused",
            cards.rotate_confirm_card(RotatePlan("teacherlab", "key2", "key1", "b" * 32, 24)),
        ),
        ("rotated", cards.rotated_card(KeyRotated("teacherlab", "key1", "key2", True, masked))),
        (
            "rotated-unused",
            cards.rotated_card(KeyRotated("teacherlab", "key2", "key1", False, masked)),
        ),
        ("kept-key", cards.kept_key_card("teacherlab")),
        (
            "teardown-confirm",
            cards.teardown_confirm_card(
                TeardownPlan("teacherlab", "rg-lab", items(korean), "c" * 32, 24)
            ),
        ),
        (
            "teardown-running",
            cards.teardown_progress_card(
                TeardownProgress("teacherlab", items(korean), False, False)
            ),
        ),
        (
            "teardown-failed",
            cards.teardown_progress_card(TeardownProgress("teacherlab", items(korean), True, True)),
        ),
        (
            "teardown-done",
            cards.teardown_progress_card(
                TeardownProgress("teacherlab", items(korean)[:1], True, True)
            ),
        ),
        ("teardown-kept", cards.teardown_kept_card("teacherlab")),
        (
            "purge-confirm",
            cards.purge_confirm_card(
                PurgePlan("teacherlab", "rg-lab", "northcentralus", said["date"], "d" * 32, 24)
            ),
        ),
        (
            "purge-undated",
            cards.purge_confirm_card(
                PurgePlan("teacherlab", "rg-lab", "northcentralus", "", "d" * 32, 24)
            ),
        ),
        ("purged", cards.purged_card("teacherlab", True)),
        ("not-purged", cards.purged_card("teacherlab", False)),
        ("audit", cards.audit_card(AuditView(entries()))),
        ("audit-empty", cards.audit_card(AuditView(()))),
    ]


def seen(content: Card) -> list[str]:
    return texts_of({"attachments": [{"content": content}]})


def hangul(texts: list[str]) -> bool:
    return any("\uac00" <= c <= "\ud7a3" for t in texts for c in t)


def test_every_card_speaks_korean() -> None:
    with i18n.use("ko"):
        shown = every_card(korean=True)
    for name, content in shown:
        texts = seen(content)
        assert hangul(texts), name
        assert english(texts) == [] and particle_pairs(texts) == [], name
        languages = {a["data"]["language"] for a in content.get("actions", [])}
        assert languages <= {"ko"}, name


def runs(content: Any) -> list[dict[str, Any]]:
    """Every TextRun of a card (or of any part of one)."""
    if isinstance(content, dict):
        own = [content] if content.get("type") == "TextRun" else []
        return own + [run for value in content.values() for run in runs(value)]
    if isinstance(content, list):
        return [run for value in content for run in runs(value)]
    return []


def names(content: Card) -> list[str]:
    """The others' words on a card: TextRuns with a quotation's id (never markdown)."""
    return [r["text"] for r in runs(content) if str(r.get("id", "")).startswith("quote-")]


def buttons(content: Card) -> list[tuple[str, str, str | None]]:
    """(title, verb, style) of every button of a card, wherever it is."""
    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Submit":
                found.append((node["title"], node["data"]["verb"], node.get("style")))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(content)
    return found


def test_names_are_textruns_in_every_language() -> None:
    """Names and ids are TextRuns (shown as they are, never markdown, no backticks) in Korean
    and English alike; Korean particles after them are the ones the names take."""
    with i18n.use("ko"):
        korean = dict(every_card(korean=True))
    english_cards = dict(every_card(korean=False))
    confirm = seen(korean["provision-confirm"])
    assert confirm[0] == "`teacherlab` 리소스를 만들까요?"  # the account: a TextRun
    assert "`rg-lab` (새로 만들며, 나중에도 삭제하지 않음)" in confirm
    assert "미국 중북부 (`northcentralus`)" in confirm
    assert [a["title"] for a in korean["provision-confirm"]["actions"]] == ["만들기", "취소"]
    assert "••••abcd" in names(korean["keys"]) and "`" not in "".join(names(korean["keys"]))
    assert seen(korean["teardown-done"])[0] == "`teacherlab`에서 제가 만든 것을 모두 삭제했습니다"
    said = seen(korean["teardown-failed"])
    assert any(line.startswith("Azure는 `teacherlab`을 48시간 동안") for line in said), said
    assert seen(english_cards["provision-confirm"])[0] == "Create `teacherlab`?"
    assert names(english_cards["provision-confirm"])[0] == "teacherlab"
    assert "••••abcd" in names(english_cards["keys"])


def test_the_audit_says_who_what_and_when_compactly_in_the_reader_s_language() -> None:
    """One row per action: what, on what, how it ended; when in each reader's own time zone
    (DATE/TIME, never a literal UTC time, never a line Teams reads as a numbered list); the
    person's name, not their object id; the detail in the reader's language."""
    with i18n.use("ko"):
        korean = dict(every_card(korean=True))
    english_cards = dict(every_card(korean=False))
    audit = seen(korean["audit"])
    assert "정리 `teacherlab` · 일부 완료" in audit
    assert "4개 중 3개 삭제, 삭제하지 못함: ftjob-1" in audit
    assert "키 다시 생성 `KEY1` · 완료" in audit and "먼저 KEY2로 전환함" in audit
    stamp = "{{DATE(2023-11-14T22:13:20Z,SHORT)}} {{TIME(2023-11-14T22:13:20Z)}}"
    assert f"{stamp} · `Ada Admin` · `teacherlab (rg-lab)`" in audit
    assert not any("0a11" in line or "UTC" in line for line in audit)
    rows = [b for b in korean["audit"]["body"] if b["type"] == "Container"]
    assert len(rows) == 3 and all(len(row["items"]) == 3 for row in rows)  # three lines each
    english_audit = seen(english_cards["audit"])
    assert "teardown `teacherlab` · partly done" in english_audit
    assert "deleted 3 of 4; not deleted: ftjob-1" in english_audit
    written = runs(english_cards["audit"])
    old = [r for r in written if r["text"] == "Azure said: AuthorizationFailed"]
    assert old and old[0]["id"].startswith("quote-")  # an entry written before: as it was


def test_roles_say_who_has_what_what_is_missing_and_offer_the_fix() -> None:
    shown = dict(every_card(korean=False))
    roles = seen(shown["roles"])
    held = "Held by `Ada Admin (0a11ce00-0000-4000-8000-000000000001)`, `the bot (b0b0)`"
    assert held in roles  # names from Teams are others' words (TextRuns)
    assert "Missing: nobody I know of holds it" in roles
    assert "1 role is held by nobody I know of." in roles
    assert buttons(shown["roles"]) == [("Assign the roles to me", "roles", "positive")]
    assert parse_roles("", shown["roles"]["actions"][0]["data"]).target == "me"
    assert buttons(shown["roles-assigned"]) == []  # what changed, nothing to fix


def test_keys_show_no_secret_and_regenerate_each_key_in_the_destructive_style() -> None:
    shown = dict(every_card(korean=False))
    keys = shown["keys"]
    assert names(keys)[1:4] == [ENDPOINT, "••••abcd", "••••efgh"]  # after the account's name
    assert buttons(keys) == [
        ("Regenerate KEY1", "keys", "destructive"),
        ("Regenerate KEY2", "keys", "destructive"),
    ]
    asked = [parse_keys("", a["data"]).rotate for a in keys["actions"]]
    assert asked == ["key1", "key2"]  # each button asks first, as `keys rotate keyN` does
    when = "{{DATE(2026-01-01T10:00:00Z,SHORT)}} {{TIME(2026-01-01T10:00:00Z)}} by `Ada Admin`"
    assert when in seen(keys) and "not by the bot" in seen(keys)


def test_the_purge_after_a_teardown_is_destructive_and_says_what_it_does() -> None:
    shown = dict(every_card(korean=False))
    deployment, *_, account = items(korean=False)
    done = cards.teardown_progress_card(
        TeardownProgress("teacherlab", (deployment, account), True, True)
    )
    assert buttons(done) == [("Purge for good", "purge", "destructive")]  # its only button
    assert done["actions"][0]["data"]["account"] == "teacherlab"
    said = "\n".join(seen(done))
    assert "Purging it deletes it for good" in said and "it cannot be undone" in said
    failed = shown["teardown-failed"]
    assert buttons(failed) == [
        ("Try again", "teardown", "destructive"),
        ("Purge for good", "purge", "destructive"),
    ]
    bands = [b.get("style") for b in failed["body"] if b["type"] == "Container"]
    assert bands == ["warning", "attention"]  # the title's band, the failed item's
    assert buttons(shown["teardown-confirm"])[0] == (
        "Delete all of it",
        "teardown-confirm",
        "destructive",
    )
    assert buttons(shown["provision-succeeded"])[0] == (
        "Assign the roles to me",
        "roles",
        "positive",
    )


def test_english_is_still_english() -> None:
    shown = dict(every_card(korean=False))
    for name, content in shown.items():
        assert not hangul(seen(content)), name
    assert seen(shown["teardown-failed"])[0] == "Teardown of `teacherlab`: 1 item not deleted"
    failed = seen(shown["teardown-failed"])
    assert "job: `ftjob-1 and its fine-tuned model`: FAILED" in failed
    assert "Azure said: The job is still running." in failed  # the reason, under its item
    assert "This question can be answered for 1 hour." in seen(shown["rotate-in-use"])
    assert "Cognitive Services OpenAI Contributor (at the account)" in seen(shown["roles"])
    assert seen(shown["provision-adopted"])[0] == "`teacherlab` is adopted"
    assert "1 hr 5 min" in seen(shown["provision-adopted"])
    origin = "provisioned by `Ada Admin` on {{DATE(2026-01-01T10:00:00Z,SHORT)}}"
    assert any(line.startswith(origin) for line in seen(shown["resource"]))


def test_a_card_a_workflow_sends_later_speaks_the_language_it_is_sent_in() -> None:
    """bot/render.py draws a view inside the workflow's `use(record.language)`."""
    view = TeardownProgress("teacherlab", items(korean=True), True, True)
    with i18n.use("ko"):
        korean = render(view)
    content = korean.attachments[0].content
    assert english(seen(content)) == [] and hangul(seen(content))
    assert not hangul(seen(render(TeardownProgress("teacherlab", items(False), True, True))
                           .attachments[0].content))  # fmt: skip


REFUSED: list[tuple[Callable[[str, dict[str, Any]], object], str]] = [
    (parse_provision, "aoai-lab2 extra"),
    (parse_provision, ""),
    (parse_account, "two names"),
    (parse_roles, "me bot"),
    (parse_roles, "remove"),
    (parse_roles, "someone"),
    (parse_keys, "rotate key3"),
    (parse_count, "many"),
    (parse_count, "99"),
]


@pytest.mark.parametrize(("parse", "typed"), REFUSED)
def test_the_resource_commands_refuse_in_korean(
    parse: Callable[[str, dict[str, Any]], object], typed: str
) -> None:
    with pytest.raises(UserError) as refused:
        parse(typed, {})
    with i18n.use("ko"):
        said = refused.value.message
    assert hangul([said]) and english([said]) == [], said
    assert not hangul([refused.value.message])
