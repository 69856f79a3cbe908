"""Cost Management's Query API over the sandbox's ledger (billing.py).

`POST {scope}/providers/Microsoft.CostManagement/query` (operation `Query_Usage`, api-version
2022-10-01: specs/specification/cost-management/.../2022-10-01/costmanagement.json) answers in
Azure's shape, `properties.columns` and `properties.rows`, the aggregated column first, then
`UsageDate` (a yyyymmdd number) with daily granularity, then the grouping columns, then
`Currency` (the column order of the specification's examples, e.g.
examples/MCABillingProfileQueryGrouping.json). What happened less than the reporting delay ago
(`SandboxConfig.cost_delay`, sandbox seconds; Azure takes 8 to 24 hours) is not reported yet.

Reading costs takes a role that grants `Microsoft.CostManagement/*/read` at or above the scope:
Cost Management Reader or Contributor, Reader, Contributor or Owner; without one the answer is
ARM's 403 `AuthorizationFailed`. The `costs429=<rate>` fault throttles that share of queries with
Cost Management's retry headers (`x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after` and
`Retry-After`; Microsoft Learn, "Manage costs with automation", error code 429).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from sandbox.arm import Router, check_token
from sandbox.billing import CURRENCY
from sandbox.dataplane import json_body
from sandbox.errors import AzureError, bad_request
from sandbox.ids import new_guid
from sandbox.service import Sandbox
from sandbox.store import Doc

COST_READERS = {
    "72fafb9e-0641-4937-9268-a91bfd8191a3",  # Cost Management Reader
    "434105ed-43f6-45c7-a02f-909b2ba83430",  # Cost Management Contributor
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
}
"""Built-in roles whose actions include `Microsoft.CostManagement/*/read`."""

_QUERY = r"/(?P<scope>.+)/providers/microsoft\.costmanagement/query"
_DIMENSIONS = {"meter": "Meter", "resourceid": "ResourceId"}


def _within(scope: str, resource_id: str) -> bool:
    scope = scope.lower().rstrip("/")
    resource = resource_id.lower()
    return resource == scope or resource.startswith(scope + "/")


def may_read_costs(sandbox: Sandbox, principal: str, scope: str) -> bool:
    """True when an assignment at or above `scope` gives `principal` a role that reads costs."""
    for _, doc in sandbox.store.items("role"):
        props = doc["properties"]
        if str(props["principalId"]).lower() != principal:
            continue
        role = str(props["roleDefinitionId"]).rstrip("/").rsplit("/", 1)[-1].lower()
        if role in COST_READERS and _within(str(props["scope"]), scope):
            return True
    return False


def _day(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _period(body: Doc, now: float) -> tuple[float, float]:
    """(from, to) in epoch seconds of the query's timeframe."""
    timeframe = str(body.get("timeframe", "")).lower()
    today = _day(now)
    if timeframe in ("monthtodate", "billingmonthtodate"):
        return today.replace(day=1).timestamp(), now
    if timeframe in ("thelastmonth", "thelastbillingmonth"):
        first = today.replace(day=1)
        return (first - timedelta(days=1)).replace(day=1).timestamp(), first.timestamp()
    if timeframe == "weektodate":
        return (today - timedelta(days=today.weekday())).timestamp(), now
    period = body.get("timePeriod") or {}
    try:
        start = datetime.fromisoformat(str(period["from"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(period["to"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise bad_request(
            "BadRequest", "A Custom timeframe needs timePeriod.from and timePeriod.to."
        ) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    if end < start:
        start, end = end, start
    return start.timestamp(), min(end.timestamp(), now)


def _resource_filter(dataset: Doc) -> set[str] | None:
    """The resource ids a `ResourceId In [...]` filter keeps (None: no filter)."""
    found = dataset.get("filter")
    if not found:
        return None
    dimension = found.get("dimensions") if isinstance(found, dict) else None
    if not isinstance(dimension, dict) or str(dimension.get("name", "")).lower() != "resourceid":
        raise bad_request(
            "BadRequest", "The sandbox filters only on the dimension ResourceId (operator In)."
        )
    return {str(v).lower() for v in dimension.get("values") or []}


def _spans(sandbox: Sandbox, scope: str) -> list[tuple[str, str, float, float, float]]:
    """(resource id, meter, start, end, cost per second or total) of every ledger line under
    `scope`: a point charge has start == end and its cost as the last field."""
    lines: list[tuple[str, str, float, float, float]] = []
    now = sandbox.clock.now()
    for _, doc in sandbox.store.items("charge"):
        if _within(scope, str(doc["resourceId"])):
            start = float(doc["start"])
            lines.append((str(doc["resourceId"]), str(doc["meter"]), start, start, doc["cost"]))
    for _, doc in sandbox.store.items("hosting"):
        if _within(scope, str(doc["resourceId"])):
            end = now if doc["end"] is None else float(doc["end"])
            lines.append(
                (str(doc["resourceId"]), str(doc["meter"]), float(doc["start"]), end, doc["rate"])
            )
    return lines


def usage(sandbox: Sandbox, scope: str, body: Doc) -> Doc:
    """The Query API's answer (`QueryResult`) for a request body, over the ledger."""
    dataset = body.get("dataset") or {}
    aggregation = dataset.get("aggregation") or {}
    aggregated: Doc = next(iter(aggregation.values()), {}) if isinstance(aggregation, dict) else {}
    column = str(aggregated.get("name") or "Cost")
    daily = str(dataset.get("granularity") or "").lower() == "daily"
    grouping = []
    for group in dataset.get("grouping") or []:
        name = _DIMENSIONS.get(str(group.get("name", "")).lower())
        if name is None:
            raise bad_request(
                "BadRequest", "The sandbox groups only by the dimensions Meter and ResourceId."
            )
        grouping.append(name)
    keep = _resource_filter(dataset)
    now = sandbox.clock.now()
    start, end = _period(body, now)
    reported_until = min(end, now - sandbox.config.cost_delay)
    totals: dict[tuple[Any, ...], float] = defaultdict(float)
    for resource_id, meter, first, last, amount in _spans(sandbox, scope):
        if keep is not None and resource_id.lower() not in keep:
            continue
        values = {"Meter": meter, "ResourceId": resource_id.lower()}
        groups = tuple(values[name] for name in grouping)
        if first == last:  # a point charge
            if start <= first < reported_until:
                day = int(_day(first).strftime("%Y%m%d")) if daily else None
                totals[(day, *groups)] += amount
            continue
        lo, hi = max(first, start), min(last, reported_until)
        while lo < hi:
            midnight = (_day(lo) + timedelta(days=1)).timestamp()
            piece = min(hi, midnight)
            day = int(_day(lo).strftime("%Y%m%d")) if daily else None
            totals[(day, *groups)] += (piece - lo) * amount
            lo = piece
    columns = [{"name": column, "type": "Number"}]
    if daily:
        columns.append({"name": "UsageDate", "type": "Number"})
    columns += [{"name": name, "type": "String"} for name in grouping]
    columns.append({"name": "Currency", "type": "String"})
    rows = []
    for key in sorted(totals, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        rows.append([totals[key], *(key if daily else key[1:]), CURRENCY])
    name = new_guid()
    return {
        "id": f"{scope}/providers/Microsoft.CostManagement/query/{name}",
        "name": name,
        "type": "Microsoft.CostManagement/query",
        "properties": {"columns": columns, "rows": rows},
    }


async def query(request: web.Request, sandbox: Sandbox, m: dict[str, str]) -> web.Response:
    """POST {scope}/providers/Microsoft.CostManagement/query."""
    principal = check_token(request, sandbox)
    scope = "/" + m["scope"].strip("/")
    rate = sandbox.config.faults.cost_throttle
    if rate and sandbox.fault_rng.random() < rate:
        wait = f"{sandbox.config.faults.retry_after:g}"
        raise AzureError(
            429,
            "429",
            "Too many requests. Please retry after the time in the retry-after headers.",
            headers={
                "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after": wait,
                "Retry-After": wait,
            },
        )
    if not may_read_costs(sandbox, principal, scope):
        raise AzureError(
            403,
            "AuthorizationFailed",
            f"The client '{principal}' with object id '{principal}' does not have authorization "
            f"to perform action 'Microsoft.CostManagement/query/read' over scope '{scope}' or "
            "the scope is invalid. If access was recently granted, please refresh your "
            "credentials.",
        )
    body = await json_body(request)
    return web.json_response(usage(sandbox, scope, body))


def add_costs(router: Router) -> None:
    """The Cost Management routes."""
    router.add("POST", _QUERY, query)
