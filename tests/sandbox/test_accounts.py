"""The sandbox's accounts, groups, role assignments and data-plane RBAC as Azure runs them,
through the official SDKs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.cognitiveservices.models import Account, AccountProperties, Sku

from infra.azure import AzureClients, azure_clients
from tests.e2e.test_provisioning import as_principal
from tests.harness import client_settings
from tests.sandbox_server import running_sandbox

SUB, RG, NAME = "00000000-0000-0000-0000-000000000000", "rg-lab", "aoai-lab3"
USER_ROLE = "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
CONTRIBUTOR = "a001fd3d-188f-4b5d-821b-7da978bf7442"


@pytest.fixture
async def azure(tmp_path: Path) -> AsyncIterator[AzureClients]:
    async with running_sandbox(tmp_path / "sandbox", speedup=5000) as url:
        async with azure_clients(client_settings(tmp_path), sandbox_url=url) as clients:
            for client in (clients.cognitive, clients.groups):
                client._config.polling_interval = 0.05
            yield clients


def account(location: str = "northcentralus", **properties: object) -> Account:
    return Account(
        kind="OpenAI",
        sku=Sku(name="S0"),
        location=location,
        properties=AccountProperties(custom_sub_domain_name=NAME, **properties),
    )


def code(error: HttpResponseError) -> str:
    return str(error.error.code if error.error else "")


@pytest.mark.slow  # sandbox time: accounts created and deleted
async def test_groups_and_the_account_life_cycle(azure: AzureClients) -> None:
    cognitive = azure.cognitive
    with pytest.raises(ResourceNotFoundError) as missing:
        await cognitive.accounts.begin_create(RG, NAME, account())
    assert code(missing.value) == "ResourceGroupNotFound"
    assert not await azure.groups.resource_groups.check_existence(RG)
    await azure.groups.resource_groups.create_or_update(RG, {"location": "northcentralus"})
    assert RG in [g.name async for g in azure.groups.resource_groups.list()]

    created = await (await cognitive.accounts.begin_create(RG, NAME, account())).result()
    assert created.properties.provisioning_state == "Succeeded"
    for changed, expected in (
        (account("swedencentral"), "InvalidResourceLocation"),
        (
            Account(kind="AIServices", sku=Sku(name="S0"), location="northcentralus"),
            "UpdateKindNotAllowed",
        ),
    ):
        with pytest.raises(HttpResponseError) as refused:
            await cognitive.accounts.begin_create(RG, NAME, changed)
        assert code(refused.value) == expected
    with pytest.raises(HttpResponseError) as refused:
        await cognitive.accounts.begin_create(RG, "other", account())  # same subdomain
    assert code(refused.value) == "CustomDomainInUse"

    await (await cognitive.accounts.begin_delete(RG, NAME)).result()
    with pytest.raises(ResourceNotFoundError):
        await cognitive.accounts.get(RG, NAME)
    deleted = await cognitive.deleted_accounts.get("northcentralus", RG, NAME)
    assert deleted.properties.scheduled_purge_date
    with pytest.raises(HttpResponseError) as refused:
        await cognitive.accounts.begin_create(RG, NAME, account())
    assert code(refused.value) == "FlagMustBeSetForRestore"
    restored = await (
        await cognitive.accounts.begin_create(RG, NAME, account(restore=True))
    ).result()
    assert restored.properties.provisioning_state == "Succeeded"

    await (await cognitive.accounts.begin_delete(RG, NAME)).result()
    await (await cognitive.deleted_accounts.begin_purge("northcentralus", RG, NAME)).result()
    assert [a.name async for a in cognitive.deleted_accounts.list()] == []
    fresh = await (await cognitive.accounts.begin_create(RG, NAME, account())).result()
    assert fresh.properties.provisioning_state == "Succeeded"  # the name is free again


async def test_role_assignments_and_data_plane_rbac(azure: AzureClients) -> None:
    await azure.groups.resource_groups.create_or_update(RG, {"location": "northcentralus"})
    created = await (await azure.cognitive.accounts.begin_create(RG, NAME, account())).result()
    roles = azure.authorization.role_assignments
    person = str(uuid.uuid4())

    def grant(role: str, principal: str = person) -> RoleAssignmentCreateParameters:
        return RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            principal_id=principal,
        )

    with pytest.raises(HttpResponseError) as refused:
        await roles.create(created.id.replace(NAME, "nope"), str(uuid.uuid4()), grant(USER_ROLE))
    assert code(refused.value) == "ResourceNotFound"

    endpoint = created.properties.endpoint
    async with as_principal(endpoint, person) as client:
        with pytest.raises(openai.AuthenticationError) as denied:
            await client.models.list()
        assert denied.value.body["code"] == "PermissionDenied"  # type: ignore[index]
        name = str(uuid.uuid4())
        await roles.create(created.id, name, grant(USER_ROLE))
        assert (await client.models.list()).data  # OpenAI User reads
        with pytest.raises(openai.AuthenticationError):  # ... but does not upload
            await client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune")
        with pytest.raises(HttpResponseError) as refused:
            await roles.create(created.id, name, grant(CONTRIBUTOR))
        assert code(refused.value) == "RoleAssignmentUpdateNotPermitted"
        await roles.create(created.id, str(uuid.uuid4()), grant(CONTRIBUTOR))
        uploaded = await client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune")
        assert uploaded.id.startswith("file-")

    await (await azure.cognitive.accounts.begin_delete(RG, NAME)).result()
    left = [r async for r in roles.list_for_scope(f"/subscriptions/{SUB}")]
    assert not [r for r in left if r.principal_id == person]  # gone with the account
