"""Hosting commands: `deploy` (with the training notice's "Deploy" button), `deployments`,
`delete`, and the card verbs behind them (confirm, cancel, keep alive).

A deployment is confirmed on a card that states its cost; the same card then follows it
(bot/deployment_watcher.py) until Azure says it succeeded or failed. Every deployment the bot
creates is recorded with the conversation that asked for it, for the inactivity warnings
(bot/idle_watcher.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from adaptive_cards import deployment as cards
from adaptive_cards.common import Card
from bot.arguments import key_values
from bot.deployment_watcher import follow_deployment
from bot.hosting import account_of, clients, clock_of
from bot.services import Services
from bot.turn import Turn
from infra.errors import UserError
from infra.storage import JsonObject, update
from skills import deployment as hosting
from skills import deployment_records as records
from skills.chat import DeploymentGone, keep_alive
from skills.deployment import Account, DeploymentInfo, ModelChoice
from skills.deployment_records import DeploymentRecord

log = logging.getLogger(__name__)


# -- deploy --------------------------------------------------------------------------------------


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
        raise UserError(f"`deploy` takes a model, a name and a sku; `{words[3]}` is one too many.")
    name = options.get("name") or (words[1] if len(words) > 1 else str(data.get("name") or ""))
    sku = options.get("sku") or (words[2] if len(words) > 2 else str(data.get("sku") or ""))
    raw_capacity = options.get("capacity") or str(data.get("capacity") or "1")
    if not raw_capacity.isdigit() or not 1 <= int(raw_capacity) <= 1000:
        raise UserError(f"`capacity` must be a whole number from 1 to 1000, not `{raw_capacity}`.")
    return DeployArgs(
        ref=ref,
        job=str(data.get("job") or ""),
        name=hosting.check_name(name) if name else "",
        sku=hosting.sku_word(sku or "standard"),
        capacity=int(raw_capacity),
    )


def request_key(request: str) -> str:
    """Storage key of a deployment waiting for its confirmation."""
    return f"deploy-request/{request}"


def _plan(item: Mapping[str, Any], prices: dict[str, float]) -> cards.DeploymentPlan:
    return cards.DeploymentPlan(
        name=str(item["name"]),
        model=str(item["model"]),
        sku=str(item["sku"]),
        capacity=int(item["capacity"]),
        cost=hosting.cost_lines(str(item["sku"]), prices, bool(item["fine_tuned"])),
        request=str(item.get("request", "")),
    )


async def deploy(turn: Turn, args: DeployArgs) -> None:
    """Resolve the model, check the name, and ask for confirmation with the cost."""
    azure = clients(turn.services)
    choice = await hosting.resolve_model(azure.openai, args.ref, args.job)
    name = args.name or hosting.default_name(choice)
    account = account_of(azure)
    existing = await hosting.get_deployment(
        azure.cognitive, account, name, clock_of(turn.services).observe
    )
    if existing is not None:
        _refuse_existing(existing, choice)
    request = uuid.uuid4().hex
    item: JsonObject = {
        "request": request,
        "ref": args.ref,
        "model": choice.model,
        "version": choice.version,
        "fine_tuned": choice.fine_tuned,
        "job": choice.job,
        "name": name,
        "sku": args.sku,
        "capacity": args.capacity,
        "conversation_id": turn.conversation_id,
        "user_id": turn.user_id,
        "state": "pending",
        "card_id": "",
    }
    prices = turn.services.settings.hosting_prices
    await turn.services.storage.write({request_key(request): item})
    card_id = await turn.send_card(cards.confirm_card(_plan(item, prices)), f"Deploy {name}?")

    def remember(stored: JsonObject) -> None:
        stored["card_id"] = card_id

    await update(turn.services.storage, request_key(request), remember)


def _refuse_existing(existing: DeploymentInfo, choice: ModelChoice) -> None:
    if existing.state.lower() == "deleting":
        raise UserError(
            f"`{existing.name}` is being deleted; deploy again once `deployments` no longer "
            "lists it, or pick another name with `name=...`."
        )
    if existing.model == choice.model:
        state = "ready" if existing.ready else existing.state.lower()
        raise UserError(
            f"`{existing.name}` already serves this model ({state}); talk to it with "
            f"`chat {existing.name}`, or pick another name with `name=...`."
        )
    raise UserError(
        f"The name `{existing.name}` is taken by a deployment of `{existing.model}`; choose "
        "another with `name=...`."
    )


@dataclass(frozen=True)
class RequestArgs:
    """A card button that refers to a stored request."""

    request: str


def parse_request(text_: str, data: Mapping[str, Any]) -> RequestArgs:
    """The `request` id a confirmation card carries."""
    request = str(data.get("request") or text_).strip()
    if not request:
        raise UserError("That button is missing its request; run the command again.")
    return RequestArgs(request)


async def _claim(turn: Turn, key: str, new_state: str) -> JsonObject:
    """Move a pending request to `new_state` once; a second press is refused."""
    before: list[str] = []

    def change(item: JsonObject) -> None:
        before.append(str(item.get("state", "")))
        if item.get("state") == "pending":
            item["state"] = new_state

    if not (await turn.services.storage.read([key])).get(key):
        raise UserError("That confirmation has expired; run the command again.")
    item = await update(turn.services.storage, key, change)
    if before[-1] != "pending":
        raise UserError(f"That was already answered ({before[-1]}).")
    return item


async def deploy_confirm(turn: Turn, args: RequestArgs) -> None:
    """Create the deployment, then follow it on the same card."""
    item = await _claim(turn, request_key(args.request), "confirmed")
    services = turn.services
    azure, clock = clients(services), clock_of(services)
    account = account_of(azure)
    choice = ModelChoice(
        str(item["model"]), str(item["version"]), bool(item["fine_tuned"]), str(item["job"])
    )
    plan = _plan(item, services.settings.hosting_prices)
    card_id = _pressed_card(turn, item)
    try:
        existing = await hosting.get_deployment(azure.cognitive, account, plan.name, clock.observe)
        if existing is not None:
            _refuse_existing(existing, choice)
        started = clock.now()
        info = await hosting.start_deployment(
            azure.cognitive, account, plan.name, choice, plan.sku, plan.capacity
        )
    except UserError as error:
        failed = cards.failed_card(plan, error.message, str(item["ref"]))
        await _show(turn, card_id, failed, f"Deployment of {plan.name} failed")
        return
    record = DeploymentRecord(
        name=plan.name,
        model=choice.model,
        version=choice.version,
        sku=plan.sku,
        capacity=plan.capacity,
        fine_tuned=choice.fine_tuned,
        state=records.CREATING,
        conversation_id=turn.conversation_id,
        user_id=turn.user_id,
        job=choice.job,
        started_at=started,
        created_at=info.created_at or started,
        last_used=info.created_at or started,
    )
    progress = cards.progress_card(plan, info.state, hosting.span(0))
    record.card_id = await _show(turn, card_id, progress, f"Deploying {plan.name}")
    record.ref = str(item["ref"])
    await records.save_record(services.storage, account, record)
    follow_deployment(services, plan.name)


def _pressed_card(turn: Turn, item: JsonObject) -> str:
    """The card whose button was pressed: the activity's replyToId, else the id stored when the
    card was sent (a fast press can come before that id is stored)."""
    return str(turn.activity.reply_to_id or item.get("card_id") or "")


async def _show(turn: Turn, card_id: str, content: Card, summary: str) -> str:
    """Replace the card `card_id` (or send a new one when there is none); returns its id."""
    if card_id:
        await turn.update_card(card_id, content, summary)
        return card_id
    return await turn.send_card(content, summary)


async def deploy_cancel(turn: Turn, args: RequestArgs) -> None:
    """Drop a deployment that was not confirmed."""
    item = await _claim(turn, request_key(args.request), "cancelled")
    plan = _plan(item, turn.services.settings.hosting_prices)
    await _show(turn, _pressed_card(turn, item), cards.cancelled_card(plan), "Deployment cancelled")


# -- deployments ------------------------------------------------------------------------------


async def list_command(turn: Turn, _: None) -> None:
    """The account's deployments with last use and the days left before idle deletion."""
    services = turn.services
    azure, clock = clients(services), clock_of(services)
    account = account_of(azure)
    found = await hosting.list_deployments(azure.cognitive, account, clock.observe)
    known = {r.name.lower(): r for r in await records.all_records(services.storage, account)}
    now = clock.now()
    rows: list[cards.DeploymentRow] = []
    for info in found:
        record = known.get(info.name.lower())
        rows.append(_row(info, record, now))
    gone = await _note_vanished(services, account, found, known.values(), now)
    note = "Idle days count completions the bot made; calls from elsewhere are not seen."
    if gone:
        note = " ".join(gone) + " " + note
    content = cards.deployments_card(rows, f"{azure.account}", note)
    await turn.send_card(content, f"{len(rows)} deployment(s)")


