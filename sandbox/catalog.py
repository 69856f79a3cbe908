"""The base models the sandbox offers, with the limits Azure documents."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseModel:
    """A base model: its id (`name-version`), deployable name and version, training context."""

    name: str
    version: str
    context: int
    fine_tune: bool = True
    dpo: bool = False
    """Listed for direct preference optimization (Azure's DPO page: GPT-4o and GPT-4.1 models)."""

    @property
    def id(self) -> str:
        """The model id the data plane uses, e.g. `gpt-4o-mini-2024-07-18`."""
        return f"{self.name}-{self.version}"


BASE_MODELS: dict[str, BaseModel] = {
    m.id: m
    for m in (
        BaseModel("gpt-4o-mini", "2024-07-18", 65_536, dpo=True),
        BaseModel("gpt-4o", "2024-08-06", 65_536, dpo=True),
        BaseModel("gpt-4.1", "2025-04-14", 65_536, dpo=True),
        BaseModel("gpt-4.1-mini", "2025-04-14", 65_536, dpo=True),
        BaseModel("gpt-4.1-nano", "2025-04-14", 32_768, dpo=True),
        BaseModel("gpt-35-turbo", "0125", 16_385),
        BaseModel("gpt-35-turbo", "1106", 16_385),
        BaseModel("gpt-35-turbo", "0613", 4_096),
    )
}
CREATED_AT = 1_721_260_800
"""When the sandbox's base models are said to be created (2024-07-18)."""


def find_base(name: str, version: str = "") -> BaseModel | None:
    """A base model by id (`gpt-4o-mini-2024-07-18`) or by name and version (ARM's form)."""
    if name in BASE_MODELS:
        return BASE_MODELS[name]
    return BASE_MODELS.get(f"{name}-{version}")
