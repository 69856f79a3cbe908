"""Deployments on Azure Resource Manager (the lab's step 8) and the model a user names.

The lab PUTs `.../accounts/{account}/deployments/{name}` with a token copied from the Azure CLI;
here `azure-mgmt-cognitiveservices` creates, reads, lists and deletes deployments. The model to
deploy is resolved on the data plane (`openai`): a job id gives its `fine_tuned_model`, a
checkpoint id its checkpoint model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.cognitiveservices.aio import CognitiveServicesManagementClient
from azure.mgmt.cognitiveservices.models import (
    Deployment,
    DeploymentModel,
    DeploymentProperties,
    Sku,
)
from openai import APIError, AsyncOpenAI, NotFoundError

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import _
from infra.prices import SKUS
from infra.text import echo
from skills.azure_errors import arm_error, openai_message
from skills.models import ModelChoice, base_of, is_fine_tuned, sku_label, sku_word
from skills.training.jobs import status_words

_JOB = re.compile(r"^ftjob-[0-9a-zA-Z]+$")
_CHECKPOINT = re.compile(r"^ftchkpt-[0-9a-zA-Z]+$")
_BASE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9.-]*?)-(?P<version>\d{4}-\d{2}-\d{2}|\d{4})$")
SERVICE_TIME_HEADER = "x-sandbox-time"
"""The sandbox's clock on each of its answers (an extension; Azure does not send it)."""

Observe = Callable[[float], None]
FINE_TUNED_DEPLOYMENTS = 5
"""Fine-tuned model deployments a resource may have (Microsoft Learn, "Azure OpenAI quotas and
limits")."""


@dataclass(frozen=True)
class DeploymentInfo:
    """One deployment as Resource Manager reports it."""

    name: str
    model: str
    version: str
    sku: str
    capacity: int
    state: str
    created_at: float | None = None

    @property
    def fine_tuned(self) -> bool:
        """True for a fine-tuned model (or checkpoint), which the 15-day rule applies to."""
        return is_fine_tuned(self.model)

    @property
    def ready(self) -> bool:
        """The deployment answers completions."""
        return self.state.lower() == "succeeded"

    @property
    def deleting(self) -> bool:
        """Azure is deleting it."""
        return self.state.lower() == "deleting"

    @property
    def base(self) -> str:
        """The base model id behind this deployment."""
        return base_of(self.model, self.version)


async def resolve_model(client: AsyncOpenAI, ref: str, job: str = "") -> ModelChoice:
    """The model a user named: a job id, a checkpoint id, a fine-tuned model, or a base model."""
    ref = ref.strip()
    if not ref:
        raise UserError("Name what to deploy: a job id, a fine-tuned model or a checkpoint id.")
    if _JOB.match(ref):
        return await _from_job(client, ref)
    if _CHECKPOINT.match(ref):
        return await _from_checkpoint(client, ref, job)
    if is_fine_tuned(ref):
        return ModelChoice(ref, "1", fine_tuned=True, job=job)
    base = _BASE.match(ref)
    if base:
        return ModelChoice(base.group("name"), base.group("version"), fine_tuned=False)
    raise UserError(
        "I can't tell what {ref} is: give a job id (`ftjob-...`), a fine-tuned model "
        "(`gpt-4o-mini-2024-07-18.ft-...`), a checkpoint id (`ftchkpt-...`) or a base model "
        "(`gpt-4o-mini-2024-07-18`).",
        ref=echo(ref),
    )


async def _from_job(client: AsyncOpenAI, job_id: str) -> ModelChoice:
    try:
        job = await client.fine_tuning.jobs.retrieve(job_id)
    except NotFoundError:
        raise UserError(
            "There is no fine-tuning job `{job}` on this resource.", job=job_id
        ) from None
    except APIError as error:
        raise UserError(
            "Azure could not read job `{job}`: {detail}", job=job_id, detail=openai_message(error)
        ) from None
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise UserError(
            "Job `{job}` is {status}, so there is no fine-tuned model to deploy yet.",
            job=job_id,
            status=status_words(job.status),
        )
    return ModelChoice(job.fine_tuned_model, "1", fine_tuned=True, job=job_id)


async def _from_checkpoint(client: AsyncOpenAI, checkpoint: str, job: str) -> ModelChoice:
    jobs = [job] if job else [j.id async for j in client.fine_tuning.jobs.list(limit=20)]
    for job_id in jobs:
        try:
            async for found in client.fine_tuning.jobs.checkpoints.list(job_id):
                if found.id == checkpoint:
                    model = found.fine_tuned_model_checkpoint
                    return ModelChoice(model, "1", fine_tuned=True, job=job_id)
        except APIError:
            continue
    raise UserError(
        "I found no checkpoint `{checkpoint}` in the recent jobs; `status <job>` lists a job's "
        "checkpoints (the last three are kept).",
        checkpoint=checkpoint,
    )


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