def idle_since(info: DeploymentInfo | None, record: DeploymentRecord | None) -> float | None:
    """When the current idle period started: the last completion seen, or the creation."""
    stamps = [info.created_at] if info is not None and info.created_at else []
    if record is not None and (info is None or record.model == info.model):
        stamps += [record.last_used, record.created_at]
    return max(stamps) if any(stamps) else None


def _row(info: DeploymentInfo, record: DeploymentRecord | None, now: float) -> cards.DeploymentRow:
    since = idle_since(info, record)
    used = record.last_used if record is not None and record.model == info.model else 0.0
    if used and (record is None or used > record.created_at):
        last_use = f"{hosting.span(now - used)} ago"
    elif info.created_at:
        last_use = f"none seen (deployed {hosting.span(now - info.created_at)} ago)"
    else:
        last_use = "none seen"
    days_left = ""
    if info.fine_tuned and info.ready and since is not None:
        idle = hosting.idle_seconds(since, now) / hosting.DAY
        left = hosting.days_left(since, now)
        days_left = f"idle {idle:.1f} days, {left:.1f} days left of 15"
    sku = f"{cards.SKU_TITLES.get(info.sku.lower(), info.sku)} x{info.capacity}"
    return cards.DeploymentRow(
        name=info.name,
        model=info.model,
        sku=sku,
        state=info.state,
        last_use=last_use,
        days_left=days_left,
        deployed_by_bot=bool(record and record.conversation_id),
    )


