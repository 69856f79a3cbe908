"""Cards of hosting: confirm a deployment with its cost, follow it, list, delete, idle warnings."""

from __future__ import annotations

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    card,
    facts,
    heading,
    name_value,
    quoted,
    sentence,
    submit,
    text,
)
from infra.i18n import N_, _, duration, n_, number, price
from skills.deployment.views import (
    DeletedForInactivity,
    DeploymentDeleted,
    DeploymentFailed,
    DeploymentList,
    DeploymentPlan,
    DeploymentProgress,
    DeploymentRow,
    DeploymentSucceeded,
    IdleWarning,
    state_label,
)
from skills.models import sku_label


def _title(value: str, color: str) -> Element:
    """A heading in a color (Good, Warning, Attention)."""
    return text(value, weight="Bolder", size="Medium", color=color)


def cost_lines(plan: DeploymentPlan) -> list[str]:
    """What hosting costs, in words: the hourly fee (an estimate), or the developer tier's terms.

    The hosting fee is per deployment per hour (capacity buys throughput, not hosting); a base
    model's deployment has no hosting fee, only per-token billing.
    """
    if not plan.fine_tuned:
        return [_("No hosting fee: a base model's deployment is billed per token only.")]
    if plan.sku == "developer":
        return [
            _(
                "Developer deployment: no hourly hosting fee (you pay per token), and Azure "
                "deletes the deployment 24 hours after it is created."
            )
        ]
    hourly = plan.hourly_price
    if hourly is None:
        return [
            _(
                "{sku} hosting is billed per hour; no price is configured for it.",
                sku=sku_label(plan.sku),
            )
        ]
    return [
        _(
            "Estimated hosting fee: {hourly} per hour (about {daily} a day), billed whether the "
            "model is used or not. This is an estimate from the configured list price; check "
            "your Azure pricing.",
            hourly=price(hourly),
            daily=price(hourly * 24),
        ),
        _(
            "Azure deletes a fine-tuned deployment after 15 days with no completion calls; I will "
            "warn you 48 hours before."
        ),
    ]


def _plan_facts(plan: DeploymentPlan) -> Element:
    return facts(
        [
            (_("Deployment"), name_value(plan.name)),
            (_("Model"), plan.model),
            (
                _("SKU"),
                _(
                    "{sku}, capacity {capacity}",
                    sku=sku_label(plan.sku),
                    capacity=number(plan.capacity),
                ),
            ),
        ]
    )


def confirm_card(plan: DeploymentPlan) -> Card:
    """Ask before hosting costs anything: what, where, and the estimated fee."""
    return card(
        [
            heading(_("Deploy {name}?", name=plan.name)),
            _plan_facts(plan),
            *[text(line, isSubtle=True) for line in cost_lines(plan)],
            text(
                n_(
                    "This question can be answered for {count} hour.",
                    "This question can be answered for {count} hours.",
                    plan.expires_hours,
                ),
                isSubtle=True,
            ),
        ],
        [
            submit(_("Deploy"), verbs.DEPLOY_CONFIRM, {"request": plan.token}),
            submit(_("Cancel"), verbs.DEPLOY_CANCEL, {"request": plan.token}),
        ],
    )


def cancelled_card(plan: DeploymentPlan) -> Card:
    """The confirmation card after "Cancel"."""
    return card([heading(_("Deployment of {name} cancelled", name=plan.name)), _plan_facts(plan)])


def progress_card(view: DeploymentProgress) -> Card:
    """The card that follows a deployment while Azure creates it."""
    plan, state, elapsed = view.plan, state_label(view.state), duration(view.elapsed)
    return card(
        [
            heading(_("Deploying {name}", name=plan.name)),
            _plan_facts(plan),
            facts([(_("State"), state), (_("Elapsed"), elapsed)]),
            text(
                _(
                    "Azure usually needs 15-20 minutes for a fine-tuned model. This card updates "
                    "itself; you can keep working meanwhile."
                ),
                isSubtle=True,
            ),
            *[text(line, isSubtle=True) for line in cost_lines(plan)],
        ]
    )


