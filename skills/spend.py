"""What the current resource really cost: Azure Cost Management's actual cost, split into
training, hosting and inference, with the bot's estimate of what Azure has not reported yet; and
each team's monthly budget.

The actual cost is one `Query_Usage` call (azure-mgmt-costmanagement, api-version 2022-10-01;
sandbox/specs/.../Microsoft.CostManagement/stable/2022-10-01/costmanagement.json): `ActualCost`,
daily, the `Cost` summed and grouped by `Meter`, filtered to the account's resource id, at the
resource group's scope (a resource is no Cost Management scope). The answer's columns are read by
name (`Cost` or `PreTaxCost`, `UsageDate` as yyyymmdd, `Meter`, `Currency`), never by position.
A meter is training when its name says training, hosting when it says hosting or hours, else
inference (the sandbox's meters, sandbox/billing.py; Azure's fine-tuning meters are named
"... Training ...", "... Hosting ..." likewise).

Azure reports costs hours late (`cost_delay_hours`, Microsoft: 8 to 24 hours). What happened in
that window is the bot's estimate, labelled as such: fine-tuning jobs that finished in it (their
`trained_tokens` at the training price) and the hours of the fine-tuned deployments up in it (at
their hourly fee), both read from Azure itself (the data plane's job list, Resource Manager's
deployments), priced with the settings' price list in USD. When Azure bills in another currency
the estimate is left out and the card says so.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from azure.core.exceptions import HttpResponseError
from azure.mgmt.costmanagement.models import (
    QueryAggregation,
    QueryComparisonExpression,
    QueryDataset,
    QueryDefinition,
    QueryFilter,
    QueryGrouping,
    QueryTimePeriod,
)

from infra import i18n
from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import duration
from infra.prices import DEFAULT_MODEL
from infra.records import Key, Record
from infra.retry import retry_after
from skills.audit import Actor
from skills.azure_errors import arm_error
from skills.context import Context
from skills.deployment.records import DeployRequest
from skills.notify import View
from skills.records import ClaimKind, Spoken, segment
from skills.resources import Resources
from skills.training.records import TrainingRequest

log = logging.getLogger(__name__)

Category = Literal["training", "hosting", "inference"]
Decision = Literal["waiting", "approved", "refused"]
Costly = Literal["train", "deploy"]
Period = Literal["month", "30days"]
COST_MANAGEMENT_READER = "Cost Management Reader"
_DAY = 86_400.0


@dataclass(frozen=True)
class DayCost:
    """One day of actual cost, by category."""

    day: dt.date
    training: float = 0.0
    hosting: float = 0.0
    inference: float = 0.0

    @property
    def total(self) -> float:
        """The day's whole cost."""
        return self.training + self.hosting + self.inference


@dataclass(frozen=True)
class Costs:
    """What Cost Management reported: per day and category, in its currency."""

    currency: str
    days: tuple[DayCost, ...] = ()

    def total(self, category: Category | None = None) -> float:
        """The reported cost of one category, or of all."""
        if category is None:
            return sum(d.total for d in self.days)
        return sum(float(getattr(d, category)) for d in self.days)

    @property
    def latest(self) -> dt.date | None:
        """The last day Azure reported any cost for."""
        return max((d.day for d in self.days), default=None)


@dataclass(frozen=True)
class SpendView:
    """The `spend` card's data."""

    account: str
    period: Period
    costs: Costs
    estimate_training: float = 0.0
    estimate_hosting: float = 0.0
    estimated: bool = True
    """False when Azure bills in another currency than the price list's (no estimate)."""
    since: float = 0.0
    """Start of the estimate window (service time): what Azure has not reported yet."""
    budget: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def estimate(self) -> float:
        """The bot's estimate of what is not reported yet."""
        return self.estimate_training + self.estimate_hosting

    @property
    def total(self) -> float:
        """Reported plus estimated."""
        return self.costs.total() + self.estimate