async def _note_vanished(
    services: Services,
    account: Account,
    found: list[DeploymentInfo],
    known: Iterable[DeploymentRecord],
    now: float,
) -> list[str]:
    """Mark records whose deployment is gone; sentences for those deleted for inactivity."""
    present = {info.name.lower() for info in found}
    served = {info.model for info in found}
    notes: list[str] = []
    for record in known:
        if record.name.lower() in present or record.state != records.SUCCEEDED:
            if (
                record.state == records.DELETED
                and record.reason == "inactivity"
                and record.model not in served
            ):
                notes.append(_inactivity_sentence(record))
            continue
        reason = "inactivity" if _idle_expired(record, now) else "deleted outside the bot"
        await records.change_record(
            services.storage, account, record.name, state=records.DELETED, reason=reason
        )
        if reason == "inactivity":
            notes.append(_inactivity_sentence(record))
    return notes


def _idle_expired(record: DeploymentRecord, now: float) -> bool:
    since = max(record.last_used, record.created_at)
    return record.fine_tuned and bool(since) and now - since >= hosting.IDLE_LIMIT - hosting.HOUR


def _inactivity_sentence(record: DeploymentRecord) -> str:
    return (
        f"`{record.name}` was deleted by Azure after 15 days without completions (its model "
        f"`{record.model}` is kept; `deploy {record.model}` brings it back)."
    )


# -- delete ------------------------------------------------------------------------------------


def parse_deployment_name(text_: str, data: Mapping[str, Any]) -> str:
    """One deployment name, from the text or a card's `deployment`."""
    value = text_.strip() or str(data.get("deployment") or "")
    if not value:
        raise UserError("Which deployment? `deployments` lists them.")
    if len(value.split()) > 1:
        raise UserError(f"Give one deployment name, not `{value}`.")
    return hosting.check_name(value)


def delete_key(request: str) -> str:
    """Storage key of a deletion waiting for its confirmation."""
    return f"delete-request/{request}"


