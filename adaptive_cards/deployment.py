"""Cards of hosting: confirm a deployment with its cost, follow it, list, delete, idle warnings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adaptive_cards.common import Card, Element, card, facts, heading, submit, text


def _title(value: str, color: str) -> Element:
    """A heading in a color (Good, Warning, Attention)."""
    return text(value, weight="Bolder", size="Medium", color=color)


SKU_TITLES = {"standard": "Standard", "globalstandard": "Global Standard", "developer": "Developer"}


@dataclass(frozen=True)
class DeploymentPlan:
    """What a deployment will be: shown before it is created and on the card that follows it."""

    name: str
    model: str
    sku: str
    capacity: int
    cost: Sequence[str]
    request: str = ""


@dataclass(frozen=True)
class DeploymentRow:
    """One line of `deployments`."""

    name: str
    model: str
    sku: str
    state: str
    last_use: str
    days_left: str  # '' when the 15-day rule does not apply
    deployed_by_bot: bool = False


def _plan_facts(plan: DeploymentPlan) -> Element:
    return facts(
        [
            ("Deployment", plan.name),
            ("Model", plan.model),
            ("SKU", f"{SKU_TITLES.get(plan.sku, plan.sku)}, capacity {plan.capacity}"),
        ]
    )


def confirm_card(plan: DeploymentPlan) -> Card:
    """Ask before hosting costs anything: what, where, and the estimated fee."""
    return card(
        [
            heading(f"Deploy {plan.name}?"),
            _plan_facts(plan),
            *[text(line, isSubtle=True) for line in plan.cost],
        ],
        [
            submit("Deploy", "deploy-confirm", {"request": plan.request}),
            submit("Cancel", "deploy-cancel", {"request": plan.request}),
        ],
    )


def cancelled_card(plan: DeploymentPlan) -> Card:
    """The confirmation card after "Cancel"."""
    return card([heading(f"Deployment of {plan.name} cancelled"), _plan_facts(plan)])


def progress_card(plan: DeploymentPlan, state: str, elapsed: str) -> Card:
    """The card that follows a deployment while Azure creates it."""
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
            *[text(line, isSubtle=True) for line in plan.cost],
        ]
    )


def succeeded_card(plan: DeploymentPlan, elapsed: str) -> Card:
    """The deployment is ready: offer to chat with it."""
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
            *[text(line, isSubtle=True) for line in plan.cost],
        ],
        [
            submit("Chat with it", "chat", {"deployment": plan.name}),
            submit("Delete", "delete", {"deployment": plan.name}),
        ],
    )


def failed_card(plan: DeploymentPlan, reason: str, model_ref: str) -> Card:
    """The deployment failed: Azure's reason in plain words, and a way to try again."""
    return card(
        [
            _title(f"Deployment of {plan.name} failed", "Attention"),
            _plan_facts(plan),
            text(reason),
        ],
        [submit("Try again", "deploy", {"model": model_ref, "name": plan.name, "sku": plan.sku})],
    )


def deployments_card(rows: Sequence[DeploymentRow], account: str, now_note: str) -> Card:
    """The account's deployments, with last use and days before the 15-day deletion."""
    body: list[Element] = [heading(f"Deployments on {account}")]
    if not rows:
        body.append(text("There are no deployments. Deploy a model with `deploy <job or model>`."))
    for row in rows:
        pairs = [("Model", row.model), ("SKU", row.sku), ("State", row.state)]
        pairs.append(("Last use", row.last_use))
        if row.days_left:
            pairs.append(("Idle deletion", row.days_left))
        items: list[Element] = [text(row.name, weight="Bolder"), facts(pairs)]
        if row.state.lower() != "deleting":
            actions = [
                submit("Chat", "chat", {"deployment": row.name}),
                submit("Delete", "delete", {"deployment": row.name}),
            ]
            items.append({"type": "ActionSet", "actions": actions})
        body.append({"type": "Container", "separator": True, "items": items})
    body.append(text(now_note, isSubtle=True))
    return card(body)


def delete_confirm_card(name: str, model: str, request: str) -> Card:
    """Ask before deleting a deployment."""
    return card(
        [
            heading(f"Delete {name}?"),
            facts([("Deployment", name), ("Model", model)]),
            text(
                "The deployment stops answering and its hosting fee stops. A fine-tuned model "
                "itself is kept and can be deployed again.",
                isSubtle=True,
            ),
        ],
        [
            submit("Delete", "delete-confirm", {"request": request}),
            submit("Keep it", "delete-keep", {"request": request}),
        ],
    )


def deleting_card(name: str, state: str) -> Card:
    """Deletion under way, or finished, or dropped."""
    return card([heading(state.format(name=name))])


def idle_warning_card(name: str, model: str, idle: str, left: str) -> Card:
    """48 hours before Azure deletes an idle fine-tuned deployment."""
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
            submit("Keep alive", "keep-alive", {"deployment": name}),
            submit("Delete now", "delete", {"deployment": name}),
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


def deleted_for_inactivity_card(name: str, model: str) -> Card:
    """Azure removed an idle fine-tuned deployment: the model is kept, offer to deploy it again."""
    return card(
        [
            _title(f"{name} was deleted for inactivity", "Attention"),
            text(
                f"Azure deleted `{name}` after 15 days without completions. Its model "
                f"`{model}` is kept and can be deployed again."
            ),
        ],
        [submit("Redeploy", "deploy", {"model": model, "name": name})],
    )