class Budget(Record, Spoken):
    """A team's (or conversation's) monthly budget, in the billing currency; its notices go to
    the conversation it was set in, in the language of who set it."""

    prefix = "budget/"

    scope: str
    amount: float
    set_by: str = ""
    set_at: float = 0.0
    conversation: str = ""

    @classmethod
    def at(cls, scope: str) -> Key[Budget]:
        """The key of a scope's budget."""
        return Key(cls, f"{cls.prefix}{segment(scope)}")

    def key(self) -> Key[Budget]:
        """Where this record is stored."""
        return self.at(self.scope)


@dataclass(frozen=True)
class BudgetCheck:
    """A costly action against the month's budget: spent so far (None: Azure's costs could not
    be read) plus the action's estimate."""

    budget: float
    spent: float | None
    estimate: float | None
    currency: str = "USD"

    @property
    def over(self) -> bool:
        """The action would pass the budget (or nobody can tell how much is spent)."""
        return self.spent is None or self.spent + (self.estimate or 0.0) > self.budget


class Approval(Record):
    """A training or deployment over the budget, waiting for an admin: who asked, what, how
    much."""

    prefix = "spend-approval/"

    token: str
    """The confirmation's token (the approval starts the action as its asker)."""
    kind: Costly = "train"
    conversation: str
    asker: str
    asker_name: str = ""
    what: str
    check: BudgetCheck
    state: Decision = "waiting"
    by: str = ""

    @classmethod
    def at(cls, token: str) -> Key[Approval]:
        """The key of a training's approval."""
        return Key(cls, f"{cls.prefix}{token}")

    def key(self) -> Key[Approval]:
        """Where this record is stored."""
        return self.at(self.token)


BUDGET_NOTICES = ClaimKind("budget-notice/")
"""The 80% and 100% notices of a scope's budget, each at most once a month."""
THRESHOLDS = (1.0, 0.8)
"""The shares of the budget that get a notice, highest first."""


@dataclass(frozen=True)
class BudgetNotice(View):
    """The month's spend reached a share of the budget."""

    account: str
    share: float
    spent: float
    budget: float
    currency: str


def category_of(meter: str) -> Category:
    """Which part of the card a meter's cost goes to."""
    name = meter.lower()
    if "train" in name:
        return "training"
    if "host" in name or "hour" in name:
        return "hosting"
    return "inference"


