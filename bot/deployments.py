"""Hosting commands: `deploy` (and the training notice's "Deploy" button), `deployments`,
`delete` (a deployment; `delete file|model` go to bot/training.py), and the card verbs behind
them (confirm, cancel, keep alive).

Parsers for the command table, and handlers that call skills/deployment/service.py and answer
with cards from adaptive_cards/deployment.py. A deployment is confirmed on a card that states its
cost; the same card then follows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_cards import deployment as cards
from adaptive_cards.spend import approval_card, budget_line
from bot.arguments import key_values
from bot.training import delete_file, delete_model
from bot.turn import Role, Turn
from infra.errors import UserError
from infra.i18n import _, n_
from infra.text import echo
from skills.chat import DeploymentGone
from skills.confirmations import lifetime_hours
from skills.deployment.records import DeleteRequest, DeployRequest
from skills.models import check_name, sku_word

TOKEN_KEY = "request"


@dataclass(frozen=True)
class DeployArgs:
    """`deploy <job | model | checkpoint> [name] [sku] [name=..] [sku=..] [capacity=..]`."""

    ref: str
    job: str
    name: str
    sku: str
    capacity: int


def parse_deploy(text_: str, data: Mapping[str, Any]) -> DeployArgs:
    """Text or the training notice's button data ({"model": ..., "job": ...})."""
    words, options = key_values(text_, {"name", "sku", "capacity"})
    ref = words[0] if words else str(data.get("model") or data.get("job") or "")
    if not ref:
        raise UserError(
            "Tell me what to deploy: `deploy <job id | fine-tuned model | checkpoint id> "
            "[name=<deployment>] [sku=standard|globalstandard|developer] [capacity=N]`."
        )
    if len(words) > 3:
        raise UserError(
            "`deploy` takes a model, a name and a sku; {word} is one too many.", word=echo(words[3])
        )
    name = options.get("name") or (words[1] if len(words) > 1 else str(data.get("name") or ""))
    sku = options.get("sku") or (words[2] if len(words) > 2 else str(data.get("sku") or ""))
    raw_capacity = options.get("capacity") or str(data.get("capacity") or "1")
    if (
        not (raw_capacity.isascii() and raw_capacity.isdigit())
        or not 1 <= int(raw_capacity) <= 1000
    ):
        raise UserError(
            "`capacity` must be a whole number from 1 to 1000, not {value}.",
            value=echo(raw_capacity),
        )
    return DeployArgs(
        ref=ref,
        job=str(data.get("job") or ""),
        name=check_name(name) if name else "",
        sku=sku_word(sku or "standard"),
        capacity=int(raw_capacity),
    )


def parse_request(text_: str, data: Mapping[str, Any]) -> str:
    """The question's token a confirmation card's button carries."""
    token = str(data.get(TOKEN_KEY) or text_).strip()
    if not token:
        raise UserError("That button is missing its request; run the command again.")
    return token


@dataclass(frozen=True)
class DeleteArgs:
    """`delete <deployment>`, `delete file <id>` or `delete model <job>`."""

    what: str
    """`deployment`, `file` or `model`."""
    name: str


DELETE_WORDS = {"file": "file", "파일": "file", "model": "model", "모델": "model"}
"""The word after `delete` that names a file or a fine-tuned model (else: a deployment)."""


def parse_delete(text_: str, data: Mapping[str, Any]) -> DeleteArgs:
    """`delete <deployment>` (or a card's `deployment`), `delete file <id>`,
    `delete model <job>`."""
    words = text_.split()
    if words and words[0].lower() in DELETE_WORDS:
        what = DELETE_WORDS[words[0].lower()]
        if len(words) > 2:
            raise UserError("Give one id after `delete {what}`.", what=what)
        return DeleteArgs(what, words[1] if len(words) > 1 else "")
    return DeleteArgs("deployment", parse_deployment_name(text_, data))


def parse_deployment_name(text_: str, data: Mapping[str, Any]) -> str:
    """One deployment name, from the text or a card's `deployment`."""
    value = text_.strip() or str(data.get("deployment") or "")
    if not value:
        raise UserError("Which deployment? `deployments` lists them.")
    if len(value.split()) > 1:
        raise UserError("Give one deployment name, not {value}.", value=echo(value))
    return check_name(value)


# -- deploy --------------------------------------------------------------------------------------


