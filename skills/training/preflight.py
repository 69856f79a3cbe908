"""Pre-flight checks of a training run, before anything is uploaded or billed.

Each check reads Azure and, when the run cannot go, raises one sentence saying what is full or
missing and what to do (`UserError`): the base model is offered for fine-tuning on the resource
(its data-plane model list: `capabilities.fine_tune`, the `Capabilities` of Microsoft's
2024-10-21 data-plane spec, which the v1 list carries beside OpenAI's fields; a list that does
not say is not checked, and the region's training types are checked from infra/prices.py), the
resource's job queue has room (Microsoft Learn, "Azure OpenAI quotas and limits": one running
and 20 queued jobs per resource), and the model a run continues (`from=`) exists. Whether the
resource can host one more fine-tuned model (5 deployments per resource) is told, not refused: a
run may train while the hosting slots are full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI

from infra.azure import Resource
from infra.errors import UserError
from infra.i18n import _
from infra.text import echo
from skills.azure_errors import openai_error
from skills.context import Context
from skills.deployment import arm as hosting
from skills.models import base_of, is_fine_tuned
from skills.provisioning.arm import get_account
from skills.resources import ResourceRecord
from skills.training import jobs
from skills.training.records import JobRecord

MAX_QUEUED_JOBS = 20
"""Jobs a resource queues besides the one it trains (Azure OpenAI quotas and limits)."""
WAITING = frozenset({"validating_files", "queued", "pending", "notRunning"})
JOB_REF = re.compile(r"^ftjob-[0-9A-Za-z]+$")


async def region_of(ctx: Context, resource: Resource) -> str:
    """The resource's region: what the bot recorded when it provisioned or adopted it, else what
    Resource Manager says; '' when neither can tell (an endpoint and key alone)."""
    known = await ctx.records.get(ResourceRecord.of(resource))
    if known is not None and known.location:
        return known.location.replace(" ", "").lower()
    if not (ctx.settings.resource_manager and resource.subscription_id):
        return ""
    cognitive = ctx.azure.cognitive(resource.subscription_id)
    try:
        account = await get_account(cognitive, resource.resource_group, resource.account)
    except UserError:
        return ""  # Azure decides when the job is created
    return account.location.replace(" ", "").lower() if account is not None else ""


def _fine_tune(model: Any) -> bool | None:
    """Azure's `capabilities.fine_tune` of a listed model (None when the list does not say)."""
    capabilities = getattr(model, "capabilities", None)
    if isinstance(capabilities, dict):
        value = capabilities.get("fine_tune")
    else:
        value = getattr(capabilities, "fine_tune", None)
    return value if isinstance(value, bool) else None


async def check_offered(client: AsyncOpenAI, base: str) -> None:
    """UserError when the resource's model list says `base` cannot be fine-tuned there, naming
    the models that can (a list that does not say is taken at its word: nothing to check)."""
    try:
        listed = [m async for m in client.models.list()]
    except openai.APIError as error:
        raise openai_error(error, _("model list")) from error
    said = {str(m.id): flag for m in listed if (flag := _fine_tune(m)) is not None}
    if not said or said.get(base):
        return
    offered = sorted(m for m, flag in said.items() if flag and not is_fine_tuned(m))
    if not offered:
        raise UserError("This resource offers no model for fine-tuning in its region.")
    raise UserError(
        "This resource does not offer {model} for fine-tuning in its region; it offers {offered} "
        "(`train model=...`).",
        model=echo(base),
        offered=", ".join(f"`{m}`" for m in offered),
    )


async def check_queue(client: AsyncOpenAI) -> None:
    """UserError when the resource's job queue is full (one job trains, 20 wait)."""
    try:
        page = await jobs.call(lambda: client.fine_tuning.jobs.list(limit=100))
    except openai.APIError as error:
        raise openai_error(error, _("job list")) from error
    waiting = sum(1 for job in page.data if job.status in WAITING)
    if waiting >= MAX_QUEUED_JOBS:
        raise UserError(
            "This resource's job queue is full: {count} jobs are waiting, the most Azure "
            "queues. Wait for one to start, or cancel one (`jobs` lists them), then train again; "
            "nothing was uploaded.",
            count=waiting,
        )


async def before_upload(client: AsyncOpenAI, base: str) -> None:
    """The checks a launch repeats just before its upload (the queue may have filled since the
    question was asked)."""
    await check_offered(client, base)
    await check_queue(client)


async def hosting_full(ctx: Context, resource: Resource) -> bool:
    """The resource hosts as many fine-tuned deployments as Azure allows (False when Resource
    Manager cannot tell)."""
    if not (ctx.settings.resource_manager and resource.subscription_id):
        return False
    cognitive = ctx.azure.cognitive(resource.subscription_id)
    try:
        found = await hosting.list_deployments(cognitive, resource)
    except UserError:
        return False
    return hosting.hosting_full(found)


@dataclass(frozen=True)
class Parent:
    """The fine-tuned model a run continues: its id, the job that made it, and its lineage
    (base model first, then each model trained from it, this one last)."""

    model: str
    job: str
    lineage: tuple[str, ...]

    @property
    def base(self) -> str:
        """The base model of the family."""
        return self.lineage[0]


async def parent_of(ctx: Context, client: AsyncOpenAI, ref: str) -> Parent:
    """The model `from=` names (a fine-tuned model, or the job that made it), checked to exist on
    this resource; UserError saying what would work otherwise."""
    job_id, model = "", ref
    if JOB_REF.match(ref):
        job = await jobs.get_job(client, ref)
        if job.status != "succeeded" or not job.fine_tuned_model:
            raise UserError(
                "Job `{job}` is {status}: only a job that succeeded has a model to continue "
                "from (`jobs` lists them).",
                job=ref,
                status=echo(job.status),
            )
        job_id, model = job.id, job.fine_tuned_model
    try:
        await jobs.call(lambda: client.models.retrieve(model))
    except openai.NotFoundError:
        raise UserError(
            "{model} is not on this resource (it was deleted, or it is another resource's): "
            "continue from a model of a job `jobs` lists as succeeded.",
            model=echo(model),
        ) from None
    except openai.APIError as error:
        raise openai_error(error, _("model {model}", model=echo(model))) from error
    if not job_id:
        job_id = await _job_of(client, model)
    record = await ctx.records.get(JobRecord.at(job_id)) if job_id else None
    earlier = tuple(record.lineage) if record is not None and record.lineage else ()
    lineage = (*(earlier or (base_of(model),)), model)
    return Parent(model=model, job=job_id, lineage=lineage)


async def _job_of(client: AsyncOpenAI, model: str) -> str:
    """The job that made a fine-tuned model, among the recent ones ('' when not found)."""
    try:
        page = await jobs.call(lambda: client.fine_tuning.jobs.list(limit=100))
    except openai.APIError:
        return ""
    return next((str(j.id) for j in page.data if j.fine_tuned_model == model), "")
