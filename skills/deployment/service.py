"""Hosting from chat: `deploy` (the cost stated and confirmed first), `deployments`, `delete`,
keep-alive, and what to say when a deployment is not there.

A deployment is confirmed on a card that states its cost; the same card then follows it
(skills/deployment/follow.py) until Azure says it succeeded or failed. Every deployment the bot
creates is recorded with the conversation that asked for it, for the inactivity warnings
(skills/deployment/idle.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import N_, _, later
from infra.ownership import every_retry
from infra.text import echo, label
from skills.audit import Actor
from skills.chat import Answer, DeploymentGone, keep_alive
from skills.context import Context
from skills.deployment import arm
from skills.deployment.arm import DeploymentInfo
from skills.deployment.follow import Follower, deleted_view
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
    DeploymentFailed,
    DeploymentList,
    DeploymentPlan,
    DeploymentProgress,
    DeploymentRow,
    plan_of,
    state_label,
    state_said,
)
from skills.models import ModelChoice, default_name, is_fine_tuned
from skills.notify import show, try_show
from skills.records import Claim


def refuse_existing(existing: DeploymentInfo, model: str) -> None:
    """The sentence for a name that is taken (or being deleted)."""
    if existing.deleting:
        raise UserError(
            "`{name}` is being deleted; deploy again once `deployments` no longer lists it, or "
            "pick another name with `name=...`.",
            name=existing.name,
        )
    if existing.model == model:
        state = _("ready") if existing.ready else state_label(existing.state).lower()
        raise UserError(
            "`{name}` already serves this model ({state}); talk to it with `chat {name}`, or "
            "pick another name with `name=...`.",
            name=existing.name,
            state=state,
        )
    raise UserError(
        "The name `{name}` is taken by a deployment of `{model}`; choose another with `name=...`.",
        name=existing.name,
        model=existing.model,
    )


class Hosting:
    """Deployments of the resource, their records and their background work."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.follower = Follower(ctx)
        self.idle = IdleWatcher(ctx)

    async def start(self) -> None:
        """Follow again the deployments left in progress (and, with several instances, those a
        dead instance left), and start the idle watcher."""
        await self.follower.resume()
        self.ctx.tasks.spawn(self.idle.run(), "idle watcher")
        self.ctx.tasks.spawn(
            every_retry(self.ctx.owners, self.follower.resume, "deployments"), "follow adopter"
        )

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
        """Answer "Deploy" once and create the deployment. The card pressed (`card`, else the
        one that asked) then says why Azure refused, or follows it: the deployment is recorded
        first, then shows its first progress, then is followed (skills/deployment/follow.py)."""
        request = await self.ctx.confirmations.answer(
            DeployRequest.at(token), "confirmed", conversation, N_("deploy"), actor.id
        )
        card = card or request.card
        resource, clock = request.resource, self.ctx.clock
        plan = self.plan(request)
        choice = ModelChoice(request.model, request.version, request.fine_tuned, request.job)
        entry = await self.ctx.audit.begin(
            actor, "deploy", f"{request.name} ({choice.model}, {request.sku})", resource
        )
        try:
            existing = await self.get(resource, request.name)
            if existing is not None:
                refuse_existing(existing, choice.model)
            started = clock.now()
            info = await arm.start_deployment(
                self.ctx.azure.cognitive(resource.subscription_id),
                resource,
                request.name,
                choice,
                request.sku,
                request.capacity,
            )
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            failed = DeploymentFailed(plan, error.message, request.ref)
            await show(self.ctx.notify, conversation, card, failed)
            return
        await self.ctx.audit.end(entry.id, "done", state_said(info.state))
        record = DeploymentRecord(
            resource=resource,
            name=request.name,
            model=choice.model,
            version=choice.version,
            sku=request.sku,
            capacity=request.capacity,
            fine_tuned=choice.fine_tuned,
            state="creating",
            conversation=conversation,
            user=request.user,
            job=choice.job,
            ref=request.ref,
            card=card,
            started_at=started,
            created_at=info.created_at or started,
            last_used=info.created_at or started,
        )
        await self.ctx.records.put(record)
        await self.follower.show(record, DeploymentProgress(plan, info.state, 0.0))
        self.follower.follow(resource, request.name)

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
        )

    async def delete(self, token: str, conversation: str, actor: Actor, card: str) -> None:
        """Answer "Delete" once and ask Azure to delete the deployment. The card pressed
        (`card`, else the one that asked) says it is being deleted, then that it is gone."""
        request = await self.ctx.confirmations.answer(
            DeleteRequest.at(token), "confirmed", conversation, N_("delete"), actor.id
        )
        resource = request.resource
        cognitive = self.ctx.azure.cognitive(resource.subscription_id)
        entry = await self.ctx.audit.begin(actor, "delete", request.name, resource)
        try:
            await arm.begin_delete(cognitive, resource, request.name)
        except UserError as error:
            await self.ctx.audit.end(entry.id, "failed", error.said)
            raise
        await self.ctx.audit.end(entry.id, "done", later("Azure is deleting it."))
        notify, deleting = self.ctx.notify, DeploymentDeleting(request.name)
        # shown before the card waits on the record, so the end is never overwritten by this
        card = await try_show(notify, conversation, card or request.card, deleting)
        gone = await self._follow_delete(request, conversation, card, label(actor.name))
        if gone is not None:  # deleted meanwhile, by someone else
            await try_show(notify, conversation, card, gone)

    async def _follow_delete(
        self, request: DeleteRequest, conversation: str, card: str, by: str
    ) -> DeploymentDeleted | None:
        """Follow a deletion until it is gone; `card` (in `conversation`) then says so.

        Two people may delete the same deployment: every card waits on the record and each is
        told when it is gone (and by whom, when it was someone else). When the deletion has
        ended already, the view for `card` is returned at once."""
        waiting = DeleteCard(conversation=conversation, card=card, by=by)
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
        self.follower.follow(request.resource, request.name)
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
