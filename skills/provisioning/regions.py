"""Names and regions `provision` accepts, checked before any call to Azure.

FINE_TUNING_REGIONS is where Azure OpenAI offers fine-tuning (Standard training). Source:
Microsoft Learn, "Azure OpenAI fine-tuning models" (azure-ai-docs,
articles/ai-services/openai/includes/fine-tune-models.md): gpt-4o-mini (2024-07-18) and the
gpt-4.1 family train in North Central US and Sweden Central; gpt-4o (2024-08-06) also in East
US 2; gpt-35-turbo (0125, 1106) also in East US 2 and Switzerland West. Global training (preview)
is left out: the lab uses a regional resource.
"""

from __future__ import annotations

import re

from infra.errors import UserError
from infra.i18n import N_, _

FINE_TUNING_REGIONS = {
    "northcentralus": N_("North Central US"),
    "swedencentral": N_("Sweden Central"),
    "eastus2": N_("East US 2"),
    "switzerlandwest": N_("Switzerland West"),
}
"""Region code -> its display name (a message id: Azure's portal names them in each language)."""
DEFAULT_REGION = "northcentralus"
"""The lab's region."""

_ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{1,63}$")
_GROUP = re.compile(r"^[-\w.()]{0,89}[-\w()]$")


def region_name(code: str) -> str:
    """A region's display name in the current language (the code itself when it is not one of
    FINE_TUNING_REGIONS)."""
    label = FINE_TUNING_REGIONS.get(code)
    return _(label) if label else code


def check_account(name: str) -> str:
    """An account name Azure takes (it is also the custom subdomain), else the rule."""
    if not _ACCOUNT.match(name):
        raise UserError(
            "`{name}` is not a valid account name: use 2 to 64 letters, digits or hyphens, "
            "starting with a letter or digit (it becomes the endpoint's subdomain).",
            name=name,
        )
    return name


def check_group(name: str) -> str:
    """A resource group name Azure takes, else the rule."""
    if not _GROUP.match(name):
        raise UserError(
            "`{name}` is not a valid resource group name: use up to 90 letters, digits, `-`, "
            "`_`, `.`, `(` or `)`, not ending in `.`.",
            name=name,
        )
    return name


def check_region(region: str) -> str:
    """A region where fine-tuning is offered (`North Central US` -> `northcentralus`)."""
    wanted = region.replace(" ", "").lower()
    if wanted not in FINE_TUNING_REGIONS:
        offered = ", ".join(
            _("`{code}` ({region})", code=code, region=_(label))
            for code, label in FINE_TUNING_REGIONS.items()
        )
        raise UserError(
            "Azure OpenAI does not offer fine-tuning in `{region}`; choose one of {offered}.",
            region=region,
            offered=offered,
        )
    return wanted