def succeeded_card(view: DeploymentSucceeded) -> Card:
    """The deployment is ready: offer to chat with it."""
    plan, elapsed = view.plan, duration(view.elapsed)
    return card(
        [
            _title(_("{name} is deployed", name=plan.name), "Good"),
            _plan_facts(plan),
            facts([(_("State"), state_label("succeeded")), (_("Took"), elapsed)]),
            text(
                _(
                    "Talk to it here with `chat {name}`. Remove it with `delete {name}` when you "
                    "are done: hosting is billed while it exists.",
                    name=plan.name,
                ),
                isSubtle=True,
            ),
            *[text(line, isSubtle=True) for line in cost_lines(plan)],
        ],
        [
            submit(_("Chat with it"), verbs.CHAT, {"deployment": plan.name}),
            *(
                [submit(_("Evaluate"), verbs.EVALUATE, {"deployment": plan.name})]
                if plan.fine_tuned
                else []
            ),
            submit(_("Delete"), verbs.DELETE, {"deployment": plan.name}),
        ],
    )


def failed_card(view: DeploymentFailed) -> Card:
    """The deployment failed: Azure's reason in plain words, and a way to try again."""
    plan, reason, model_ref = view.plan, view.reason, view.retry
    return card(
        [
            _title(_("Deployment of {name} failed", name=plan.name), "Attention"),
            _plan_facts(plan),
            text(reason),
        ],
        [
            submit(
                _("Try again"),
                verbs.DEPLOY,
                {"model": model_ref, "name": plan.name, "sku": plan.sku},
            )
        ],
    )


def _last_use(row: DeploymentRow) -> str:
    if row.last_used_ago is not None:
        return _("{time} ago", time=duration(row.last_used_ago))
    if row.deployed_ago is not None:
        return _("none seen (deployed {time} ago)", time=duration(row.deployed_ago))
    return _("none seen")


def deployments_card(listing: DeploymentList) -> Card:
    """The account's deployments, with last use and days before the 15-day deletion."""
    body: list[Element] = [heading(_("Deployments on {account}", account=listing.account))]
    if not listing.rows:
        body.append(
            text(_("There are no deployments. Deploy a model with `deploy <job or model>`."))
        )
    for row in listing.rows:
        sku = f"{sku_label(row.sku)} x{number(row.capacity)}"
        pairs = [
            (_("Model"), row.model),
            (_("SKU"), sku),
            (_("State"), state_label(row.state)),
        ]
        pairs.append((_("Last use"), _last_use(row)))
        if row.idle_days is not None and row.days_left is not None:
            idle = _(
                "idle {idle} days, {left} days left of 15",
                idle=number(row.idle_days, 1),
                left=number(row.days_left, 1),
            )
            pairs.append((_("Idle deletion"), idle))
        if row.fee_this_month is not None and row.hourly_price is not None:
            fee = _(
                "{fee} so far this month ({hourly} an hour, used or not; estimate)",
                fee=price(row.fee_this_month),
                hourly=price(row.hourly_price),
            )
            pairs.append((_("Hosting fee"), fee))
        items: list[Element] = [quoted(row.name, weight="Bolder"), facts(pairs)]
        if row.state.lower() != "deleting":
            actions = [
                submit(_("Chat"), verbs.CHAT, {"deployment": row.name}),
                submit(_("Delete"), verbs.DELETE, {"deployment": row.name}),
            ]
            if row.idle_days is not None:  # the 15-day rule applies: one call restarts it
                actions.append(submit(_("Keep"), verbs.KEEP_ALIVE, {"deployment": row.name}))
            items.append({"type": "ActionSet", "actions": actions})
        body.append({"type": "Container", "separator": True, "items": items})
    note = _("Idle days count completions the bot made; calls from elsewhere are not seen.")
    gone = [_inactivity_sentence(g) for g in listing.deleted_for_inactivity]
    body.append(text(" ".join([*gone, note]), isSubtle=True))
    return card(body)


