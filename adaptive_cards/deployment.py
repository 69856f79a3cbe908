"""Cards of hosting: confirm a deployment with its cost, follow it, list, delete, idle warnings."""

from __future__ import annotations

from adaptive_cards import verbs
from adaptive_cards.common import Card, Element, card, facts, heading, submit, text
from infra.i18n import duration
from skills.deployment.views import (
    DeletedForInactivity,
    DeploymentFailed,
    DeploymentList,
    DeploymentPlan,
    DeploymentProgress,
    DeploymentRow,
    DeploymentSucceeded,
    IdleWarning,
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
        return ["No hosting fee: a base model's deployment is billed per token only."]
    if plan.sku == "developer":
        return [
            "Developer tier: no hourly hosting fee (you pay per token), and Azure deletes the "
            "deployment 24 hours after it is created."
        ]
    hourly = plan.hourly_price
    if hourly is None:
        label = sku_label(plan.sku)
        return [f"{label} hosting is billed per hour; no price is configured for it."]
    return [
        f"Estimated hosting fee: ${hourly:,.2f} per hour (about ${hourly * 24:,.2f} a day), "
        "billed whether the model is used or not. This is an estimate from the configured list "
        "price; check your Azure pricing.",
        "Azure deletes a fine-tuned deployment after 15 days with no completion calls; I will "
        "warn you 48 hours before.",
    ]


def _plan_facts(plan: DeploymentPlan) -> Element:
    return facts(
        [
            ("Deployment", plan.name),
            ("Model", plan.model),
            ("SKU", f"{sku_label(plan.sku)}, capacity {plan.capacity}"),
        ]
    )


def confirm_card(plan: DeploymentPlan) -> Card:
    """Ask before hosting costs anything: what, where, and the estimated fee."""
    return card(
        [
            heading(f"Deploy {plan.name}?"),
            _plan_facts(plan),
            *[text(line, isSubtle=True) for line in cost_lines(plan)],
            text(f"This question can be answered for {plan.expires_hours} hours.", isSubtle=True),
        ],
        [
            submit("Deploy", verbs.DEPLOY_CONFIRM, {"request": plan.token}),
            submit("Cancel", verbs.DEPLOY_CANCEL, {"request": plan.token}),
        ],
    )


def cancelled_card(plan: DeploymentPlan) -> Card:
    """The confirmation card after "Cancel"."""
    return card([heading(f"Deployment of {plan.name} cancelled"), _plan_facts(plan)])


def progress_card(view: DeploymentProgress) -> Card:
    """The card that follows a deployment while Azure creates it."""
    plan, state, elapsed = view.plan, view.state, duration(view.elapsed)
    return card(
        [
            heading(f"Deploying {plan.name}"),
            _plan_facts(plan),
            facts([("State", state), ("Elapsed", elapsed)]),
            text(
                "Azure usually needs 15-20 minutes for a fine-tuned model. This card updates "
                "itself; you can keep working meanwhile.",
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
            _title(f"{plan.name} is deployed", "Good"),
            _plan_facts(plan),
            facts([("State", "Succeeded"), ("Took", elapsed)]),
            text(
                f"Talk to it here with `chat {plan.name}`. Remove it with `delete {plan.name}` "
                "when you are done: hosting is billed while it exists.",
                isSubtle=True,
            ),
            *[text(line, isSubtle=True) for line in cost_lines(plan)],
        ],
        [
            submit("Chat with it", verbs.CHAT, {"deployment": plan.name}),
            submit("Delete", verbs.DELETE, {"deployment": plan.name}),
        ],
    )


def failed_card(view: DeploymentFailed) -> Card:
    """The deployment failed: Azure's reason in plain words, and a way to try again."""
    plan, reason, model_ref = view.plan, view.reason, view.retry
    return card(
        [
            _title(f"Deployment of {plan.name} failed", "Attention"),
            _plan_facts(plan),
            text(reason),
        ],
        [
            submit(
                "Try again", verbs.DEPLOY, {"model": model_ref, "name": plan.name, "sku": plan.sku}
            )
        ],
    )


def _last_use(row: DeploymentRow) -> str:
    if row.last_used_ago is not None:
        return f"{duration(row.last_used_ago)} ago"
    if row.deployed_ago is not None:
        return f"none seen (deployed {duration(row.deployed_ago)} ago)"
    return "none seen"


def deployments_card(listing: DeploymentList) -> Card:
    """The account's deployments, with last use and days before the 15-day deletion."""
    body: list[Element] = [heading(f"Deployments on {listing.account}")]
    if not listing.rows:
        body.append(text("There are no deployments. Deploy a model with `deploy <job or model>`."))
    for row in listing.rows:
        sku = f"{sku_label(row.sku)} x{row.capacity}"
        pairs = [("Model", row.model), ("SKU", sku), ("State", row.state)]
        pairs.append(("Last use", _last_use(row)))
        if row.idle_days is not None and row.days_left is not None:
            idle = f"idle {row.idle_days:.1f} days, {row.days_left:.1f} days left of 15"
            pairs.append(("Idle deletion", idle))
        items: list[Element] = [text(row.name, weight="Bolder"), facts(pairs)]
        if row.state.lower() != "deleting":
            actions = [
                submit("Chat", verbs.CHAT, {"deployment": row.name}),
                submit("Delete", verbs.DELETE, {"deployment": row.name}),
            ]
            items.append({"type": "ActionSet", "actions": actions})
        body.append({"type": "Container", "separator": True, "items": items})
    note = "Idle days count completions the bot made; calls from elsewhere are not seen."
    gone = [_inactivity_sentence(g) for g in listing.deleted_for_inactivity]
    body.append(text(" ".join([*gone, note]), isSubtle=True))
    return card(body)


def _inactivity_sentence(gone: DeletedForInactivity) -> str:
    return (
        f"`{gone.name}` was deleted by Azure after 15 days without completions (its model "
        f"`{gone.model}` is kept; `deploy {gone.model}` brings it back)."
    )


def delete_confirm_card(name: str, model: str, request: str, expires_hours: int) -> Card:
    """Ask before deleting a deployment."""
    return card(
        [
            heading(f"Delete {name}?"),
            facts([("Deployment", name), ("Model", model)]),
            text(
                "The deployment stops answering and its hosting fee stops. A fine-tuned model "
                f"itself is kept and can be deployed again. This question can be answered for "
                f"{expires_hours} hours.",
                isSubtle=True,
            ),
        ],
        [
            submit("Delete", verbs.DELETE_CONFIRM, {"request": request}),
            submit("Keep it", verbs.DELETE_KEEP, {"request": request}),
        ],
    )


def deleting_card(name: str, state: str) -> Card:
    """Deletion under way, or finished, or dropped."""
    return card([heading(state.format(name=name))])


def idle_warning_card(view: IdleWarning) -> Card:
    """48 hours before Azure deletes an idle fine-tuned deployment."""
    name, model, idle, left = view.name, view.model, duration(view.idle), duration(view.left)
    return card(
        [
            _title(f"{name} will be deleted for inactivity", "Warning"),
            facts([("Model", model), ("No completion for", idle), ("Deleted in", left)]),
            text(
                "Azure deletes a fine-tuned deployment after 15 days without completion calls "
                "(the model stays and can be deployed again). Keep it alive with one tiny "
                "completion, or delete it now and stop its hosting fee.",
                isSubtle=True,
            ),
        ],
        [
            submit("Keep alive", verbs.KEEP_ALIVE, {"deployment": name}),
            submit("Delete now", verbs.DELETE, {"deployment": name}),
        ],
    )


def kept_alive_card(name: str, model: str, who: str) -> Card:
    """The warning card after "Keep alive"."""
    return card(
        [
            _title(f"{name} kept alive", "Good"),
            facts([("Model", model), ("Kept alive by", who)]),
            text(
                "One completion was made: the 15-day inactivity clock starts again now.",
                isSubtle=True,
            ),
        ]
    )


def deleted_for_inactivity_card(view: DeletedForInactivity) -> Card:
    """Azure removed an idle fine-tuned deployment: the model is kept, offer to deploy it again."""
    name, model = view.name, view.model
    return card(
        [
            _title(f"{name} was deleted for inactivity", "Attention"),
            text(
                f"Azure deleted `{name}` after 15 days without completions. Its model "
                f"`{model}` is kept and can be deployed again."
            ),
        ],
        [submit("Redeploy", verbs.DEPLOY, {"model": model, "name": name})],
    )