def info_of(deployment: Deployment) -> DeploymentInfo:
    """The parts of a Resource Manager deployment the bot shows and reasons about."""
    props = deployment.properties
    model = props.model if props is not None else None
    sku = deployment.sku
    system = deployment.system_data
    return DeploymentInfo(
        name=str(deployment.name),
        model=str(getattr(model, "name", "") or ""),
        version=str(getattr(model, "version", "") or ""),
        sku=str(getattr(sku, "name", "") or ""),
        capacity=int(getattr(sku, "capacity", 0) or 0),
        state=str(getattr(props, "provisioning_state", "") or "Unknown"),
        created_at=_epoch(getattr(system, "created_at", None)),
    )


def _hook(observe: Observe | None) -> dict[str, Any]:
    """Per-call options that pass the service's clock (when it tells it) to `observe`."""
    if observe is None:
        return {}

    def hook(response: Any) -> None:
        value = response.http_response.headers.get(SERVICE_TIME_HEADER)
        try:
            stamp = float(value) if value is not None else None
        except ValueError:
            stamp = None
        if stamp is not None:
            observe(stamp)

    return {"raw_response_hook": hook}


async def get_deployment(
    client: CognitiveServicesManagementClient,
    resource: Resource,
    name: str,
    observe: Observe | None = None,
) -> DeploymentInfo | None:
    """One deployment, or None when there is none by that name."""
    try:
        found = await client.deployments.get(
            resource.resource_group, resource.account, name, **_hook(observe)
        )
    except ResourceNotFoundError:
        return None
    except HttpResponseError as error:
        raise arm_error(error, _("read deployment `{name}`", name=name)) from None
    return info_of(found)


async def list_deployments(
    client: CognitiveServicesManagementClient, resource: Resource, observe: Observe | None = None
) -> list[DeploymentInfo]:
    """Every deployment of the account, by name."""
    try:
        pages = client.deployments.list(resource.resource_group, resource.account, **_hook(observe))
        found = [info_of(d) async for d in pages]
    except HttpResponseError as error:
        raise arm_error(error, _("list the deployments")) from None
    return sorted(found, key=lambda d: d.name.lower())


def hosting_full(found: Sequence[DeploymentInfo], name: str = "") -> bool:
    """The resource hosts as many fine-tuned deployments as Azure allows (`name`, replaced by a
    new deployment of that name, does not count)."""
    taken = [d for d in found if d.fine_tuned and d.name.lower() != name.lower()]
    return len(taken) >= FINE_TUNED_DEPLOYMENTS


async def start_deployment(
    client: CognitiveServicesManagementClient,
    resource: Resource,
    name: str,
    choice: ModelChoice,
    sku: str,
    capacity: int,
) -> DeploymentInfo:
    """PUT the deployment (it is then Creating); the caller follows it with `get_deployment`."""
    sku_name = await offered_sku(client, resource, choice, sku)
    body = Deployment(
        sku=Sku(name=sku_name, capacity=capacity),
        properties=DeploymentProperties(
            model=DeploymentModel(format="OpenAI", name=choice.model, version=choice.version)
        ),
    )
    try:
        poller = await client.deployments.begin_create_or_update(
            resource.resource_group, resource.account, name, body, polling=False
        )
        created = await poller.result()
    except HttpResponseError as error:
        raise arm_error(error, _("create deployment `{name}`", name=name)) from None
    if created is None:  # an empty 201/202: read it back
        found = await get_deployment(client, resource, name)
        if found is None:
            raise UserError(
                "Azure accepted deployment `{name}` but does not show it yet.", name=name
            )
        return found
    return info_of(created)


async def offered_sku(
    client: CognitiveServicesManagementClient, resource: Resource, choice: ModelChoice, sku: str
) -> str:
    """The sku name the account's model list (`accounts/{name}/models`, each model's
    `skus[].name`) offers for this tier and the base model: the name a deployment PUT takes."""
    wanted = SKUS[sku_word(sku)]
    base = base_of(choice.model, choice.version)
    try:
        models = [
            m async for m in client.accounts.list_models(resource.resource_group, resource.account)
        ]
    except HttpResponseError as error:
        raise arm_error(error, _("list the models of the resource")) from None
    offered: list[str] = []
    for model in models:
        if base_of(str(model.name or ""), str(model.version or "")) == base:
            offered += [str(s.name) for s in model.skus or [] if s.name]
    for name in offered:
        if name.lower() == wanted.lower():
            return name
    raise UserError(
        "This resource does not offer {tier} deployments of {base}.",
        tier=sku_label(sku_word(sku)),
        base=echo(base),
    )


async def begin_delete(
    client: CognitiveServicesManagementClient, resource: Resource, name: str
) -> None:
    """Ask Resource Manager to delete a deployment (the caller waits until it is gone)."""
    try:
        await client.deployments.begin_delete(
            resource.resource_group, resource.account, name, polling=False
        )
    except ResourceNotFoundError:
        return
    except HttpResponseError as error:
        raise arm_error(error, _("delete deployment `{name}`", name=name)) from None