def _inactivity_sentence(gone: DeletedForInactivity) -> str:
    return _(
        "`{name}` was deleted by Azure after 15 days without completions (its model `{model}` is "
        "kept; `deploy {model}` brings it back).",
        name=gone.name,
        model=gone.model,
    )


def delete_confirm_card(name: str, model: str, request: str, expires_hours: int) -> Card:
    """Ask before deleting a deployment."""
    return card(
        [
            heading(_("Delete {name}?", name=name)),
            facts([(_("Deployment"), name_value(name)), (_("Model"), model)]),
            text(
                _(
                    "The deployment stops answering and its hosting fee stops. A fine-tuned model "
                    "itself is kept and can be deployed again."
                )
                + " "
                + n_(
                    "This question can be answered for {count} hour.",
                    "This question can be answered for {count} hours.",
                    expires_hours,
                ),
                isSubtle=True,
            ),
        ],
        [
            submit(_("Delete"), verbs.DELETE_CONFIRM, {"request": request}),
            submit(_("Keep it"), verbs.DELETE_KEEP, {"request": request}),
        ],
    )


def deleting_card(state: str) -> Card:
    """Deletion under way, finished, or dropped: `state` is the sentence (deleting_sentence,
    kept_sentence, deleted_sentence)."""
    return card([heading(state)])


def deleted_card(view: DeploymentDeleted) -> Card:
    """The delete card once the deployment is gone."""
    return deleting_card(deleted_sentence(view))


def deleting_sentence(name: str) -> str:
    """The delete card's heading while Azure deletes the deployment."""
    return _("Deleting {name}...", name=name)


def kept_sentence(name: str) -> str:
    """The delete card's heading after "Keep it"."""
    return _("Kept {name}: nothing was deleted", name=name)


def deleted_sentence(view: DeploymentDeleted) -> str:
    """The delete card's heading once the deployment is gone (and who deleted it)."""
    if view.by:
        return _("{name} is deleted (by {who})", name=view.name, who=view.by)
    if view.elsewhere:
        return _("{name} is deleted (deleted elsewhere)", name=view.name)
    return _("{name} is deleted", name=view.name)


def idle_warning_card(view: IdleWarning) -> Card:
    """48 hours before Azure deletes an idle fine-tuned deployment."""
    name, model, idle, left = view.name, view.model, duration(view.idle), duration(view.left)
    return card(
        [
            _title(_("{name} will be deleted for inactivity", name=name), "Warning"),
            facts(
                [
                    (_("Model"), model),
                    (_("No completion for"), idle),
                    (_("Deleted in"), left),
                ]
            ),
            text(
                _(
                    "Azure deletes a fine-tuned deployment after 15 days without completion calls "
                    "(the model stays and can be deployed again). Keep it alive with one tiny "
                    "completion, or delete it now and stop its hosting fee."
                ),
                isSubtle=True,
            ),
        ],
        [
            submit(_("Keep alive"), verbs.KEEP_ALIVE, {"deployment": name}),
            submit(_("Delete now"), verbs.DELETE, {"deployment": name}),
        ],
    )


def kept_alive_card(name: str, model: str, who: str) -> Card:
    """The warning card after "Keep alive"."""
    return card(
        [
            _title(_("{name} kept alive", name=name), "Good"),
            facts([(_("Model"), model)]),
            sentence(N_("Kept alive by {name}"), {"name": who}),
            text(
                _("One completion was made: the 15-day inactivity clock starts again now."),
                isSubtle=True,
            ),
        ]
    )


def deleted_for_inactivity_card(view: DeletedForInactivity) -> Card:
    """Azure removed an idle fine-tuned deployment: the model is kept, offer to deploy it again."""
    name, model = view.name, view.model
    return card(
        [
            _title(_("{name} was deleted for inactivity", name=name), "Attention"),
            text(
                _(
                    "Azure deleted `{name}` after 15 days without completions. Its model "
                    "`{model}` is kept and can be deployed again.",
                    name=name,
                    model=model,
                )
            ),
        ],
        [submit(_("Redeploy"), verbs.DEPLOY, {"model": model, "name": name})],
    )
