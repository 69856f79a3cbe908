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

TRAINING_PRICE_PER_1M_TOKENS = {
    "gpt-4o-mini-2024-07-18": 3.30,
    "gpt-4o-2024-08-06": 27.50,
    "gpt-4.1-2025-04-14": 25.00,
    "gpt-4.1-mini-2025-04-14": 5.00,
    "gpt-4.1-nano-2025-04-14": 1.50,
    "gpt-35-turbo-0125": 8.00,
    "gpt-35-turbo-1106": 8.00,
    "gpt-35-turbo-0613": 8.00,
}
"""Public list prices in USD per 1M training tokens."""

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
