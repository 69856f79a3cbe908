"""What hosting shows: the deployment's plan and progress, the list, the idle warnings, as data
(bot/render.py and adaptive_cards/deployment.py draw them)."""

from __future__ import annotations

from dataclasses import dataclass

from infra.i18n import N_, Said, _, later
from infra.text import echo
from skills.confirmations import lifetime_hours
from skills.deployment.records import DeploymentRecord, DeployRequest
from skills.notify import View

STATES = {
    "creating": N_("Creating"),
    "accepted": N_("Accepted"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
    "deleting": N_("Deleting"),
    "canceled": N_("Canceled"),
    "moving": N_("Moving"),
}
"""Resource Manager's provisioning states, as cards name them."""


def state_label(state: str) -> str:
    """A deployment's provisioning state in words (one Azure does not list here as Azure
    names it)."""
    known = STATES.get(state.lower())
    return _(known) if known else state


def state_said(state: str) -> Said:
    """What Azure said when it accepted a deployment, kept for the audit trail's reader."""
    known = STATES.get(state.lower())
    if known:
        return later("Azure accepted it; its state: {state}.", state=known, translated=("state",))
    return later("Azure accepted it; its state: {state}.", state=echo(state))


@dataclass(frozen=True)
class DeploymentPlan:
    """What a deployment will be: shown before it is created and on the card that follows it."""

    name: str
    model: str
    sku: str
    capacity: int
    fine_tuned: bool
    hourly_price: float | None
    """The configured hourly hosting price of the sku (None: none configured)."""
    token: str = ""
    expires_hours: int = 0


@dataclass(frozen=True)
class DeploymentProgress(View):
    """Azure is creating the deployment."""

    plan: DeploymentPlan
    state: str
    elapsed: float


@dataclass(frozen=True)
class DeploymentSucceeded(View):
    """The deployment answers."""

    plan: DeploymentPlan
    elapsed: float


@dataclass(frozen=True)
class DeploymentFailed(View):
    """The deployment failed; `retry` is what to deploy to try again."""

    plan: DeploymentPlan
    reason: str
    retry: str


@dataclass(frozen=True)
class DeploymentDeleting(View):
    """A confirmed deletion that Azure is carrying out."""

    name: str


@dataclass(frozen=True)
class DeploymentDeleted(View):
    """A deletion the bot was asked for has finished. `by` names who deleted it when that was
    someone else than the card's own user; `elsewhere` when nobody here did."""

    name: str
    by: str = ""
    elsewhere: bool = False


@dataclass(frozen=True)
class IdleWarning(View):
    """48 hours before Azure deletes an idle fine-tuned deployment."""

    name: str
    model: str
    idle: float
    left: float


@dataclass(frozen=True)
class DeletedForInactivity(View):
    """Azure removed an idle fine-tuned deployment; its model is kept."""

    name: str
    model: str


@dataclass(frozen=True)
class DeploymentRow:
    """One line of `deployments` (times in seconds on the service's clock)."""

    name: str
    model: str
    sku: str
    capacity: int
    state: str
    last_used_ago: float | None
    """Since the last completion the bot saw (None: none seen)."""
    deployed_ago: float | None
    idle_days: float | None
    """Idle days and days left of 15, where the 15-day rule applies."""
    days_left: float | None
    deployed_by_bot: bool = False
    fee_this_month: float | None = None
    """The hourly fee billed so far this month (USD, the price list's), for a fine-tuned
    deployment: what leaving it idle costs."""
    hourly_price: float | None = None


@dataclass(frozen=True)
class DeploymentList:
    """The `deployments` answer."""

    account: str
    rows: list[DeploymentRow]
    deleted_for_inactivity: list[DeletedForInactivity]


def plan_of(source: DeployRequest | DeploymentRecord, prices: dict[str, float]) -> DeploymentPlan:
    """The plan a question (or the record of the deployment it made) shows."""
    asking = isinstance(source, DeployRequest)
    return DeploymentPlan(
        name=source.name,
        model=source.model,
        sku=source.sku,
        capacity=source.capacity,
        fine_tuned=source.fine_tuned,
        hourly_price=prices.get(source.sku),
        token=source.token if isinstance(source, DeployRequest) else "",
        expires_hours=lifetime_hours() if asking else 0,
    )
