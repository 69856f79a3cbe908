"""Names from activities (`from.name`, a mention) are someone else's words: capped, without the
invisible characters that reorder or hide text, and never live markdown (in a card a TextRun,
which Teams draws as it is; in a message a code span). Before, the audit card's "by" name
`**Boss** [click](https://evil.example/x)` rendered as bold text and a link, `roles @x` for an
unknown mention said its name as markdown, a 200,000-character mention name came back as 17
messages, and a right-to-left override or zero-width characters passed through."""

from __future__ import annotations

from typing import Any

from tests.channel import Activity, card_of, nodes
from tests.e2e.test_deployment import updated
from tests.e2e.test_provisioning import ADMIN

MARKDOWN = "**Boss** [click](https://evil.example/x)"
HIDDEN = "\u202e\u200b\u200d\u2066"  # right-to-left override, zero-width space and joiner, isolate


def where(activity: Activity, words: str) -> list[str]:
    """The types of the card elements whose own text holds `words`."""
    return [
        str(node.get("type"))
        for node in nodes(card_of(activity))
        if any(isinstance(node.get(k), str) and words in node[k] for k in ("text", "value"))
    ]


async def test_a_name_with_markdown_is_shown_as_it_is_in_the_audit_card(conversation: Any) -> None:
    boss = conversation(aad_object_id=ADMIN, user_name=f"{MARKDOWN}{HIDDEN}")
    ask = await boss.say("keys rotate key2")
    await boss.press(ask, "Regenerate KEY2")
    await boss.reply(updated(ask["id"], "was regenerated"))
    audit = await boss.say("audit")
    assert where(audit, MARKDOWN) == ["TextRun"]  # never a TextBlock's markdown
    [run] = [
        n for n in nodes(card_of(audit)) if n.get("type") == "TextRun" and MARKDOWN in n["text"]
    ]
    assert run["text"] == MARKDOWN and run["id"].startswith("quote-")  # their name, no id
    assert not any(c in str(card_of(audit)) for c in HIDDEN)


async def test_an_unknown_mention_is_said_capped_as_code_in_one_message(
    conversation: Any,
) -> None:
    team = conversation(conversation_type="channel", team_id="team-1", aad_object_id=ADMIN)
    name = MARKDOWN + HIDDEN + "x" * 200_000
    bot = {"type": "mention", "mentioned": team.bot, "text": "<at>FineTuneBot</at>"}
    who = {"type": "mention", "mentioned": {"id": "29:who", "name": name}, "text": "<at>x</at>"}
    start = len(team.channel.sent)
    reply = await team.say("<at>FineTuneBot</at> roles <at>x</at>", entities=[bot, who])
    assert reply["text"] == (
        "I could not look up `**Boss** [click](https://evil.example/x)xxxxxxxxxxxxxxxxxxxxxxx…` "
        "in this conversation; give their Entra ID object id instead: `roles <object id>`."
    )
    assert len([a for a in team.channel.sent[start:] if a["_conversation"] == team.id]) == 1
