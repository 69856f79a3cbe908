"""Hosting a model: what to deploy, under which name, at what cost, and the deployment's life.

The lab's step 8 (a PUT on `.../accounts/{account}/deployments/{name}` with a token copied from the
Azure CLI) done through `azure-mgmt-cognitiveservices`: create, read, list and delete deployments,
and turn Resource Manager's answers into plain words. The model to deploy is resolved on the data
plane (`openai`): a job id gives its `fine_tuned_model`, a checkpoint id its checkpoint model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
from openai import APIError, AsyncAzureOpenAI, NotFoundError

from infra.errors import UserError

DAY = 86_400.0
HOUR = 3_600.0
IDLE_LIMIT = 15 * DAY
"""Azure deletes a fine-tuned deployment with no completion call for this long (the model stays)."""
WARN_AHEAD = 48 * HOUR
"""How long before that deletion the bot warns."""
DEVELOPER_LIFETIME = 24 * HOUR

SKUS = {"standard": "standard", "globalstandard": "GlobalStandard", "developer": "developer"}
"""The sku word a user types -> the sku name Resource Manager takes."""
SKU_LABELS = {"standard": "Standard", "globalstandard": "Global Standard", "developer": "Developer"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,63}$")
_JOB = re.compile(r"^ftjob-[0-9a-zA-Z]+$")
_CHECKPOINT = re.compile(r"^ftchkpt-[0-9a-zA-Z]+$")
_BASE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9.-]*?)-(?P<version>\d{4}-\d{2}-\d{2}|\d{4})$")
_STEP = re.compile(r":ckpt-step-(\d+)$")
_DATE = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
SERVICE_TIME_HEADER = "x-sandbox-time"
"""The sandbox's clock on each of its answers (an extension; Azure does not send it)."""

Observe = Callable[[float], None]

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


@dataclass(frozen=True)
class Account:
    """The Azure OpenAI resource on Resource Manager (the client knows the subscription)."""

    resource_group: str
    name: str


@dataclass(frozen=True)
class ModelChoice:
    """What a deployment will serve: the model name and version Resource Manager takes."""

    model: str
    version: str
    fine_tuned: bool
    job: str = ""

    @property
    def base(self) -> str:
        """The base model id (`gpt-4o-mini-2024-07-18`) this model was trained from."""
        return base_of(self.model, self.version)


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
    def base(self) -> str:
        """The base model id behind this deployment."""
        return base_of(self.model, self.version)


def is_fine_tuned(model: str) -> bool:
    """A fine-tuned model id (`<base>.ft-<hex>...`) or one of its checkpoints."""
    return ".ft-" in model or model.startswith("ft:") or ":ckpt-step-" in model


def base_of(model: str, version: str = "") -> str:
    """The base model id of a model name: the part before `.ft-`, or `name-version`."""
    if is_fine_tuned(model):
        return model.removeprefix("ft:").split(".ft-")[0].split(":")[0]
    if version and not model.endswith(version):
        return f"{model}-{version}"
    return model


def context_window(model: str, version: str = "") -> int:
    """How many tokens a model reads at inference; a cautious default for unknown ones."""
    base = base_of(model, version)
    if base in CONTEXT_WINDOWS:
        return CONTEXT_WINDOWS[base]
    family = _DATE.sub("", base)
    return CONTEXT_WINDOWS.get(family, 16_385)


def check_name(name: str) -> str:
    """`name` if Azure accepts it as a deployment name, else a UserError saying the rule."""
    if not _NAME.match(name):
        raise UserError(
            f"`{name}` is not a valid deployment name: use 2 to 64 letters, digits, `-`, `_` or "
            "`.`, starting with a letter or digit."
        )
    return name


