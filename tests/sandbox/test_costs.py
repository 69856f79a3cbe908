"""The sandbox's Cost Management: the ledger summed per day and meter as `Query_Usage` answers it
(a fold over ledger lines, in milliseconds), and the call through azure-mgmt-costmanagement with
its refusals (403 without a cost-reading role, 429 with Cost Management's retry headers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.costmanagement.aio import CostManagementClient
from azure.mgmt.costmanagement.models import QueryAggregation, QueryDataset, QueryDefinition

from infra.azure import ARM_SCOPE, SandboxCredential, _SandboxBearerPolicy
from sandbox.billing import charge
from sandbox.contract import token
from sandbox.costs import usage
from sandbox.faults import parse_faults
from sandbox.service import Sandbox, SandboxConfig
from tests.harness import SANDBOX_TOKEN
from tests.sandbox_server import ACCOUNT, running_sandbox

GROUP = ACCOUNT.split("/providers/")[0]
OTHER = ACCOUNT.replace("aoai-sandbox", "aoai-other")


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(SandboxConfig(tmp_path, cost_delay=2 * 3600.0))
    try:
        yield box
    finally:
        box.store.close()


def hosting(box: Sandbox, start: float, end: float, resource: str = ACCOUNT) -> None:
    """A ledger line of hosting at $1.70 an hour, as start_hosting/stop_hosting write it."""
    line = {"resourceId": resource, "meter": "m Hosting Hours", "rate": 1.70 / 3600}
    box.store.put("hosting", f"{resource}|{start}", {**line, "start": start, "end": end})


def body(start: float, end: float, **dataset: Any) -> dict[str, Any]:
    def iso(moment: float) -> str:
        return datetime.fromtimestamp(moment, UTC).isoformat()

    return {
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": iso(start), "to": iso(end)},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": "Meter"}],
            **dataset,
        },
    }


def test_hours_split_at_midnight_and_the_delay_hides_the_latest_costs(sandbox: Sandbox) -> None:
    now = sandbox.clock.now()
    midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = (midnight - timedelta(days=1)).timestamp()
    hosting(sandbox, yesterday - 2 * 3600, yesterday + 3 * 3600)
    hosting(sandbox, yesterday, yesterday + 3600, resource=OTHER)
    charge(sandbox, ACCOUNT, "m Training Tokens", 1_000_000, 3.30 / 1e6)  # now: not reported yet
    sandbox.store.put(
        "charge",
        "earlier",
        {"resourceId": ACCOUNT, "meter": "m Input Tokens", "quantity": 1, "cost": 0.25}
        | {"start": yesterday + 60, "end": yesterday + 60},
    )
    only = {"dimensions": {"name": "ResourceId", "operator": "In", "values": [ACCOUNT.upper()]}}
    answer = usage(sandbox, GROUP, body(now - 5 * 86_400, now, filter=only))

    columns = [c["name"] for c in answer["properties"]["columns"]]
    assert columns == ["Cost", "UsageDate", "Meter", "Currency"]  # the specification's order
    rows = answer["properties"]["rows"]
    days = [int((midnight - timedelta(days=n)).strftime("%Y%m%d")) for n in (2, 1)]
    assert [(round(r[0], 6), r[1], r[2], r[3]) for r in rows] == [
        (3.4, days[0], "m Hosting Hours", "USD"),
        (5.1, days[1], "m Hosting Hours", "USD"),
        (0.25, days[1], "m Input Tokens", "USD"),
    ]  # the training charged just now is younger than the delay: not in any row


async def test_the_query_through_the_sdk_needs_a_cost_reading_role(tmp_path: Path) -> None:
    faults = "costs429=1,retry_after=0.01"
    async with (
        running_sandbox(tmp_path / "a") as url,
        running_sandbox(tmp_path / "b", faults=faults) as throttled,
    ):
        definition = QueryDefinition(
            type="ActualCost",
            timeframe="MonthToDate",
            dataset=QueryDataset(
                granularity="Daily",
                aggregation={"totalCost": QueryAggregation(name="Cost", function="Sum")},
            ),
        )
        for where, secret, expected in (
            (url, SANDBOX_TOKEN, None),  # the bot holds Cost Management Reader on the group
            (url, token(SANDBOX_TOKEN, "11111111-2222-3333-4444-555555555555"), 403),
            (throttled, SANDBOX_TOKEN, 429),
        ):
            credential = SandboxCredential(secret)
            client = CostManagementClient(
                credential,
                base_url=where,
                authentication_policy=_SandboxBearerPolicy(credential, ARM_SCOPE),
                retry_total=1,
            )
            async with client:
                if expected is None:
                    result = await client.query.usage(GROUP.lstrip("/"), definition)
                    assert result is not None and result.rows == []
                    continue
                with pytest.raises(HttpResponseError) as refused:
                    await client.query.usage(GROUP.lstrip("/"), definition)
                assert refused.value.status_code == expected
                if expected == 403:
                    assert refused.value.error and refused.value.error.code == "AuthorizationFailed"
                else:
                    headers = refused.value.response.headers
                    assert headers["x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after"]


def test_costs429_is_a_share_like_the_other_faults() -> None:
    assert parse_faults("costs429=0.5").cost_throttle == 0.5
    with pytest.raises(ValueError):
        parse_faults("costs429=2")
