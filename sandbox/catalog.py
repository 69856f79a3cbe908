"""The base models the sandbox offers, with the limits and training types Azure documents.

Source: Microsoft Learn, "Fine-tuning models" (azure-ai-docs,
articles/ai-foundry/openai/includes/fine-tune-models.md): each model's Standard training regions,
whether it offers Global training, and the regions where Global training is available. Developer
training (preview) is offered with Global training ("for all training jobs, you have the option to
use global standard ... or developer": articles/ai-foundry/openai/how-to/
fine-tuning-cost-management.md). The request names the type in `trainingType` (an Azure extension
of the OpenAI body: articles/ai-foundry/openai/includes/fine-tuning-oai-sdk.md and
fine-tuning-rest.md), case-insensitively: `Standard`, `GlobalStandard`, `Developer` (written
`developerTier` in the Developer example).
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD, GLOBAL, DEVELOPER = "Standard", "GlobalStandard", "Developer"
TRAINING_TYPES = {
    "standard": STANDARD,
    "globalstandard": GLOBAL,
    "developer": DEVELOPER,
    "developertier": DEVELOPER,
}
"""`trainingType` as sent (lower-cased) -> the type."""
GLOBAL_TRAINING_REGIONS = frozenset(
    (
        "australiaeast brazilsouth canadacentral canadaeast eastus eastus2 francecentral "
        "germanywestcentral italynorth japaneast koreacentral northcentralus norwayeast "
        "polandcentral southeastasia southafricanorth southcentralus southindia spaincentral "
        "swedencentral switzerlandwest switzerlandnorth uksouth westeurope westus westus3"
    ).split()
)
"""Where a resource may use Global (and Developer) training."""
_MAIN = frozenset({"northcentralus", "swedencentral"})
_GPT35 = frozenset({"eastus2", "northcentralus", "swedencentral", "switzerlandwest"})


@dataclass(frozen=True)
class BaseModel:
    """A base model: its id (`name-version`), deployable name and version, training context."""

    name: str
    version: str
    context: int
    fine_tune: bool = True
    dpo: bool = False
    """Listed for direct preference optimization (Azure's DPO page: GPT-4o and GPT-4.1 models)."""
    standard_regions: frozenset[str] = _MAIN
    """Where Standard (regional) training runs."""
    global_training: bool = False
    """Offers Global and Developer training (in GLOBAL_TRAINING_REGIONS)."""
    global_exceptions: frozenset[str] = frozenset()
    """Global-training regions that do not offer this model."""

    @property
    def id(self) -> str:
        """The model id the data plane uses, e.g. `gpt-4o-mini-2024-07-18`."""
        return f"{self.name}-{self.version}"

    def training_types(self, region: str) -> list[str]:
        """The training types this model offers to a resource in `region`."""
        offered = [STANDARD] if region in self.standard_regions else []
        if (
            self.global_training
            and region in GLOBAL_TRAINING_REGIONS
            and region not in self.global_exceptions
        ):
            offered += [GLOBAL, DEVELOPER]
        return offered


BASE_MODELS: dict[str, BaseModel] = {
    m.id: m
    for m in (
        BaseModel("gpt-4o-mini", "2024-07-18", 65_536, dpo=True, global_training=True),
        BaseModel(
            "gpt-4o",
            "2024-08-06",
            65_536,
            dpo=True,
            standard_regions=_MAIN | {"eastus2"},
            global_training=True,
        ),
        BaseModel("gpt-4.1", "2025-04-14", 65_536, dpo=True, global_training=True),
        BaseModel("gpt-4.1-mini", "2025-04-14", 65_536, dpo=True, global_training=True),
        BaseModel(
            "gpt-4.1-nano",
            "2025-04-14",
            32_768,
            dpo=True,
            global_training=True,
            global_exceptions=frozenset({"polandcentral"}),
        ),
        BaseModel("gpt-35-turbo", "0125", 16_385, standard_regions=_GPT35),
        BaseModel("gpt-35-turbo", "1106", 16_385, standard_regions=_GPT35),
        BaseModel("gpt-35-turbo", "0613", 4_096, standard_regions=_GPT35),
    )
}
CREATED_AT = 1_721_260_800
"""When the sandbox's base models are said to be created (2024-07-18)."""


def find_base(name: str, version: str = "") -> BaseModel | None:
    """A base model by id (`gpt-4o-mini-2024-07-18`) or by name and version (ARM's form)."""
    if name in BASE_MODELS:
        return BASE_MODELS[name]
    return BASE_MODELS.get(f"{name}-{version}")
