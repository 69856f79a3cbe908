"""The price list: training prices by model, training type and method, and where each training
type is offered (infra/prices.py)."""

from __future__ import annotations

import pytest

from infra.prices import (
    GLOBAL_TRAINING_MODELS,
    GLOBAL_TRAINING_REGIONS,
    STANDARD_TRAINING_PRICES,
    STANDARD_TRAINING_REGIONS,
    TRAINING_PRICE_PER_1M_TOKENS,
    TRAINING_TYPE_NAMES,
    training_price,
    training_types,
)
from sandbox.catalog import BASE_MODELS

MINI = "gpt-4o-mini-2024-07-18"
GPT35 = "gpt-35-turbo-0125"


def test_a_price_is_found_from_the_most_specific_key() -> None:
    prices = {MINI: 3.0, f"{MINI}/global": 2.5, f"{MINI}/global/dpo": 2.7, f"{MINI}/dpo": 3.3}
    assert training_price(prices, MINI) == 3.0
    assert training_price(prices, MINI, "standard", "dpo") == 3.3
    assert training_price(prices, MINI, "global") == 2.5
    assert training_price(prices, MINI, "global", "dpo") == 2.7
    # a type without a price of its own has none: the Standard price is not a Global estimate
    assert training_price(prices, MINI, "developer") is None
    assert training_price(prices, "gpt-unknown") is None


@pytest.mark.parametrize("model", sorted(GLOBAL_TRAINING_MODELS))
def test_global_costs_less_than_standard_and_developer_half_of_global(model: str) -> None:
    standard = training_price(TRAINING_PRICE_PER_1M_TOKENS, model)
    global_ = training_price(TRAINING_PRICE_PER_1M_TOKENS, model, "global")
    developer = training_price(TRAINING_PRICE_PER_1M_TOKENS, model, "developer")
    assert standard == STANDARD_TRAINING_PRICES[model]
    assert global_ is not None and developer is not None
    # Microsoft Learn, "Fine-tuning cost management": Global 10-30 % below Standard, Developer
    # 50 % below Global
    assert 0.7 * standard - 1e-9 <= global_ <= 0.9 * standard + 1e-9
    assert developer == pytest.approx(global_ / 2, abs=1e-4)


def test_models_without_global_training_have_only_a_standard_price() -> None:
    assert training_price(TRAINING_PRICE_PER_1M_TOKENS, GPT35) == STANDARD_TRAINING_PRICES[GPT35]
    assert training_price(TRAINING_PRICE_PER_1M_TOKENS, GPT35, "global") is None
    assert training_price(TRAINING_PRICE_PER_1M_TOKENS, GPT35, "developer") is None


def test_training_types_by_model_and_region() -> None:
    assert training_types(MINI) == ["standard", "global", "developer"]
    assert training_types(MINI, "northcentralus") == ["standard", "global", "developer"]
    assert training_types(MINI, "eastus") == ["global", "developer"]
    assert training_types(GPT35, "eastus2") == ["standard"]
    assert training_types(GPT35, "eastus") == []
    assert training_types("gpt-4.1-nano-2025-04-14", "polandcentral") == []


def test_the_bot_and_the_sandbox_offer_the_same_training_types() -> None:
    """Both tables copy Microsoft Learn's "Fine-tuning models" page: they must agree."""
    regions = set(GLOBAL_TRAINING_REGIONS).union(*STANDARD_TRAINING_REGIONS.values())
    for model in STANDARD_TRAINING_REGIONS:
        base = BASE_MODELS[model]
        for region in sorted(regions):
            sandbox = base.training_types(region)
            assert [TRAINING_TYPE_NAMES[t] for t in training_types(model, region)] == sandbox, (
                model,
                region,
            )
