"""Hosting from chat: `deploy` (the cost stated and confirmed first), `deployments`, `delete`,
keep-alive, and what to say when a deployment is not there.

A deployment is confirmed on a card that states its cost; the same card then follows it
(skills/deployment/follow.py) until Azure says it succeeded or failed. Every deployment the bot
creates is recorded with the conversation that asked for it, for the inactivity warnings
(skills/deployment/idle.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from azure.core.exceptions import AzureError

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import N_, later
from infra.ownership import every_retry
from infra.text import echo, label
from skills.audit import Actor, AuditEntry
from skills.chat import Answer, DeploymentGone, keep_alive
from skills.context import Context
from skills.deployment import arm
from skills.deployment.arm import DeploymentInfo
from skills.deployment.follow import Follower, deleted_view, refuse_existing
from skills.deployment.idle import DAY, IdleWatcher, days_left, idle_expired
from skills.deployment.records import (
    DeleteCard,
    DeleteRequest,
    DeploymentRecord,
    DeployRequest,
    idle_warning_claim,
)
from skills.deployment.views import (
    DeletedForInactivity,
    DeploymentDeleted,
    DeploymentDeleting,
    DeploymentList,
    DeploymentPlan,
    DeploymentProgress,
    DeploymentRow,
    plan_of,
    state_label,
)
from skills.models import default_name, is_fine_tuned
from skills.notify import try_show
from skills.records import Claim

log = logging.getLogger(__name__)


class Hosting:
    """Deployments of the resource, their records and their background work."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.follower = Follower(ctx)
        self.idle = IdleWatcher(ctx)

    async def start(self) -> None:
        """Follow again the deployments left in progress (and, with several instances, those a
        dead instance left), and start the idle watcher."""
        await self._adopt()
        self.ctx.tasks.spawn(self.idle.run(), "idle watcher")
        self.ctx.tasks.spawn(
            every_retry(self.ctx.owners, self._adopt, "deployments"), "follow adopter"
        )

    async def _adopt(self) -> None:
        """Deployments nobody follows: those a dead instance left, and those never recorded."""
        await self.recover()
        await self.follower.resume()

    async def get(self, resource: Resource, name: str) -> DeploymentInfo | None:
        """One deployment as Azure reports it now."""
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        return await arm.get_deployment(cognitive, resource, name, self.ctx.clock.observe)

    async def all_deployments(self, resource: Resource) -> list[DeploymentInfo]:
        """Every deployment of the resource, by name."""
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        return await arm.list_deployments(cognitive, resource, self.ctx.clock.observe)

    async def _change(
        self, resource: Resource, name: str, model: str, **changes: object
    ) -> DeploymentRecord:
        """Set fields of a deployment's record (a bare one is made when there is none)."""

        def apply(found: DeploymentRecord | None) -> DeploymentRecord:
            base = found or DeploymentRecord(resource=resource, name=name, model=model)
            return base.model_copy(update=changes)

        changed = await self.ctx.records.update(DeploymentRecord.at(resource, name), apply)
        assert changed is not None
        return changed

    # -- deploy ------------------------------------------------------------------------------

    async def ask_deploy(
        self,
        resource: Resource,
        conversation: str,
        user: str,
        *,
        ref: str,
        job: str,
        name: str,
        sku: str,
        capacity: int,
    ) -> DeployRequest:
        """Resolve the model, check the name, and store the question with its cost."""
        choice = await arm.resolve_model(self.ctx.azure.openai(resource), ref, job)
        name = name or default_name(choice)
        found = await self.all_deployments(resource)
        existing = next((d for d in found if d.name.lower() == name.lower()), None)
        if existing is not None:
            refuse_existing(existing, choice.model)
        if choice.fine_tuned and arm.hosting_full(found, name):
            raise UserError(
                "This resource already hosts {count} fine-tuned deployments, the most Azure "
                "allows: delete one first (`deployments` lists them, `delete <deployment>`); "
                "nothing was deployed.",
                count=arm.FINE_TUNED_DEPLOYMENTS,
            )
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        await arm.offered_sku(cognitive, resource, choice, sku)  # the tier is offered here
        return await self.ctx.confirmations.ask(
            DeployRequest,
            conversation,
            user,
            resource=resource,
            ref=ref,
            model=choice.model,
            version=choice.version,
            fine_tuned=choice.fine_tuned,
            job=choice.job,
            name=name,
            sku=sku,
            capacity=capacity,
        )

    def plan(self, request: DeployRequest | DeploymentRecord) -> DeploymentPlan:
        """What a question or a record shows, with the configured price."""
        return plan_of(request, self.ctx.settings.hosting_prices)

    async def deploy(self, token: str, conversation: str, actor: Actor, card: str) -> None:
        """Answer "Deploy" once: the answer, the deployment's record (`requested`, before any
        request) and its audit entry are one write (skills/confirmations.py); the card pressed
        (`card`, else the one that asked) then shows the first progress, and the follower sends
        the PUT and follows it (skills/deployment/follow.py). A crash before, during or after
        the PUT loses nothing: the record is there, and the follower adopts what Azure made.
        While a deployment of that name is under way or there (another card's, since the
        question), the question is dropped with the sentence why."""
        question = await self.ctx.records.get(DeployRequest.at(token))
        if question is not None and question.state == "pending":
            await self._refuse_taken(question, conversation, actor)
        request = await self.ctx.confirmations.confirm(
            DeployRequest.at(token), conversation, N_("deploy"), actor, card, self._deployment_of
        )
        record, _entry = self._deployment_of(request)
        if record.card:  # a card never posted is posted by the follower, the work's owner
            await self.follower.show(record, DeploymentProgress(self.plan(record), "Accepted", 0))
        self.follower.follow(record.resource, record.name)

    async def _refuse_taken(self, question: DeployRequest, conversation: str, actor: Actor) -> None:
        """Drop the question (UserError) when its name went to a deployment after it was asked
        (another card's, under way or there): its record would be taken over by this one's."""
        resource, name = question.resource, question.name
        found = await self.ctx.records.get(DeploymentRecord.at(resource, name))
        if found is None or found.state in ("deleted", "failed"):
            return
        info = await self.get(resource, name)
        if info is None and found.state not in ("requested", "creating"):
            return  # gone since: deploying it again is what the question asks
        if info is None:  # recorded, its PUT not sent yet
            info = DeploymentInfo(name, found.model, found.version, found.sku, 0, "Creating")
        try:
            refuse_existing(info, question.model)
        except UserError:
            await self.cancel_deploy(question.token, conversation, actor.id)
            raise

    def _deployment_of(self, request: DeployRequest) -> tuple[DeploymentRecord, AuditEntry]:
        """The record of the deployment a confirmed question asks for, not yet requested from
        Azure, and its audit entry: made from the answered question alone."""
        entry = self.ctx.audit.entry(
            Actor(request.user, request.by_name),
            "deploy",
            f"{request.name} ({request.model}, {request.sku})",
            request.resource,
            at=request.answered_at,
            ref=request.token,
        )
        record = DeploymentRecord(
            resource=request.resource,
            name=request.name,
            model=request.model,
            version=request.version,
            sku=request.sku,
            capacity=request.capacity,
            fine_tuned=request.fine_tuned,
            state="requested",
            conversation=request.conversation,
            user=request.user,
            job=request.job,
            ref=request.ref,
            card=request.card,
            token=request.token,
            audit=entry.id,
            language=request.language,
        )
        return record, entry

    async def recover(self) -> None:
        """Record the deployments and deletions of confirmed questions that have none (a crash
        came between the answer and its records, on Blob Storage); `resume` follows them."""

        # a record of that name, this one's or a later deployment's: not to be made now
        await self.ctx.confirmations.record_missing(DeployRequest, self._deployment_of)

        async def deleting(request: DeleteRequest) -> bool:
            """Its deletion was recorded (its card waits on the record), or has ended: its audit
            entry says how (gone already, or refused by Azure, whose card was taken off)."""
            entry = await self.ctx.records.get(AuditEntry.at_id(self._deletion_entry(request).id))
            if entry is not None and entry.outcome != "started":
                return True
            found = await self.ctx.records.get(DeploymentRecord.at(request.resource, request.name))
            return found is not None and request.token in {c.token for c in found.delete_cards}

        for question in await self.ctx.confirmations.unrecorded(DeleteRequest, deleting):
            try:
                info = await self.get(question.resource, question.name)
            except (UserError, AzureError) as error:  # Azure cannot say now: the next look
                log.warning("recovering the deletion of %s: %s", question.name, error)
                continue
            made_at = question.deployed_at
            if info is not None and made_at and info.created_at != made_at:
                await self.ctx.records.delete(question.key())  # a later one of that name: keep it
                continue
            entry = self._deletion_entry(question)
            await self.ctx.records.create(entry)
            by, conversation, card = label(question.by_name), question.conversation, question.card
            gone = await self._follow_delete(question, conversation, card, by, entry.id)
            if gone is not None:
                await self.ctx.audit.end(entry.id, "done", later("It was gone already."))
                await try_show(self.ctx.notify, conversation, card, gone)
                continue
            self.follower.follow(question.resource, question.name)

    async def cancel_deploy(self, token: str, conversation: str, user: str) -> DeployRequest:
        """Drop a deployment that was not confirmed."""
        return await self.ctx.confirmations.answer(
            DeployRequest.at(token), "cancelled", conversation, N_("deploy"), user
        )

    # -- deployments -------------------------------------------------------------------------

    async def deployments(self, resource: Resource) -> DeploymentList:
        """The resource's deployments with last use and the days left before idle deletion."""
        found = await self.all_deployments(resource)
        known = {
            r.name.lower(): r
            for r in await self.ctx.records.all(DeploymentRecord, DeploymentRecord.under(resource))
        }
        now = self.ctx.clock.now()
        prices = self.ctx.settings.hosting_prices
        rows = [_row(info, known.get(info.name.lower()), now, prices) for info in found]
        gone = await self._note_vanished(found, list(known.values()), now)
        return DeploymentList(resource.account, rows, gone)

    async def _note_vanished(
        self, found: Sequence[DeploymentInfo], known: Sequence[DeploymentRecord], now: float
    ) -> list[DeletedForInactivity]:
        """Mark records whose deployment is gone; those deleted for inactivity, to say so."""
        present = {info.name.lower() for info in found}
        served = {info.model for info in found}
        notes: list[DeletedForInactivity] = []
        for record in known:
            if record.name.lower() in present or record.state != "succeeded":
                if (
                    record.state == "deleted"
                    and record.reason == "inactivity"
                    and record.model not in served
                ):
                    notes.append(DeletedForInactivity(record.name, record.model))
                continue
            reason = "inactivity" if idle_expired(record, now) else "deleted outside the bot"
            await self._change(
                record.resource, record.name, record.model, state="deleted", reason=reason
            )
            if reason == "inactivity":
                notes.append(DeletedForInactivity(record.name, record.model))
        return notes

    # -- delete ------------------------------------------------------------------------------

    async def ask_delete(
        self, resource: Resource, conversation: str, user: str, name: str
    ) -> DeleteRequest:
        """Store the question before deleting a deployment."""
        info = await self.get(resource, name)
        if info is None:
            raise UserError("There is no deployment `{name}`; `deployments` lists them.", name=name)
        return await self.ctx.confirmations.ask(
            DeleteRequest,
            conversation,
            user,
            resource=resource,
            name=info.name,
            model=info.model,
            deployed_at=info.created_at or 0.0,
        )

    async def delete(self, token: str, conversation: str, actor: Actor, card: str) -> None:
        """Answer "Delete" once and delete the deployment: the answer and its audit entry are
        one write; the record then says it is being deleted, with the card that waits (before
        the request: after a crash the follower asks Azure again), then Azure is asked. The card
        pressed (`card`, else the one that asked) says it is being deleted, then that it is gone;
        a refusal is said at once."""
        request = await self.ctx.confirmations.confirm(
            DeleteRequest.at(token),
            conversation,
            N_("delete"),
            actor,
            card,
            lambda question: [self._deletion_entry(question)],
        )
        entry = self._deletion_entry(request)
        notify, by = self.ctx.notify, label(actor.name)
        gone = await self._follow_delete(request, conversation, request.card, by, entry.id)
        if gone is not None:  # deleted meanwhile, by someone else
            await self.ctx.audit.end(entry.id, "done", later("It was gone already."))
            await try_show(notify, conversation, request.card, gone)
            return
        resource = request.resource
        try:
            await arm.begin_delete(
                self.ctx.azure.cognitive(resource.subscription_id), resource, request.name
            )
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            await self._undo_delete(request)
            raise
        await self.ctx.audit.end(entry.id, "done", later("Azure is deleting it."))
        card = await try_show(notify, conversation, request.card, DeploymentDeleting(request.name))
        if card != request.card:
            await self._waiting_card(request, card)
        self.follower.follow(resource, request.name)

    def _deletion_entry(self, request: DeleteRequest) -> AuditEntry:
        """The audit entry of a confirmed deletion, made from the answered question alone."""
        actor = Actor(request.user, request.by_name)
        return self.ctx.audit.entry(
            actor,
            "delete",
            request.name,
            request.resource,
            at=request.answered_at,
            ref=request.token,
        )

    async def _waiting_card(self, request: DeleteRequest, card: str) -> None:
        """Note the id of the card a deletion posted (it had none when it was recorded)."""

        def apply(found: DeploymentRecord | None) -> DeploymentRecord | None:
            if found is None:
                return None
            cards = [
                c.model_copy(update={"card": card}) if c.token == request.token else c
                for c in found.delete_cards
            ]
            return found.model_copy(update={"delete_cards": cards})

        await self.ctx.records.update(DeploymentRecord.at(request.resource, request.name), apply)

    async def _undo_delete(self, request: DeleteRequest) -> None:
        """Azure refused the deletion: the record says again what Azure shows, without the
        card that waited for it."""
        info = await self.get(request.resource, request.name)

        def apply(found: DeploymentRecord | None) -> DeploymentRecord | None:
            if found is None:
                return None
            cards = [c for c in found.delete_cards if c.token != request.token]
            state = found.state
            if not cards and info is not None and not info.deleting:
                state = "succeeded" if info.ready else "failed"
            return found.model_copy(update={"delete_cards": cards, "state": state})

        await self.ctx.records.update(DeploymentRecord.at(request.resource, request.name), apply)

    async def _follow_delete(
        self, request: DeleteRequest, conversation: str, card: str, by: str, audit: str
    ) -> DeploymentDeleted | None:
        """Record the deletion and its waiting card; the follower says when it is gone.

        Two people may delete the same deployment: every card waits on the record and each is
        told when it is gone (and by whom, when it was someone else). When the deletion has
        ended already, the view for `card` is returned at once."""
        waiting = DeleteCard(
            conversation=conversation, card=card, by=by, token=request.token, audit=audit
        )
        ended: list[DeploymentRecord] = []

        def apply(found: DeploymentRecord | None) -> DeploymentRecord | None:
            ended.clear()
            base = found or DeploymentRecord(
                resource=request.resource, name=request.name, model=request.model
            )
            if base.state == "deleted" and found is not None:
                ended.append(base)
                return None
            first = base.state != "deleting" or not base.deleted_by
            return base.model_copy(
                update={
                    "state": "deleting",
                    "delete_cards": [*base.delete_cards, waiting],
                    "deleted_by": by if first else base.deleted_by,
                }
            )

        await self.ctx.records.update(DeploymentRecord.at(request.resource, request.name), apply)
        if ended:
            if await self.get(request.resource, request.name) is None:
                return deleted_view(ended[0], waiting)
            # the record is of an earlier deployment of that name: this deletion starts anew
            await self._change(
                request.resource,
                request.name,
                request.model,
                state="deleting",
                delete_cards=[waiting],
                deleted_by=by,
            )
        return None

    async def keep(self, token: str, conversation: str, user: str) -> DeleteRequest:
        """Keep the deployment after all."""
        return await self.ctx.confirmations.answer(
            DeleteRequest.at(token), "cancelled", conversation, N_("delete"), user
        )

    # -- use ---------------------------------------------------------------------------------

    async def record_use(
        self, resource: Resource, name: str, model: str, at: float
    ) -> DeploymentRecord:
        """Remember a completion on a deployment at service time `at` (never moves back)."""
        self.ctx.clock.observe(at)

        def apply(found: DeploymentRecord | None) -> DeploymentRecord:
            base = found or DeploymentRecord(
                resource=resource,
                name=name,
                model=model,
                fine_tuned=is_fine_tuned(model),
                state="succeeded",
                created_at=at,
            )
            return base.model_copy(update={"last_used": max(base.last_used, at)})

        changed = await self.ctx.records.update(DeploymentRecord.at(resource, name), apply)
        assert changed is not None
        return changed

    async def keep_alive(
        self, resource: Resource, name: str, conversation: str, pressed: str
    ) -> tuple[Answer, DeploymentRecord]:
        """One minimal completion: the inactivity clock starts again (DeploymentGone if not).

        Only the deployment's inactivity warning asks for it: the press must come from the
        conversation the warning went to and name its card (`pressed`, the channel's replyToId;
        '' when it names none). A button's data can claim any card, so anything else changes
        nothing and calls nothing (UserError). A warning whose id the bot did not get to note
        (it stopped right after sending it) is known by its claim; the card the press names is
        then noted as the warning."""
        record = await self.ctx.records.get(DeploymentRecord.at(resource, name))
        warned = record is not None and conversation == record.conversation
        if record is not None and warned and not record.warning_card:
            claim = idle_warning_claim(resource, name, record.idle_since)
            warned = await self.ctx.records.get(Claim.at_path(claim)) is not None
        if record is None or not warned or pressed not in ("", record.warning_card or pressed):
            raise UserError(
                "That button is not on the inactivity warning of {name}, so I did nothing.",
                name=echo(name),
            )
        answer = await keep_alive(self.ctx.azure.openai(resource), name)
        used = await self.record_use(resource, name, "", answer.created)
        if not used.warning_card and pressed:
            used = await self._change(
                resource, name, used.model, warning_card=pressed, warning_conversation=conversation
            )
        return answer, used

    async def explain_gone(self, resource: Resource, name: str) -> DeletedForInactivity:
        """A deployment the data plane does not know: deleted for inactivity (the view to show),
        not ready yet, or absent (UserError)."""
        info = await self.get(resource, name)
        if info is not None and not info.ready:
            raise UserError(
                "`{name}` is not ready yet (Azure says {state}); fine-tuned deployments take "
                "15-20 minutes. Try again when its card says it is deployed.",
                name=name,
                state=state_label(info.state),
            )
        record = await self.ctx.records.get(DeploymentRecord.at(resource, name))
        if info is None and record is not None and record.fine_tuned and record.model:
            now = self.ctx.clock.now()
            if record.reason == "inactivity" or (
                record.state == "succeeded" and idle_expired(record, now)
            ):
                await self._change(
                    record.resource, name, record.model, state="deleted", reason="inactivity"
                )
                return DeletedForInactivity(name, record.model)
        raise DeploymentGone(name)

    async def ready(self, resource: Resource, name: str) -> DeploymentInfo:
        """A deployment that answers now (DeploymentGone otherwise)."""
        info = await self.get(resource, name)
        if info is None or not info.ready:
            raise DeploymentGone(name)
        return info

    async def ready_names(self, resource: Resource) -> list[str]:
        """The deployments that answer now."""
        return [d.name for d in await self.all_deployments(resource) if d.ready]


