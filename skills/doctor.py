"""`ftbot doctor`'s checks of Azure (infra/doctor.py has the result type): the Azure OpenAI
endpoint answers with the bot's credential, the bot's identity holds the roles the commands need
on the resource, and whether the subscription-scope rights were granted (deploy/main.bicep
leaves them out with subscriptionRoles=false, and the features they serve are then off).

On a sandbox the data plane checks roles as Azure does (Cognitive Services OpenAI Contributor), its
Resource Manager checks none (sandbox/auth.py): those checks say so instead of passing.
"""

from __future__ import annotations

from azure.core.exceptions import AzureError

from infra.azure import Azure, Resource
from infra.doctor import Check, bounded, failed, ok, reason, skipped
from skills.provisioning.roles import LAB_ROLES, OPENAI_CONTRIBUTOR, account_id

# Built-in role definition ids (Azure built-in roles; deploy/lab-access.bicep and
# deploy/subscription-access.bicep assign the first three).
COGNITIVE_SERVICES_CONTRIBUTOR = LAB_ROLES[2].guid
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
COST_MANAGEMENT_READER = "72fafb9e-0641-4937-9268-a91bfd8191a3"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"

NEEDS = (
    ("manage the resource (deploy, keys, provision)", "Cognitive Services Contributor",
     {COGNITIVE_SERVICES_CONTRIBUTOR, CONTRIBUTOR, OWNER}),
    ("assign the lab's roles (roles, provision)", "Role Based Access Control Administrator",
     {RBAC_ADMINISTRATOR, USER_ACCESS_ADMINISTRATOR, OWNER}),
)  # fmt: skip
"""What the bot's identity needs on the resource (docs/security.md) beyond the data plane: what
for, the role deploy/lab-access.bicep gives, and the roles that grant it."""
SUBSCRIPTION_FEATURES = "purge, provision group=<a new group>, the Usages Reader step of roles"


def _scope(resource: Resource) -> str:
    if resource.account:
        return account_id(resource)
    return f"/subscriptions/{resource.subscription_id}/resourceGroups/{resource.resource_group}"


async def openai_check(azure: Azure) -> Check:
    """The default resource's data plane answers a model list with the bot's credential."""
    name = "Azure OpenAI"
    resource = azure.default
    if not resource.endpoint:
        return skipped(name, "no Azure OpenAI resource yet: an admin makes one with `provision`")
    how = "its key" if azure.key_auth(resource) else "the bot's identity (Entra ID)"
    try:
        models = await bounded(lambda: _models(azure, resource))
    except Exception as error:
        return failed(
            name,
            f"{resource.endpoint} did not answer with {how}: {reason(error)}.",
            "check AZURE_OPENAI_ENDPOINT (or AZURE_OPENAI_ACCOUNT), and that the bot's identity "
            "holds Cognitive Services OpenAI Contributor on the account (or AZURE_OPENAI_API_KEY).",
        )
    where = " (the sandbox)" if azure.sandbox else ""
    return ok(name, f"{resource.endpoint}{where} answered with {how}: {models} models")


async def _models(azure: Azure, resource: Resource) -> int:
    return len([model async for model in azure.openai(resource).models.list()])


async def _held(azure: Azure, resource: Resource, scope: str, principal: str) -> set[str]:
    """The role definition ids `principal` holds at `scope` and above."""
    client = azure.authorization(resource.subscription_id)
    held: set[str] = set()
    async for assignment in client.role_assignments.list_for_scope(scope, filter="atScope()"):
        if str(assignment.principal_id or "").lower() == principal.lower():
            held.add(str(assignment.role_definition_id or "").rstrip("/").rsplit("/", 1)[-1])
    return held


async def roles_check(azure: Azure) -> Check:
    """The bot's identity holds what the commands need on the default resource (or its group)."""
    name = "Bot identity's roles"
    settings, resource = azure.settings, azure.default
    principal = settings.bot_principal
    if not settings.resource_manager:
        return skipped(name, "no AZURE_SUBSCRIPTION_ID: the resource commands are off")
    if not principal:
        return failed(
            name,
            "FTBOT_BOT_PRINCIPAL_ID is not set, so the bot cannot name its own identity.",
            "set it to the object (principal) id of the bot's managed identity or service "
            "principal (deploy/bot.bicep sets it).",
        )
    scope = _scope(resource)
    try:
        held = await bounded(lambda: _held(azure, resource, scope, principal))
    except (AzureError, TimeoutError, OSError) as error:
        return failed(
            name,
            f"could not list the role assignments at {scope}: {reason(error)}.",
            "check AZURE_SUBSCRIPTION_ID and AZURE_RESOURCE_GROUP.",
        )
    missing = []
    if resource.account and OPENAI_CONTRIBUTOR not in held and not azure.key_auth(resource):
        missing.append("Cognitive Services OpenAI Contributor (files, fine-tuning, chat)")
    if azure.sandbox:
        if missing:
            return failed(name, f"{principal} lacks {missing[0]} on {scope}.",
                          "roles bot (an admin), or assign it on the account.")  # fmt: skip
        return ok(name, f"{principal} holds the data-plane role on {scope} (the sandbox's "
                  "Resource Manager checks no roles: the others are checked on Azure)")  # fmt: skip
    for need, role, granting in NEEDS:
        if not held & granting:
            missing.append(f"{role} ({need})")
    if missing:
        return failed(
            name,
            f"{principal} lacks on {scope}: {'; '.join(missing)}.",
            "run `azd provision` (deploy/lab-access.bicep assigns them), or assign them on "
            "the resource group.",
        )
    return ok(name, f"{principal} holds what the commands need on {scope}")


async def subscription_check(azure: Azure) -> Check:
    """Whether the subscription-scope rights are there; without them their features are off."""
    name = "Subscription rights"
    settings, resource = azure.settings, azure.default
    if azure.sandbox:
        return skipped(name, "the sandbox's Resource Manager checks no roles")
    if not settings.azure_subscription_id or not settings.bot_principal:
        return skipped(name, "no AZURE_SUBSCRIPTION_ID or FTBOT_BOT_PRINCIPAL_ID")
    scope = f"/subscriptions/{resource.subscription_id}"
    try:
        held = await bounded(lambda: _held(azure, resource, scope, settings.bot_principal))
    except (AzureError, TimeoutError, OSError) as error:
        return failed(name, f"could not list the role assignments at {scope}: {reason(error)}.",
                      "check AZURE_SUBSCRIPTION_ID.")  # fmt: skip
    features = []
    if not held & {COGNITIVE_SERVICES_CONTRIBUTOR, CONTRIBUTOR, OWNER}:
        features.append("purge, provision in another group")
    if not held & {RBAC_ADMINISTRATOR, USER_ACCESS_ADMINISTRATOR, OWNER}:
        features.append("the Usages Reader step of roles")
    if COST_MANAGEMENT_READER not in held and OWNER not in held:
        features.append("spend")
    if features:
        return skipped(name, f"off: {', '.join(features)} (the subscription module was left out: "
                       "deploy/main.bicep subscriptionRoles=false)")  # fmt: skip
    return ok(name, f"{SUBSCRIPTION_FEATURES} and spend are on")


async def azure_checks(azure: Azure) -> list[Check]:
    """The Azure checks, in order."""
    return [await openai_check(azure), await roles_check(azure), await subscription_check(azure)]