def _date(value: Any) -> dt.date | None:
    """A `UsageDate` (yyyymmdd as a number, or an ISO string) as a date."""
    text = str(int(value)) if isinstance(value, int | float) else str(value)
    try:
        if len(text) == 8 and text.isdigit():
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def fold(columns: Sequence[str], rows: Sequence[Sequence[Any]], currency: str = "USD") -> Costs:
    """The rows of a `Query_Usage` answer as daily costs by category; columns by name."""
    index = {name.lower(): i for i, name in enumerate(columns)}
    cost = index.get("cost", index.get("pretaxcost"))
    if cost is None:
        raise UserError("Azure Cost Management answered without a cost column.")
    day_at, meter_at = index.get("usagedate"), index.get("meter")
    currency_at = index.get("currency")
    days: dict[dt.date, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    seen: set[str] = set()
    for row in rows:
        day = _date(row[day_at]) if day_at is not None else None
        if day is None:
            continue
        meter = str(row[meter_at]) if meter_at is not None else ""
        days[day][category_of(meter)] += float(row[cost] or 0.0)
        if currency_at is not None and row[currency_at]:
            seen.add(str(row[currency_at]))
    if len(seen) > 1:
        raise UserError(
            "Azure Cost Management reported costs in several currencies ({currencies}); I "
            "cannot add them up.",
            currencies=", ".join(sorted(seen)),
        )
    return Costs(
        currency=next(iter(seen), currency),
        days=tuple(DayCost(day, **values) for day, values in sorted(days.items())),
    )


def resource_id(resource: Resource) -> str:
    """The account's Resource Manager id."""
    return (
        f"/subscriptions/{resource.subscription_id}/resourceGroups/{resource.resource_group}"
        f"/providers/Microsoft.CognitiveServices/accounts/{resource.account}"
    )


def query(resource: Resource, period: Period, now: float) -> QueryDefinition:
    """The `Query_Usage` body: actual cost, daily, by meter, of this one account."""
    dataset = QueryDataset(
        granularity="Daily",
        aggregation={"totalCost": QueryAggregation(name="Cost", function="Sum")},
        grouping=[QueryGrouping(type="Dimension", name="Meter")],
        filter=QueryFilter(
            dimensions=QueryComparisonExpression(
                name="ResourceId", operator="In", values=[resource_id(resource)]
            )
        ),
    )
    if period == "month":
        return QueryDefinition(type="ActualCost", timeframe="MonthToDate", dataset=dataset)
    end = dt.datetime.fromtimestamp(now, dt.UTC)
    return QueryDefinition(
        type="ActualCost",
        timeframe="Custom",
        time_period=QueryTimePeriod(from_property=end - dt.timedelta(days=30), to=end),
        dataset=dataset,
    )


def month_left(now: float) -> float:
    """Hours from `now` to the end of its month (UTC): what a deployment left running until then
    is billed for."""
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return (following.timestamp() - now) / 3600


def _base(model: str) -> str:
    return model.split(".ft-", 1)[0]


class Spend:
    """Actual cost from Cost Management, estimates for the rest, budgets and their notices."""

    item = "budgets"
    """The ownership item of the budget watch (one instance looks at every budget)."""

    def __init__(self, ctx: Context, resources: Resources) -> None:
        self.ctx = ctx
        self.resources = resources

    async def watch(self) -> None:
        """Every `budget_check_seconds`, the month's spend of every budgeted scope, so that its
        conversation hears of 80% and 100% even when nobody asks (only while this instance
        owns the watch)."""
        owners = self.ctx.owners
        while True:
            if owners.owns(self.item) or await owners.claim(self.item):
                for budget in await self.ctx.records.all(Budget):
                    try:
                        resource = await self.resources.current(budget.scope)
                        await self.report(resource, "month", budget.scope)
                    except asyncio.CancelledError:
                        raise
                    except Exception as error:  # one scope's failure never stops the others
                        log.warning("budget check of %s failed: %s", budget.scope, error)
            await asyncio.sleep(self.ctx.settings.budget_check_seconds)

    async def _notify(self, budget: Budget, view: SpendView) -> None:
        """The month's highest budget share reached, told once (lower ones claimed silently)."""
        if not budget.conversation or budget.amount <= 0:
            return
        month = dt.datetime.fromtimestamp(self.ctx.clock.now(), dt.UTC).strftime("%Y-%m")
        reached = [t for t in THRESHOLDS if view.total >= t * budget.amount]
        claims = self.ctx.claims
        for index, share in enumerate(reached):
            path = BUDGET_NOTICES.path(segment(budget.scope), month, f"{round(share * 100)}")
            if index:
                await claims.once(path)
                continue
            notice = BudgetNotice(
                view.account, share, view.total, budget.amount, view.costs.currency
            )

            async def send(notice: BudgetNotice = notice) -> str:
                with i18n.use(budget.language):
                    return await self.ctx.notify.send(budget.conversation, notice)

            await claims.at_most_once(path, send)

    @property
    def delay(self) -> float:
        """Cost Management's reporting delay, in seconds of service time."""
        return self.ctx.settings.cost_delay_hours * 3600

    async def actual(self, resource: Resource, period: Period) -> Costs:
        """What Cost Management reports for the resource (one sentence when it cannot)."""
        if not self.ctx.settings.resource_manager or not resource.subscription_id:
            raise UserError(
                "I cannot read costs without Azure Resource Manager: set AZURE_SUBSCRIPTION_ID "
                "and AZURE_RESOURCE_GROUP."
            )
        scope = resource_id(resource).split("/providers/", 1)[0]
        try:
            result = await self.ctx.azure.costs().query.usage(
                scope, query(resource, period, self.ctx.clock.now())
            )
        except HttpResponseError as error:
            raise self._refused(error, resource) from error
        if result is None:  # 204: no data at this scope
            return Costs(currency="USD")
        columns = [str(c.name) for c in result.columns or []]
        if result.next_link:
            log.warning("Cost Management returned more than one page; the first one is shown")
        return fold(columns, result.rows or [])

    def _refused(self, error: HttpResponseError, resource: Resource) -> UserError:
        status = error.status_code
        if status == 429:
            wait = retry_after(error)
            headers = getattr(error.response, "headers", {}) or {}
            for name in (
                "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
                "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
                "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
            ):
                try:
                    wait = max(wait or 0.0, float(headers.get(name, 0)))
                except ValueError:
                    continue
            return UserError(
                "Azure Cost Management is throttling my queries; try `spend` again after {wait}.",
                wait=duration(max(1.0, wait or 60.0)),
            )
        if status in (401, 403):
            return UserError(
                "I may not read costs: an admin can give my identity the {role} role on the "
                "resource group {group} (Azure portal, Access control (IAM)).",
                role=COST_MANAGEMENT_READER,
                group=resource.resource_group,
            )
        return arm_error(error, "read the costs")

    async def estimate(self, resource: Resource) -> tuple[float, float, float]:
        """(training, hosting, since) in USD: what the bot knows was spent since `since`, the
        start of Cost Management's delay, read from Azure itself."""
        now = self.ctx.clock.now()
        since = now - self.delay
        settings = self.ctx.settings
        clients = self.ctx.azure.clients(resource)
        training = 0.0
        async for job in clients.openai.fine_tuning.jobs.list(limit=50):
            finished = float(job.finished_at or 0)
            if job.status != "succeeded" or finished <= since:
                if float(job.created_at or 0) < since - 30 * _DAY:
                    break  # the list is newest first: older jobs finished long ago
                continue
            price = settings.training_prices.get(
                _base(job.model), settings.training_prices.get(DEFAULT_MODEL, 0.0)
            )
            training += (job.trained_tokens or 0) * price / 1_000_000
        hosting = 0.0
        deployments = clients.cognitive.deployments.list(resource.resource_group, resource.account)
        async for deployment in deployments:
            model = deployment.properties.model if deployment.properties else None
            if model is None or ".ft-" not in str(model.name or ""):
                continue
            created = getattr(deployment.system_data, "created_at", None)
            start = created.timestamp() if created else since
            sku = str(deployment.sku.name if deployment.sku else "standard").lower()
            word = "developer" if sku.startswith("developer") else sku
            rate = settings.hosting_prices.get(word, settings.hosting_prices.get("standard", 0.0))
            hosting += max(0.0, now - max(start, since)) / 3600 * rate
        return training, hosting, since

    async def report(self, resource: Resource, period: Period, scope: str) -> SpendView:
        """The `spend` card: actual cost, the estimate of the rest, the budget."""
        costs = await self.actual(resource, period)
        budget = await self.ctx.records.get(Budget.at(scope))
        estimated = costs.currency.upper() == "USD"
        training, hosting, since = await self.estimate(resource) if estimated else (0, 0, 0)
        view = SpendView(
            account=resource.account,
            period=period,
            costs=costs,
            estimate_training=training,
            estimate_hosting=hosting,
            estimated=estimated,
            since=since,
            budget=budget.amount if budget and period == "month" else None,
        )
        if budget is not None and period == "month":
            await self._notify(budget, view)
        return view

    async def check(self, resource: Resource, scope: str, estimate: float | None) -> BudgetCheck:
        """This month's spend plus an action's estimate against the scope's budget (raises when
        no budget is set: callers ask `budget` first)."""
        budget = await self.budget(scope)
        if budget is None:
            raise ValueError("no budget is set for this scope")
        try:
            view = await self.report(resource, "month", scope)
        except UserError as error:
            log.info("budget check without the month's costs: %s", error.message)
            return BudgetCheck(budget.amount, None, estimate)
        return BudgetCheck(budget.amount, view.total, estimate, view.costs.currency)

    async def hosting_check(
        self, resource: Resource, scope: str, hourly: float | None
    ) -> BudgetCheck | None:
        """A deployment against the budget: its fee until the month ends as the estimate (None
        when no budget is set)."""
        if await self.budget(scope) is None:
            return None
        left = month_left(self.ctx.clock.now())
        return await self.check(resource, scope, None if hourly is None else hourly * left)

    async def gate(
        self, token: str, scope: str, actor: Actor, *, admin: bool, kind: Costly = "train"
    ) -> Approval | None:
        """Before "Confirm training" or "Deploy" starts the action: None when it may go (no
        budget, within it, or an admin confirms it); else the approval it now waits for, with
        its audit entry."""
        if await self.budget(scope) is None:
            return None
        asked = await self._asked(token, kind)
        if asked is None:
            return None
        found = await self.ctx.records.get(Approval.at(token))
        if found is not None:
            if found.state == "approved":
                return None
            raise UserError("This already waits for an admin's approval.")
        resource, conversation, what, estimate = asked
        check = await self.check(resource, scope, estimate)
        if not check.over or admin:
            return None
        approval = Approval(
            token=token,
            kind=kind,
            conversation=conversation,
            asker=actor.id,
            asker_name=actor.name,
            what=what,
            check=check,
        )
        entry = self.ctx.audit.entry(
            actor, "approval asked", f"{kind} {approval.what}", resource, "started"
        )
        await self.ctx.records.put(approval, entry)
        return approval

    async def _asked(
        self, token: str, kind: Costly
    ) -> tuple[Resource, str, str, float | None] | None:
        """(resource, conversation, what, estimate) of the question a token names."""
        if kind == "train":
            training = await self.ctx.records.get(TrainingRequest.at(token))
            if training is None:
                return None
            plan = training.plan
            what = f"{plan.model} on {plan.files}"
            return training.resource, training.conversation, what, plan.price
        deploy = await self.ctx.records.get(DeployRequest.at(token))
        if deploy is None:
            return None
        hourly = self.ctx.settings.hosting_prices.get(deploy.sku)
        estimate = None if hourly is None else hourly * month_left(self.ctx.clock.now())
        what = f"{deploy.name} ({deploy.model}, {deploy.sku})"
        return deploy.resource, deploy.conversation, what, estimate

    async def decide(self, token: str, approve: bool, actor: Actor) -> Approval:
        """An admin's answer, once; written to the audit trail."""
        state: Decision = "approved" if approve else "refused"
        by = actor.name or actor.id

        def answer(found: Approval | None) -> Approval | None:
            if found is None or found.state != "waiting":
                return None
            return found.model_copy(update={"state": state, "by": by})

        decided = await self.ctx.records.update(Approval.at(token), answer)
        if decided is None:
            raise UserError("That approval is no longer waiting; ask again.")
        if decided.state != state or decided.by != by:
            raise UserError("{name} already answered this approval.", name=decided.by or "?")
        asked = await self._asked(token, decided.kind)
        await self.ctx.records.put(
            self.ctx.audit.entry(
                actor,
                "approve" if approve else "refuse",
                f"{decided.kind} {decided.what} for {decided.asker_name or decided.asker}",
                asked[0] if asked else None,
                "done",
            )
        )
        return decided

    async def budget(self, scope: str) -> Budget | None:
        """A scope's budget, if one is set."""
        return await self.ctx.records.get(Budget.at(scope))

    async def set_budget(
        self, scope: str, amount: float, actor: Actor, conversation: str
    ) -> Budget:
        """Set (or replace) a scope's monthly budget, with its audit entry; its notices go to
        `conversation`."""
        record = Budget(
            scope=scope,
            amount=amount,
            set_by=actor.name,
            set_at=time.time(),
            conversation=conversation,
        )
        entry = self.ctx.audit.entry(actor, "budget", f"{amount:.2f}/month", outcome="done")
        await self.ctx.records.put(record, entry)
        return record