def _row(
    info: DeploymentInfo, record: DeploymentRecord | None, now: float, prices: dict[str, float]
) -> DeploymentRow:
    """One line of `deployments`: last use and the 15-day rule, in seconds and days; the hourly
    fee so far this month (from its creation or the month's first hour, on the service's
    clock)."""
    same = record is not None and record.model == info.model
    stamps = [info.created_at] if info.created_at else []
    if record is not None and same:
        stamps += [record.last_used, record.created_at]
    since = max(stamps) if any(stamps) else None
    used = record.last_used if record is not None and same else 0.0
    last_used_ago = now - used if used and (record is None or used > record.created_at) else None
    idle = left = None
    if info.fine_tuned and info.ready and since is not None:
        idle, left = max(0.0, now - since) / DAY, days_left(since, now)
    return DeploymentRow(
        name=info.name,
        model=info.model,
        sku=info.sku.lower(),
        capacity=info.capacity,
        state=info.state,
        last_used_ago=last_used_ago,
        deployed_ago=now - info.created_at if info.created_at else None,
        idle_days=idle,
        days_left=left,
        deployed_by_bot=bool(record and record.conversation),
        **_fee(info, now, prices),
    )


def _fee(info: DeploymentInfo, now: float, prices: dict[str, float]) -> dict[str, float]:
    """`fee_this_month` and `hourly_price` of a fine-tuned deployment that is up (none else)."""
    sku = info.sku.lower()
    hourly = prices.get("developer" if sku.startswith("developer") else sku)
    if not info.fine_tuned or not info.ready or hourly is None or not info.created_at:
        return {}
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    month = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    hours = max(0.0, now - max(info.created_at, month)) / 3600
    return {"fee_this_month": hours * hourly, "hourly_price": hourly}
