"""The fold of a Cost Management answer (columns by name, meters by part, one currency), in
milliseconds."""

from __future__ import annotations

import datetime as dt

import pytest

from infra.errors import UserError
from skills.spend import category_of, fold


def test_columns_are_read_by_name_and_meters_split_into_parts() -> None:
    columns = ["Currency", "Meter", "PreTaxCost", "UsageDate"]  # any order
    rows = [
        ["EUR", "gpt-4o-mini Fine-tuning Training Tokens", 1.5, 20261203],
        ["EUR", "gpt-4o-mini Fine-tuned Hosting Hours (Standard)", 2.0, 20261203],
        ["EUR", "gpt-4o-mini Fine-tuned Input Tokens", 0.25, 20261204],
    ]
    costs = fold(columns, rows)
    assert costs.currency == "EUR"  # the billing currency Azure returns, not always USD
    assert (costs.total("training"), costs.total("hosting"), costs.total("inference")) == (
        1.5,
        2.0,
        0.25,
    )
    assert costs.latest == dt.date(2026, 12, 4)
    assert [d.total for d in costs.days] == [3.5, 0.25]


def test_several_currencies_or_no_cost_column_is_one_sentence() -> None:
    with pytest.raises(UserError, match="several currencies"):
        fold(["Cost", "UsageDate", "Currency"], [[1, 20261201, "USD"], [1, 20261201, "EUR"]])
    with pytest.raises(UserError, match="without a cost column"):
        fold(["UsageDate"], [])


def test_meter_names() -> None:
    assert category_of("x Training Tokens") == "training"
    assert category_of("x Hosting Hours") == "hosting"
    assert category_of("x Output Tokens") == "inference"
