"""`spend` and `budget` arguments: one clear sentence for anything else."""

from __future__ import annotations

import pytest

from bot.spend import parse_budget, parse_period
from infra.errors import UserError


def test_a_budget_is_a_positive_amount_a_month() -> None:
    assert parse_budget("", {}) is None
    assert parse_budget("500/month", {}) == 500.0
    assert parse_budget("12.5 / month", {}) == 12.5
    for bad in ("0/month", "-5/month", "lots", "5/week"):
        with pytest.raises(UserError, match="positive amount"):
            parse_budget(bad, {})
    assert parse_period("last 30 days", {}) == "30days"
    with pytest.raises(UserError):
        parse_period("yesterday", {})
