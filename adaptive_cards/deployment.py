"""Cards of hosting: confirm a deployment with its cost, follow it, list, delete, idle warnings."""

from __future__ import annotations

from adaptive_cards import verbs
from adaptive_cards.common import (
    Card,
    Element,
    Style,
    card,
    facts,
    quoted,
    sentence,
    spoken,
    submit,
    text,
    their_words,
    titled,
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


def _costs(plan: DeploymentPlan) -> list[Element]:
    return [text(line, isSubtle=True) for line in cost_lines(plan)]


def _plan_facts(plan: DeploymentPlan) -> Element:
    return facts(
        [
            (_("Deployment"), quoted(plan.name)),
            (_("Model"), quoted(plan.model)),
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


def _expiry(hours: int) -> str:
    return n_(
        "This question can be answered for {count} hour.",
        "This question can be answered for {count} hours.",
        hours,
    )


def confirm_card(plan: DeploymentPlan) -> Card:
    """Ask before hosting costs anything: what, where, and the estimated fee."""
    return card(
        [
            titled(N_("Deploy {name}?"), {"name": plan.name}),
            _plan_facts(plan),
            *_costs(plan),
            text(_expiry(plan.expires_hours), isSubtle=True),
        ],
        [
            submit(_("Deploy"), verbs.DEPLOY_CONFIRM, {"request": plan.token}, "positive"),
            submit(_("Cancel"), verbs.DEPLOY_CANCEL, {"request": plan.token}),
        ],
    )


def cancelled_card(plan: DeploymentPlan) -> Card:
    """The confirmation card after "Cancel"."""
    return card(
        [titled(N_("Deployment of {name} cancelled"), {"name": plan.name}), _plan_facts(plan)]
    )


def progress_card(view: DeploymentProgress) -> Card:
    """The card that follows a deployment while Azure creates it."""
    plan, state, elapsed = view.plan, state_label(view.state), duration(view.elapsed)
    return card(
        [
            titled(N_("Deploying {name}"), {"name": plan.name}),
            _plan_facts(plan),
            facts([(_("State"), state), (_("Elapsed"), elapsed)]),
            text(
                _(
                    "Azure usually needs 15-20 minutes for a fine-tuned model. This card updates "
                    "itself; you can keep working meanwhile."
                ),
                isSubtle=True,
            ),
            *_costs(plan),
        ]
    )


def succeeded_card(view: DeploymentSucceeded) -> Card:
    """The deployment is ready: chat with it (the main action), evaluate it, or delete it."""
    plan, elapsed = view.plan, duration(view.elapsed)
    return card(
        [
            titled(N_("{name} is deployed"), {"name": plan.name}, "good"),
            _plan_facts(plan),
            facts([(_("State"), state_label("succeeded")), (_("Took"), elapsed)]),
            text(
                _(
                    "Chat with it here. Delete it when you are done: hosting is billed while it "
                    "exists."
                ),
                isSubtle=True,
            ),
            *_costs(plan),
        ],
        [
            submit(_("Chat with it"), verbs.CHAT, {"deployment": plan.name}, "positive"),
            *(
                [submit(_("Evaluate"), verbs.EVALUATE, {"deployment": plan.name})]
                if plan.fine_tuned
                else []
            ),
            _delete_button(plan.name),
        ],
    )


def _delete_button(name: str) -> Element:
    """The button that asks before deleting a deployment (the question is a card of its own)."""
    return submit(_("Delete deployment"), verbs.DELETE, {"deployment": name}, "destructive")


def failed_card(view: DeploymentFailed) -> Card:
    """The deployment failed: the reason, and a way to try again."""
    plan, model_ref = view.plan, view.retry
    return card(
        [
            titled(N_("Deployment of {name} failed"), {"name": plan.name}, "attention"),
            _plan_facts(plan),
            spoken(view.reason),
        ],
        [
            submit(
                _("Try again"),
                verbs.DEPLOY,
                {"model": model_ref, "name": plan.name, "sku": plan.sku},
                "positive",
            )
        ],
    )


def _last_use(row: DeploymentRow) -> str:
    if row.last_used_ago is not None:
        return _("{time} ago", time=duration(row.last_used_ago))
    if row.deployed_ago is not None:
        return _("none seen (deployed {time} ago)", time=duration(row.deployed_ago))
    return _("none seen")


def _row(row: DeploymentRow) -> Element:
    """One deployment: its name and state on one line, its model and what it costs, and what
    can be done with it (Chat; Keep alive where the 15-day rule applies; Delete last, in the
    destructive style)."""
    said = _(
        "{state}, {sku} x{capacity}",
        state=state_label(row.state),
        sku=sku_label(row.sku),
        capacity=number(row.capacity),
    )
    line = {
        "type": "RichTextBlock",
        "inlines": [
            *their_words(row.name, weight="Bolder"),
            {"type": "TextRun", "text": " · " + said},
        ],
    }
    pairs: list[tuple[str, str | Element]] = [
        (_("Model"), quoted(row.model)),
        (_("Last use"), _last_use(row)),
    ]
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
    items: list[Element] = [line, facts(pairs)]
    if row.state.lower() != "deleting":
        actions = [submit(_("Chat"), verbs.CHAT, {"deployment": row.name})]
        if row.idle_days is not None:  # the 15-day rule applies: one call restarts it
            actions.append(submit(_("Keep alive"), verbs.KEEP_ALIVE, {"deployment": row.name}))
        delete = submit(_("Delete"), verbs.DELETE, {"deployment": row.name}, "destructive")
        items.append(
            {
                "type": "ColumnSet",
                "columns": [
                    {"type": "Column", "width": "stretch", "items": [_buttons(actions)]},
                    {"type": "Column", "width": "auto", "items": [_buttons([delete])]},
                ],
            }
        )
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def _buttons(actions: list[Element]) -> Element:
    return {"type": "ActionSet", "actions": actions}


def deployments_card(listing: DeploymentList) -> Card:
    """The account's deployments, each with its model, state, last use, days before the 15-day
    deletion and its buttons; then those Azure deleted for inactivity, each with Redeploy."""
    body: list[Element] = [titled(N_("Deployments on {account}"), {"account": listing.account})]
    if not listing.rows:
        body.append(
            text(
                _(
                    "There are no deployments. Deploy a model with the Deploy button of a "
                    "training's notice, or say **deploy** with the job or model."
                )
            )
        )
    body += [_row(row) for row in listing.rows]
    for gone in listing.deleted_for_inactivity:
        body.append(
            {
                "type": "Container",
                "separator": True,
                "spacing": "Medium",
                "items": [
                    _inactivity_sentence(gone),
                    _buttons([_redeploy_button(gone)]),
                ],
            }
        )
    note = _("Idle days count completions the bot made; calls from elsewhere are not seen.")
    body.append(text(note, isSubtle=True, separator=True))
    return card(body)


def _inactivity_sentence(gone: DeletedForInactivity) -> Element:
    return sentence(
        N_(
            "Azure deleted {name} after 15 days without completions. Its model {model} is "
            "kept and can be deployed again."
        ),
        {"name": gone.name, "model": gone.model},
    )


def _redeploy_button(gone: DeletedForInactivity, style: Style | None = None) -> Element:
    data = {"model": gone.model, "name": gone.name}
    return submit(_("Redeploy"), verbs.DEPLOY, data, style)


def delete_confirm_card(name: str, model: str, request: str, expires_hours: int) -> Card:
    """Ask before deleting a deployment."""
    return card(
        [
            titled(N_("Delete {name}?"), {"name": name}),
            facts([(_("Deployment"), quoted(name)), (_("Model"), quoted(model))]),
            text(
                _(
                    "The deployment stops answering and its hosting fee stops. A fine-tuned model "
                    "itself is kept and can be deployed again."
                )
                + " "
                + _expiry(expires_hours),
                isSubtle=True,
            ),
        ],
        [
            submit(_("Delete"), verbs.DELETE_CONFIRM, {"request": request}, "destructive"),
            submit(_("Keep it"), verbs.DELETE_KEEP, {"request": request}),
        ],
    )


def deleting_card(state: Element) -> Card:
    """Deletion under way, finished, or dropped: `state` is its title (deleting_sentence,
    kept_sentence, deleted_sentence)."""
    return card([state])


def deleted_card(view: DeploymentDeleted) -> Card:
    """The delete card once the deployment is gone."""
    return deleting_card(deleted_sentence(view))


def deleting_sentence(name: str) -> Element:
    """The delete card's title while Azure deletes the deployment."""
    return titled(N_("Deleting {name}..."), {"name": name})


def kept_sentence(name: str) -> Element:
    """The delete card's title after "Keep it"."""
    return titled(N_("Kept {name}: nothing was deleted"), {"name": name})


def deleted_sentence(view: DeploymentDeleted) -> Element:
    """The delete card's title once the deployment is gone (and who deleted it)."""
    if view.by:
        return titled(N_("{name} is deleted (by {who})"), {"name": view.name, "who": view.by})
    if view.elsewhere:
        return titled(N_("{name} is deleted (deleted elsewhere)"), {"name": view.name})
    return titled(N_("{name} is deleted"), {"name": view.name})


def idle_warning_card(view: IdleWarning) -> Card:
    """48 hours before Azure deletes an idle fine-tuned deployment: keep it (the main action)
    or delete it now."""
    name, idle, left = view.name, duration(view.idle), duration(view.left)
    return card(
        [
            titled(N_("{name} will be deleted for inactivity"), {"name": name}, "warning"),
            facts(
                [
                    (_("Model"), quoted(view.model)),
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
            submit(_("Keep alive"), verbs.KEEP_ALIVE, {"deployment": name}, "positive"),
            submit(_("Delete now"), verbs.DELETE, {"deployment": name}, "destructive"),
        ],
    )


def kept_alive_card(name: str, model: str, who: str) -> Card:
    """The warning card after "Keep alive"."""
    return card(
        [
            titled(N_("{name} kept alive"), {"name": name}, "good"),
            facts([(_("Model"), quoted(model)), (_("Kept alive by"), quoted(who))]),
            text(
                _("One completion was made: the 15-day inactivity clock starts again now."),
                isSubtle=True,
            ),
        ]
    )


def deleted_for_inactivity_card(view: DeletedForInactivity) -> Card:
    """Azure removed an idle fine-tuned deployment: the model is kept, offer to deploy it again."""
    return card(
        [
            titled(N_("{name} was deleted for inactivity"), {"name": view.name}, "attention"),
            _inactivity_sentence(view),
        ],
        [_redeploy_button(view, "positive")],
    )