async def deploy(turn: Turn, args: DeployArgs) -> None:
    """Resolve the model, check the name, and ask for confirmation with the cost."""
    hosting = turn.services.hosting
    request = await hosting.ask_deploy(
        await turn.resource(),
        turn.conversation_id,
        turn.user_id,
        ref=args.ref,
        job=args.job,
        name=args.name,
        sku=args.sku,
        capacity=args.capacity,
    )
    plan = hosting.plan(request)
    content = cards.confirm_card(plan)
    check = await turn.services.spend.hosting_check(request.resource, turn.scope, plan.hourly_price)
    if check is not None:  # the fee until the month ends, against the team's budget
        content["body"].append(budget_line(check))
    card = await turn.show(content, _("Deploy {name}?", name=request.name))
    await turn.services.confirmations.shown(request.key(), card)


async def deploy_confirm(turn: Turn, token: str) -> None:
    """Create the deployment; the card that asked follows it (or says why Azure refused)."""
    card = await turn.question_card(DeployRequest.at(token))
    admin = turn.role >= Role.ADMIN
    gate = turn.services.spend.gate
    waiting = await gate(token, turn.scope, turn.actor, admin=admin, kind="deploy")
    if waiting is not None:  # over the team's budget: an admin answers on this card
        await turn.show(approval_card(waiting), _("Waiting for an admin's approval"), card_id=card)
        return
    await turn.services.hosting.deploy(token, turn.conversation_id, turn.actor, card)


async def deploy_cancel(turn: Turn, token: str) -> None:
    """Drop a deployment that was not confirmed."""
    hosting = turn.services.hosting
    request = await hosting.cancel_deploy(token, turn.conversation_id, turn.user_id)
    content = cards.cancelled_card(hosting.plan(request))
    card = await turn.question_card(request.key())
    await turn.show(content, _("Deployment cancelled"), card_id=card)


# -- deployments ------------------------------------------------------------------------------


async def list_command(turn: Turn, _none: None) -> None:
    """The account's deployments with last use and the days left before idle deletion."""
    listing = await turn.services.hosting.deployments(await turn.resource())
    summary = n_("{count} deployment", "{count} deployments", len(listing.rows))
    await turn.show(cards.deployments_card(listing), summary)


# -- delete ------------------------------------------------------------------------------------


async def delete(turn: Turn, args: DeleteArgs) -> None:
    """Ask for confirmation before deleting a deployment (or a file, or a fine-tuned model:
    bot/training.py)."""
    if args.what == "file":
        await delete_file(turn, args.name)
        return
    if args.what == "model":
        await delete_model(turn, args.name)
        return
    name = args.name
    hosting = turn.services.hosting
    request = await hosting.ask_delete(
        await turn.resource(), turn.conversation_id, turn.user_id, name
    )
    content = cards.delete_confirm_card(
        request.name, request.model, request.token, lifetime_hours()
    )
    card = await turn.show(content, _("Delete {name}?", name=request.name))
    await turn.services.confirmations.shown(request.key(), card)


async def delete_confirm(turn: Turn, token: str) -> None:
    """Delete; the card that asked says so, and when it is gone."""
    card = await turn.question_card(DeleteRequest.at(token))
    await turn.services.hosting.delete(token, turn.conversation_id, turn.actor, card)


async def delete_cancel(turn: Turn, token: str) -> None:
    """Keep the deployment after all."""
    request = await turn.services.hosting.keep(token, turn.conversation_id, turn.user_id)
    name = request.name
    content = cards.deleting_card(cards.kept_sentence(name))
    card = await turn.question_card(request.key())
    await turn.show(content, _("Kept {name}", name=name), card_id=card)


# -- keep alive, and explaining a missing deployment --------------------------------------------


async def keep_alive_command(turn: Turn, name: str) -> None:
    """One minimal completion: the inactivity clock starts again (only from the deployment's
    inactivity warning, which then says so)."""
    hosting = turn.services.hosting
    resource = await turn.resource()
    try:
        _answer, record = await hosting.keep_alive(
            resource, name, turn.conversation_id, turn.pressed_card
        )
    except DeploymentGone:
        await explain_gone(turn, name)
        return
    await turn.show(
        cards.kept_alive_card(name, record.model, turn.user_name),
        _("{name} kept alive", name=name),
        card_id=record.warning_card,
    )
    await turn.send_text(
        _(
            "`{name}` is kept alive: one completion was made, so the 15-day inactivity clock "
            "starts again now.",
            name=name,
        )
    )


async def explain_gone(turn: Turn, name: str) -> None:
    """A deployment the data plane does not know: deleted for inactivity, not ready, or absent."""
    view = await turn.services.hosting.explain_gone(await turn.resource(), name)
    await turn.show(view)