def default_name(choice: ModelChoice) -> str:
    """A readable deployment name: base model family plus the suffix (or a short id)."""
    family = _DATE.sub("", choice.base)
    if not choice.fine_tuned:
        return check_name(family[:64])
    model = choice.model.removeprefix("ft:")
    tail = model.split(".ft-", 1)[1] if ".ft-" in model else model.rsplit(":", 1)[-1]
    tail = _STEP.sub("", tail)
    ident, _, suffix = tail.partition("-")
    label = suffix or f"ft-{ident[:6]}"
    step = _STEP.search(choice.model)
    if step:
        label += f"-step{step.group(1)}"
    name = _UNSAFE.sub("-", f"{family}-{label}").strip("-.")
    return check_name(name[:64].rstrip("-."))


def sku_word(value: str) -> str:
    """The sku word (`standard`, `globalstandard`, `developer`) for any spelling of it."""
    word = value.lower().replace("-", "").replace("_", "").replace(" ", "")
    if word not in SKUS:
        raise UserError(f"Unknown sku `{value}`; use standard, globalstandard or developer.")
    return word


def cost_lines(sku: str, prices: dict[str, float], fine_tuned: bool = True) -> list[str]:
    """What hosting costs, in words: the hourly fee (an estimate), or the developer tier's terms.

    The hosting fee is per deployment per hour (capacity buys throughput, not hosting); a base
    model's deployment has no hosting fee, only per-token billing.
    """
    sku = sku_word(sku)
    if not fine_tuned:
        return ["No hosting fee: a base model's deployment is billed per token only."]
    if sku == "developer":
        return [
            "Developer tier: no hourly hosting fee (you pay per token), and Azure deletes the "
            "deployment 24 hours after it is created."
        ]
    if sku not in prices:
        return [f"{SKU_LABELS[sku]} hosting is billed per hour; no price is configured for it."]
    hourly = prices[sku]
    return [
        f"Estimated hosting fee: ${hourly:,.2f} per hour (about ${hourly * 24:,.2f} a day), "
        "billed whether the model is used or not. This is an estimate from the configured list "
        "price; check your Azure pricing.",
        "Azure deletes a fine-tuned deployment after 15 days with no completion calls; I will "
        "warn you 48 hours before.",
    ]


async def resolve_model(client: AsyncAzureOpenAI, ref: str, job: str = "") -> ModelChoice:
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
        f"I can't tell what `{ref}` is: give a job id (`ftjob-...`), a fine-tuned model "
        "(`gpt-4o-mini-2024-07-18.ft-...`), a checkpoint id (`ftchkpt-...`) or a base model "
        "(`gpt-4o-mini-2024-07-18`)."
    )


async def _from_job(client: AsyncAzureOpenAI, job_id: str) -> ModelChoice:
    try:
        job = await client.fine_tuning.jobs.retrieve(job_id)
    except NotFoundError:
        raise UserError(f"There is no fine-tuning job `{job_id}` on this resource.") from None
    except APIError as error:
        raise UserError(f"Azure could not read job `{job_id}`: {_openai_message(error)}") from None
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise UserError(
            f"Job `{job_id}` is {job.status}, so there is no fine-tuned model to deploy yet."
        )
    return ModelChoice(job.fine_tuned_model, "1", fine_tuned=True, job=job_id)


async def _from_checkpoint(client: AsyncAzureOpenAI, checkpoint: str, job: str) -> ModelChoice:
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
        f"I found no checkpoint `{checkpoint}` in the recent jobs; `status <job>` lists a job's "
        "checkpoints (the last three are kept)."
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
    account: Account,
    name: str,
    observe: Observe | None = None,
) -> DeploymentInfo | None:
    """One deployment, or None when there is none by that name."""
    try:
        found = await client.deployments.get(
            account.resource_group, account.name, name, **_hook(observe)
        )
    except ResourceNotFoundError:
        return None
    except HttpResponseError as error:
        raise UserError(arm_message(error, f"read deployment `{name}`")) from None
    return info_of(found)


async def list_deployments(
    client: CognitiveServicesManagementClient, account: Account, observe: Observe | None = None
) -> list[DeploymentInfo]:
    """Every deployment of the account, by name."""
    try:
        pages = client.deployments.list(account.resource_group, account.name, **_hook(observe))
        found = [info_of(d) async for d in pages]
    except HttpResponseError as error:
        raise UserError(arm_message(error, "list the deployments")) from None
    return sorted(found, key=lambda d: d.name.lower())


