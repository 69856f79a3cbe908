"""`evaluate` (and the Evaluate buttons of the training notice and the deployment card): parse,
ask with the cost on a card, and the card verbs that confirm or cancel. The work is
skills/evaluation/service.py's; the cards adaptive_cards/evaluation.py's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_cards import evaluation as cards
from bot.attachments import incoming_files, refers_to_files
from bot.turn import Turn
from infra.errors import UserError
from infra.i18n import _
from infra.text import echo
from skills.confirmations import lifetime_hours
from skills.evaluation.service import NeedsDeployment
from skills.models import check_name

USAGE = "`evaluate <deployment | job> [against <deployment>] [file-...] [judge=<deployment>]`"


@dataclass(frozen=True)
class EvaluateArgs:
    """`evaluate <deployment | job> [against <deployment>] [file-...] [judge=<deployment>]`."""

    target: str
    against: str
    file_id: str
    judge: str = ""


def parse_evaluate(text_: str, data: Mapping[str, Any]) -> EvaluateArgs:
    """Text, or a button's data ({"job": ...} or {"deployment": ...})."""
    words = text_.split()
    target = words.pop(0) if words else str(data.get("deployment") or data.get("job") or "")
    if not target:
        raise UserError("Tell me what to evaluate: {usage}.", usage=USAGE)
    against = file_id = judge = ""
    while words:
        word = words.pop(0)
        if word.lower().startswith("judge=") and not judge:
            judge = check_name(word.partition("=")[2])
        elif word.lower() == "against" and words:
            against = check_name(words.pop(0))
        elif word.startswith("file-") and not file_id:
            file_id = word
        else:
            raise UserError(
                "I don't understand {word} here; the command is {usage}.",
                word=echo(word),
                usage=USAGE,
            )
    if not target.startswith("ftjob-"):
        target = check_name(target)
    return EvaluateArgs(target, against, file_id, judge)


def parse_request(text_: str, data: Mapping[str, Any]) -> str:
    """The question's token a confirmation card's button carries."""
    token = str(data.get("request") or text_).strip()
    if not token:
        raise UserError("That button is missing its request; run the command again.")
    return token


async def evaluate(turn: Turn, args: EvaluateArgs) -> None:
    """Resolve both deployments and the examples, and ask with the estimated cost."""
    evaluation = turn.services.evaluation
    files = incoming_files(turn.activity.attachments or [])
    attached = (files[0], str(turn.activity.service_url)) if files else None
    if not files and refers_to_files(turn.activity.text, turn.activity.attachments or []):
        raise UserError(
            "I read a file attached to `evaluate` only in a personal chat with me; attach it "
            "there, or name an uploaded file with `file-...`."
        )
    if len(files) > 1:
        raise UserError("Attach one file of examples to `evaluate`, not {count}.", count=len(files))
    try:
        request = await evaluation.ask(
            await turn.resource(),
            turn.conversation_id,
            turn.user_id,
            target=args.target,
            against=args.against,
            file_id=args.file_id,
            judge=args.judge,
            attached=attached,
        )
    except NeedsDeployment as needed:
        await turn.show(cards.offer_card(needed.message, needed.offer), needed.message)
        return
    content = cards.confirm_card(request.setup, request.token, lifetime_hours())
    setup = request.setup
    card = await turn.show(
        content, _("Evaluate {name} against {base}?", name=setup.target, base=setup.base)
    )
    await evaluation.remember_card(request, card)


async def evaluate_confirm(turn: Turn, token: str) -> None:
    """Start both runs; the card pressed follows them, then shows the result."""
    await turn.services.evaluation.launch(
        token, turn.conversation_id, turn.actor, turn.pressed_card
    )


async def evaluate_cancel(turn: Turn, token: str) -> None:
    """Drop an evaluation that was not confirmed."""
    request = await turn.services.evaluation.cancel(token, turn.conversation_id, turn.user_id)
    card = turn.pressed_card or request.card
    await turn.show(cards.cancelled_card(request.setup), _("Evaluation cancelled"), card_id=card)