async def delete(turn: Turn, name: str) -> None:
    """Ask for confirmation before deleting a deployment."""
    azure = clients(turn.services)
    info = await hosting.get_deployment(
        azure.cognitive, account_of(azure), name, clock_of(turn.services).observe
    )
    if info is None:
        raise UserError(f"There is no deployment `{name}`; `deployments` lists them.")
    request = uuid.uuid4().hex
    item: JsonObject = {
        "request": request,
        "name": info.name,
        "model": info.model,
        "state": "pending",
        "card_id": "",
    }
    await turn.services.storage.write({delete_key(request): item})
    card_id = await turn.send_card(
        cards.delete_confirm_card(info.name, info.model, request), f"Delete {info.name}?"
    )

    def remember(stored: JsonObject) -> None:
        stored["card_id"] = card_id

    await update(turn.services.storage, delete_key(request), remember)


async def delete_confirm(turn: Turn, args: RequestArgs) -> None:
    """Delete, and say on the same card when it is gone."""
    item = await _claim(turn, delete_key(args.request), "confirmed")
    services = turn.services
    azure = clients(services)
    account = account_of(azure)
    name, card_id = str(item["name"]), _pressed_card(turn, item)
    await hosting.begin_delete(azure.cognitive, account, name)
    shown = await _show(
        turn, card_id, cards.deleting_card(name, "Deleting {name}..."), f"Deleting {name}"
    )
    existing = await records.read_record(services.storage, account, name)
    if existing is None:
        record = DeploymentRecord(name=name, model=str(item["model"]), state=records.DELETING)
        await records.save_record(services.storage, account, record)
    await records.change_record(
        services.storage,
        account,
        name,
        state=records.DELETING,
        delete_conversation=turn.conversation_id,
        delete_card=shown,
    )
    follow_deployment(services, name)


async def delete_cancel(turn: Turn, args: RequestArgs) -> None:
    """Keep the deployment after all."""
    item = await _claim(turn, delete_key(args.request), "cancelled")
    name = str(item["name"])
    await _show(
        turn,
        _pressed_card(turn, item),
        cards.deleting_card(name, "Kept {name}: nothing was deleted"),
        f"Kept {name}",
    )


# -- keep alive, and explaining a missing deployment --------------------------------------------


async def keep_alive_command(turn: Turn, name: str) -> None:
    """One minimal completion: the inactivity clock starts again."""
    services = turn.services
    azure, clock = clients(services), clock_of(services)
    account = account_of(azure)
    try:
        answer = await keep_alive(azure.openai, name)
    except DeploymentGone:
        await explain_gone(turn, name)
        return
    clock.observe(answer.created)
    record = await records.record_use(services.storage, account, name, "", answer.created)
    who = str(getattr(turn.activity.from_property, "name", "") or turn.user_id)
    # The pressed card (Teams sends its id as replyToId), else the warning the record names.
    warning = str(turn.activity.reply_to_id or "") if turn.data() else ""
    if not warning and record.warning_conversation == turn.conversation_id:
        warning = record.warning_card
    if warning:
        await turn.update_card(
            warning,
            cards.kept_alive_card(name, record.model, who),
            f"{name} kept alive",
        )
    await turn.send_text(
        f"`{name}` is kept alive: one completion was made, so the 15-day inactivity clock "
        "starts again now."
    )


async def explain_gone(turn: Turn, name: str) -> None:
    """A deployment the data plane does not know: deleted for inactivity, not ready, or absent."""
    services = turn.services
    azure, clock = clients(services), clock_of(services)
    account = account_of(azure)
    info = await hosting.get_deployment(azure.cognitive, account, name, clock.observe)
    if info is not None and not info.ready:
        raise UserError(
            f"`{name}` is not ready yet (Azure says {info.state}); fine-tuned deployments take "
            "15-20 minutes. Try again when its card says it is deployed."
        )
    record = await records.read_record(services.storage, account, name)
    if info is None and record is not None and record.fine_tuned and record.model:
        now = clock.now()
        if record.reason == "inactivity" or (
            record.state == records.SUCCEEDED and _idle_expired(record, now)
        ):
            await records.change_record(
                services.storage, account, name, state=records.DELETED, reason="inactivity"
            )
            content = cards.deleted_for_inactivity_card(name, record.model)
            await turn.send_card(content, f"{name} was deleted for inactivity")
            return
    raise DeploymentGone(name)