async def start_deployment(
    client: CognitiveServicesManagementClient,
    account: Account,
    name: str,
    choice: ModelChoice,
    sku: str,
    capacity: int,
) -> DeploymentInfo:
    """PUT the deployment (it is then Creating); the caller follows it with `get_deployment`."""
    body = Deployment(
        sku=Sku(name=SKUS[sku_word(sku)], capacity=capacity),
        properties=DeploymentProperties(
            model=DeploymentModel(format="OpenAI", name=choice.model, version=choice.version)
        ),
    )
    try:
        poller = await client.deployments.begin_create_or_update(
            account.resource_group, account.name, name, body, polling=False
        )
        created = await poller.result()
    except HttpResponseError as error:
        raise UserError(arm_message(error, f"create deployment `{name}`")) from None
    if created is None:  # an empty 201/202: read it back
        found = await get_deployment(client, account, name)
        if found is None:
            raise UserError(f"Azure accepted deployment `{name}` but does not show it yet.")
        return found
    return info_of(created)


async def begin_delete(
    client: CognitiveServicesManagementClient, account: Account, name: str
) -> None:
    """Ask Resource Manager to delete a deployment (the caller waits until it is gone)."""
    try:
        await client.deployments.begin_delete(
            account.resource_group, account.name, name, polling=False
        )
    except ResourceNotFoundError:
        return
    except HttpResponseError as error:
        raise UserError(arm_message(error, f"delete deployment `{name}`")) from None


def arm_message(error: HttpResponseError, doing: str) -> str:
    """A Resource Manager failure in one sentence."""
    status = error.status_code
    code, message = _arm_detail(error)
    if status == 429:
        return f"Azure is busy and could not {doing}; try again in a minute."
    if status in (401, 403):
        return (
            f"Azure refused to {doing}: the bot's identity lacks a role on the resource "
            "(an admin can fix it with `roles`)."
        )
    if status == 404:
        return f"Azure could not {doing}: the resource or deployment does not exist."
    if code == "InsufficientQuota" or "quota" in message.lower():
        return f"Azure could not {doing}: the resource is out of quota ({message.rstrip('.')})."
    detail = message.rstrip(".") or (code or f"HTTP {status}")
    return f"Azure could not {doing}: {detail}."


def _arm_detail(error: HttpResponseError) -> tuple[str, str]:
    odata = getattr(error, "error", None)
    code = str(getattr(odata, "code", "") or "")
    message = str(getattr(odata, "message", "") or "")
    if not message:
        message = str(error.message or "").split("\n")[0]
        message = re.sub(r"^\(\w+\)\s*", "", message)
    return code, message


def _openai_message(error: APIError) -> str:
    body: Any = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"]).rstrip(".") + "."
    return str(error.message).rstrip(".") + "."


# -- the 15-day rule ---------------------------------------------------------------------------


def idle_seconds(last_used: float, now: float) -> float:
    """How long a deployment has had no completion."""
    return max(0.0, now - last_used)


def days_left(last_used: float, now: float) -> float:
    """Days until Azure deletes an idle fine-tuned deployment (0 when due)."""
    return max(0.0, (last_used + IDLE_LIMIT - now) / DAY)


def warning_at(last_used: float) -> float:
    """When the inactivity warning for this idle period is due."""
    return last_used + IDLE_LIMIT - WARN_AHEAD


def span(seconds: float) -> str:
    """A duration in words: `45 s`, `12 min`, `3 h 5 min`, `2.4 days`."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < HOUR:
        return f"{seconds // 60:.0f} min"
    if seconds < 2 * DAY:
        hours, rest = divmod(seconds, HOUR)
        return f"{hours:.0f} h {rest // 60:.0f} min"
    return f"{seconds / DAY:.1f} days"
