"""Azure OpenAI's price list for fine-tuning and hosting, and the model limits that decide what is
billed: what the bot knows of the models and skus, in one place (sources: Microsoft Learn, "Azure
OpenAI fine-tuning" and "Azure OpenAI pricing", and ../shared/specs/README.md).

Every price shown to a user is labelled an estimate.
"""

from __future__ import annotations

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"

TOKEN_LIMITS = {
    "gpt-4o-mini-2024-07-18": 65_536,
    "gpt-4o-2024-08-06": 65_536,
    "gpt-4.1-2025-04-14": 65_536,
    "gpt-4.1-mini-2025-04-14": 65_536,
    "gpt-4.1-nano-2025-04-14": 32_768,
    "gpt-35-turbo-0125": 16_385,
    "gpt-35-turbo-1106": 16_385,
    "gpt-35-turbo-0613": 4_096,
}
"""Tokens one training example may have, by base model."""

CONTEXT_WINDOWS = {
    "gpt-4o-mini": 128_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-35-turbo-0125": 16_385,
    "gpt-35-turbo-1106": 16_385,
    "gpt-35-turbo-0613": 4_096,
}
"""Input context of each base model at inference time (tokens)."""

STANDARD_TRAINING_PRICES = {
    "gpt-4o-mini-2024-07-18": 3.30,
    "gpt-4o-2024-08-06": 27.50,
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-35-turbo-0125": 8.00,
    "gpt-35-turbo-1106": 8.00,
    "gpt-35-turbo-0613": 8.00,
}
"""Public list prices in USD per 1M training tokens of Standard (regional) training, for the
supervised and the DPO method alike (Microsoft bills both per training token and epoch, with one
price per model and training type: "Fine-tuning cost management")."""

TRAINING_TYPES = ("standard", "global", "developer")
"""The training types a user chooses (`train training=...`)."""
TRAINING_TYPE_NAMES = {"standard": "Standard", "global": "GlobalStandard", "developer": "Developer"}
"""The training type -> the `trainingType` value Azure takes (an Azure extension of the job body:
Microsoft Learn, "Customize a model with fine-tuning", Python, "Training type")."""
GLOBAL_DISCOUNT = 0.10
DEVELOPER_DISCOUNT = 0.50
"""Microsoft Learn, "Fine-tuning cost management": Global training costs 10-30 % less than
Standard training, Developer training 50 % less than Global. The Global price below takes the
smallest discount (so the estimate errs high), the Developer price half of that: estimates, as
every price the bot shows; `FTBOT_TRAINING_PRICES` sets the real ones."""

GLOBAL_TRAINING_MODELS = frozenset(
    {
        "gpt-4o-mini-2024-07-18",
        "gpt-4o-2024-08-06",
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
    }
)
"""Models with Global (and Developer) training (Microsoft Learn, "Fine-tuning models", its Global
training column; Developer training is offered "for all training jobs" beside Global)."""
DPO_MODELS = GLOBAL_TRAINING_MODELS
"""Models that train with direct preference optimization (Microsoft Learn, "Direct preference
optimization": the GPT-4o and GPT-4.1 models)."""
STANDARD_TRAINING_REGIONS = {
    "gpt-4o-mini-2024-07-18": ("northcentralus", "swedencentral"),
    "gpt-4o-2024-08-06": ("eastus2", "northcentralus", "swedencentral"),
    "gpt-4.1-2025-04-14": ("northcentralus", "swedencentral"),
    "gpt-4.1-mini-2025-04-14": ("northcentralus", "swedencentral"),
    "gpt-4.1-nano-2025-04-14": ("northcentralus", "swedencentral"),
    "gpt-35-turbo-0125": ("eastus2", "northcentralus", "swedencentral", "switzerlandwest"),
    "gpt-35-turbo-1106": ("eastus2", "northcentralus", "swedencentral", "switzerlandwest"),
    "gpt-35-turbo-0613": ("eastus2", "northcentralus", "swedencentral", "switzerlandwest"),
}
"""Where each model trains with Standard training (Microsoft Learn, "Fine-tuning models")."""
GLOBAL_TRAINING_REGIONS = frozenset(
    (
        "australiaeast brazilsouth canadacentral canadaeast eastus eastus2 francecentral "
        "germanywestcentral italynorth japaneast koreacentral northcentralus norwayeast "
        "polandcentral southeastasia southafricanorth southcentralus southindia spaincentral "
        "swedencentral switzerlandwest switzerlandnorth uksouth westeurope westus westus3"
    ).split()
)
"""Regions whose resources may use Global (and Developer) training (same page); Poland Central
has no gpt-4.1-nano there."""


def training_types(model: str, region: str = "") -> list[str]:
    """The training types `model` offers, to a resource in `region` (any region when unknown)."""
    offered = []
    if not region or region in STANDARD_TRAINING_REGIONS.get(model, ()):
        offered.append("standard")
    in_global = not region or (
        region in GLOBAL_TRAINING_REGIONS
        and not (region == "polandcentral" and model == "gpt-4.1-nano-2025-04-14")
    )
    if model in GLOBAL_TRAINING_MODELS and in_global:
        offered += ["global", "developer"]
    return offered


def _default_training_prices() -> dict[str, float]:
    prices: dict[str, float] = dict(STANDARD_TRAINING_PRICES)
    for model in sorted(GLOBAL_TRAINING_MODELS):
        global_price = round(STANDARD_TRAINING_PRICES[model] * (1 - GLOBAL_DISCOUNT), 4)
        prices[f"{model}/global"] = global_price
        prices[f"{model}/developer"] = round(global_price * (1 - DEVELOPER_DISCOUNT), 4)
    return prices


TRAINING_PRICE_PER_1M_TOKENS = _default_training_prices()
"""USD per 1M training tokens, by `<model>` (Standard training), `<model>/<training type>`, or
`<model>/<training type>/<method>` where a method has a price of its own."""


def training_price(
    prices: dict[str, float], model: str, training: str = "standard", method: str = "supervised"
) -> float | None:
    """The price per 1M training tokens of `model` with a training type and method (None when
    the list has none)."""
    keys = [f"{model}/{training}/{method}", f"{model}/{training}"]
    if training == "standard":
        keys += [f"{model}/{method}", model]
    return next((prices[key] for key in keys if key in prices), None)


HOSTING_PRICE_PER_HOUR = {"standard": 1.70, "globalstandard": 1.70, "developer": 0.0}
"""Public list prices in USD per hour of hosting a fine-tuned model, by sku word."""

SKUS = {"standard": "Standard", "globalstandard": "GlobalStandard", "developer": "DeveloperTier"}
"""The sku word a user types -> the sku name Resource Manager takes."""

SKU_LABELS = {"standard": "Standard", "globalstandard": "Global Standard", "developer": "Developer"}
"""The sku word -> how cards name it."""

INFERENCE_PRICE_PER_1M_TOKENS = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-35-turbo": (0.50, 1.50),
}
"""Public list prices in USD per 1M (input, output) tokens of Global Standard inference, by model
family (Azure OpenAI pricing); an evaluation's estimate uses them for both of its runs (a
fine-tuned model's tokens are priced as its base's: a deployment's region and sku change both)."""
