"""The 15-day rule (skills/deployment/idle.py): warn 48 hours ahead, expire at 15 idle days."""

from __future__ import annotations

import math

from infra.azure import Resource
from skills.deployment.idle import DAY, HOUR, IDLE_LIMIT, days_left, decide, idle_expired
from skills.deployment.records import DeploymentRecord

RESOURCE = Resource("sub", "group", "account", "http://127.0.0.1:9/")
START = 1_700_000_000.0


def deployment(**fields: object) -> DeploymentRecord:
    values: dict[str, object] = {
        "resource": RESOURCE,
        "name": "d",
        "model": "gpt-4o-mini-2024-07-18.ft-abc",
        "state": "succeeded",
        "conversation": "c",
        "created_at": START,
        "last_used": START,
    }
    return DeploymentRecord.model_validate({**values, **fields})


def test_warning_at_13_days_expiry_at_15() -> None:
    record = deployment()
    assert decide(record, START + 12 * DAY) == ("wait", START + 13 * DAY)
    assert decide(record, START + 13 * DAY) == ("warn", math.inf)
    assert decide(record, START + 15 * DAY - 1) == ("warn", math.inf)
    assert decide(record, START + 15 * DAY) == ("expired", math.inf)


def test_a_completion_starts_the_idle_period_again() -> None:
    record = deployment(last_used=START + 10 * DAY)
    assert decide(record, START + 14 * DAY) == ("wait", START + 23 * DAY)
    assert days_left(record.idle_since, START + 14 * DAY) == 11.0


def test_the_rule_applies_to_the_bot_s_ready_fine_tuned_deployments_only() -> None:
    now = START + 14 * DAY
    assert decide(deployment(model="gpt-4o-mini-2024-07-18", fine_tuned=False), now)[0] == "none"
    assert decide(deployment(state="creating"), now)[0] == "none"
    assert decide(deployment(conversation=""), now)[0] == "none"
    assert decide(deployment(), now)[0] == "warn"


def test_expired_allows_an_hour_for_azure_s_own_sweep() -> None:
    record = deployment()
    assert not idle_expired(record, START + IDLE_LIMIT - HOUR - 1)
    assert idle_expired(record, START + IDLE_LIMIT - HOUR)
