"""The Azure OpenAI data plane, as at `https://{account}.openai.azure.com/openai/...`.

Here it answers at `{sandbox}/openai-accounts/{account}/openai/...`: files, fine-tuning jobs with
their events and checkpoints, and models, on two surfaces as Azure has them: the dated paths
(`/openai/files?api-version=2024-10-21`) and the v1 paths (`/openai/v1/files`, api-version
optional). Chat completions live in `chat.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from typing import Any

from aiohttp import BodyPartReader, web

from sandbox.auth import bearer, principal_of, require
from sandbox.catalog import BASE_MODELS, CREATED_AT, STANDARD, TRAINING_TYPES, BaseModel
from sandbox.errors import AzureError, bad_request, not_found
from sandbox.ids import new_id
from sandbox.imports import FORMAT_OF_METHOD, file_path, import_file
from sandbox.service import SANDBOX, Sandbox
from sandbox.store import Doc, wire
from sandbox.training import (
    ACTIVE,
    QUEUE_SECONDS,
    TRAINER,
    VALIDATE_SECONDS,
    default_hyperparameters,
    kept_files,
    start_files,
)

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PENDING_JOBS = 20
MAX_JSON_BYTES = 16 * 1024 * 1024
"""Largest JSON body (Azure publishes none; 16 MB, the largest upload Azure OpenAI documents
besides fine-tuning files, is ample: a chat request has at most 2,048 messages)."""
WRITE_BYTES = 1 << 20
"""An upload is written in pieces of 1 MB, each in a worker thread."""
MAX_FIELD_BYTES = 1024
"""Largest multipart text field (`purpose` and the like: a few bytes in every Azure API)."""
DATED_VERSIONS = {
    "2024-10-21": False,
    "2024-06-01": False,
    "2024-08-01-preview": False,
    "2024-10-01-preview": False,
    "2025-04-01-preview": True,
}
"""The dated api-versions answered, and whether their spec has `method` (and pause/resume)."""
V1_VERSIONS = ("v1", "preview")
_SUFFIX = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)

log = logging.getLogger(__name__)


def is_v1(request: web.Request) -> bool:
    """True on the v1 surface (`/openai/v1/...`)."""
    return "/openai/v1/" in request.path + "/"


def api_version(request: web.Request) -> str:
    """The request's api-version ("v1" on the v1 paths by default); unknown ones are a 404."""
    version = request.query.get("api-version")
    if is_v1(request):
        version = version or "v1"
        known = version in V1_VERSIONS
    else:
        known = version in DATED_VERSIONS
    if not known or version is None:
        raise not_found("404", "Resource not found")  # Azure's answer to an unknown api-version
    return version


def has_method(request: web.Request) -> bool:
    """Whether the request's API version defines `method` (and pause/resume)."""
    version = api_version(request)
    return version in V1_VERSIONS or DATED_VERSIONS.get(version, False)


def authorize(request: web.Request) -> tuple[Sandbox, Doc, str]:
    """(sandbox, account, subdomain) of a data-plane call with a valid key, or a bearer token:
    one of the account's keys (Azure's v1 API takes the plain OpenAI client's key that way), or a
    sandbox token whose principal's roles allow the call (auth.py)."""
    sandbox = request.config_dict[SANDBOX]
    subdomain = request.match_info["account"].lower()
    account = sandbox.account_by_subdomain(subdomain)
    if account is None:
        raise not_found("404", "Resource not found")
    key = request.headers.get("api-key")
    if key is not None:
        if key not in account["_keys"].values():
            raise AzureError(401, "401", _DENIED)
    else:
        token = bearer(request)
        if not token:
            raise AzureError(401, "401", _DENIED)
        if token not in account["_keys"].values():
            principal = principal_of(token, sandbox.secret)
            if principal is None:
                raise AzureError(401, "invalid_token", "The access token is invalid or expired.")
            require(request, sandbox, principal, str(account["id"]))
    api_version(request)
    return sandbox, account, subdomain


def listing(items: list[Doc], **extra: Any) -> web.Response:
    """A list body in the data plane's shape."""
    return web.json_response({"object": "list", "data": [wire(d) for d in items], **extra})


def page(
    items: list[Doc], after: str | None, limit_text: str | None, default: int
) -> tuple[list[Doc], bool]:
    """The items after the one with id `after`, at most `limit` of them, and whether more exist."""
    try:
        limit = max(1, min(100, int(limit_text))) if limit_text else default
    except ValueError:
        raise bad_request("invalidPayload", "limit must be an integer.", param="limit") from None
    if after:
        ids = [d["id"] for d in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return items[:limit], len(items) > limit


# -- files -------------------------------------------------------------------------------------


def _owned_file(sandbox: Sandbox, subdomain: str, file_id: str) -> Doc:
    doc = sandbox.store.get("file", file_id)
    if doc is None or sandbox.store.parent_of("file", file_id) != subdomain:
        raise not_found("notFound", f"File with id '{file_id}' not found.")
    return doc


async def upload_file(request: web.Request) -> web.Response:
    """POST /openai/files: multipart upload, purpose `fine-tune`; the import starts pending."""
    sandbox, _, subdomain = authorize(request)
    if not request.content_type.startswith("multipart/"):
        raise bad_request("invalidPayload", "The request must be multipart/form-data.")
    reader = await request.multipart()
    purpose, filename, size = None, None, 0
    file_id = new_id("file")
    target = file_path(sandbox, file_id)
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "purpose":
                raw = await part.read_chunk(MAX_FIELD_BYTES + 1)
                if len(raw) > MAX_FIELD_BYTES or await part.read_chunk(1):
                    raise bad_request(
                        "invalidPayload",
                        f"The purpose field exceeds {MAX_FIELD_BYTES} bytes.",
                        param="purpose",
                    )
                purpose = raw.decode("utf-8", errors="replace").strip()
            elif part.name != "file":
                if len(await part.read_chunk(MAX_FIELD_BYTES + 1)) > MAX_FIELD_BYTES:
                    raise bad_request(
                        "invalidPayload", f"A form field exceeds {MAX_FIELD_BYTES} bytes."
                    )
                await part.release()
            else:
                filename = part.filename or "file.jsonl"
                with target.open("wb") as out:
                    buffer = bytearray()
                    while chunk := await part.read_chunk(1 << 16):
                        size += len(chunk)
                        if size > MAX_FILE_BYTES:
                            raise bad_request(
                                "invalidPayload",
                                "The file exceeds the limit of 512 MB.",
                                param="file",
                            )
                        buffer += chunk
                        if len(buffer) >= WRITE_BYTES:
                            # Off the event loop: a write may wait on the disk's writeback.
                            sandbox.room(len(buffer))
                            await asyncio.to_thread(out.write, bytes(buffer))
                            buffer.clear()
                    sandbox.room(len(buffer))
                    await asyncio.to_thread(out.write, bytes(buffer))
        if filename is None:
            raise bad_request("invalidPayload", "The file is missing.", param="file")
        if purpose != "fine-tune":
            raise bad_request(
                "invalidPayload",
                "This purpose is not supported for uploads here; use 'fine-tune'.",
                param="purpose",
            )
        if not filename.lower().endswith(".jsonl"):
            raise bad_request(
                "invalidPayload", "The file extension must be .jsonl for fine-tuning.", param="file"
            )
    except AzureError:
        target.unlink(missing_ok=True)
        raise
    except OSError as error:  # the disk is full: no empty or cut file is left
        target.unlink(missing_ok=True)
        log.warning("could not store an upload (%s)", error)
        raise AzureError(500, "InternalServerError", "The file could not be stored.") from None
    doc: Doc = {
        "object": "file",
        "id": file_id,
        "bytes": size,
        "created_at": sandbox.clock.stamp(),
        "filename": filename,
        "purpose": purpose,
        "status": "pending",
    }
    sandbox.store.put("file", file_id, doc, parent=subdomain)
    sandbox.spawn(import_file(sandbox, file_id), f"import {file_id}")
    location = str(request.url.with_query(None)) + f"/{file_id}"
    status = 200 if is_v1(request) else 201  # as each spec says
    return web.json_response(wire(doc), status=status, headers={"Location": location})


async def list_files(request: web.Request) -> web.Response:
    """GET /openai/files (optionally `purpose=`); `after` and `limit` page, as the SDK asks."""
    sandbox, _, subdomain = authorize(request)
    purpose = request.query.get("purpose")
    docs = [
        d for d in sandbox.store.docs("file", subdomain) if not purpose or d["purpose"] == purpose
    ]
    chosen, more = page(docs, request.query.get("after"), request.query.get("limit"), 10_000)
    # v1's AzureListFilesResponse requires first_id and last_id (strings) besides has_more.
    ids = [str(d["id"]) for d in chosen]
    ends = {"first_id": ids[0] if ids else "", "last_id": ids[-1] if ids else ""}
    return listing(chosen, has_more=more, **ends)


async def get_file(request: web.Request) -> web.Response:
    """GET /openai/files/{id}."""
    sandbox, _, subdomain = authorize(request)
    return web.json_response(wire(_owned_file(sandbox, subdomain, request.match_info["file_id"])))


async def delete_file(request: web.Request) -> web.Response:
    """DELETE /openai/files/{id}."""
    sandbox, _, subdomain = authorize(request)
    file_id = request.match_info["file_id"]
    _owned_file(sandbox, subdomain, file_id)
    sandbox.store.delete("file", file_id)
    file_path(sandbox, file_id).unlink(missing_ok=True)
    return web.json_response({"object": "file", "deleted": True, "id": file_id})


async def file_content(request: web.Request) -> web.StreamResponse:
    """GET /openai/files/{id}/content."""
    sandbox, _, subdomain = authorize(request)
    doc = _owned_file(sandbox, subdomain, request.match_info["file_id"])
    if doc["status"] != "processed":
        raise bad_request("invalidPayload", "The file is not processed yet.")
    kind = "text/csv" if doc["filename"].endswith(".csv") else "application/octet-stream"
    return web.FileResponse(file_path(sandbox, doc["id"]), headers={"Content-Type": kind})


# -- fine-tuning jobs ----------------------------------------------------------------------------


def _owned_job(sandbox: Sandbox, subdomain: str, job_id: str) -> Doc:
    doc = sandbox.store.get("job", job_id)
    if doc is None or sandbox.store.parent_of("job", job_id) != subdomain:
        raise not_found("notFound", f"The fine-tuning job '{job_id}' was not found.")
    return doc


def _usable_file(sandbox: Sandbox, subdomain: str, file_id: object, param: str) -> Doc:
    if not isinstance(file_id, str) or not file_id:
        raise bad_request("invalidPayload", f"The {param} is required.", param=param)
    doc = sandbox.store.get("file", file_id)
    if doc is None or sandbox.store.parent_of("file", file_id) != subdomain:
        raise bad_request("invalidPayload", f"The file '{file_id}' was not found.", param=param)
    if doc["status"] != "processed" or doc["purpose"] != "fine-tune":
        raise bad_request(
            "invalidPayload",
            "The specified file reference must point to a completed file import.",
            param=param,
        )
    return doc


INTEGER_LIMITS = {"n_epochs": (1, 50), "batch_size": (1, 256)}
"""Inclusive bounds of the integer hyperparameters (OpenAI's spec, which Azure's v1 follows)."""
BETA_MAX = 2.0
"""DPO's beta is a number in (0, 2]; the learning-rate multiplier any number above 0."""


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_hyperparameters(given: dict[str, Any], method: str) -> dict[str, Any]:
    """The explicit hyperparameters of a request, checked against the spec's bounds."""
    allowed = {"n_epochs", "batch_size", "learning_rate_multiplier"}
    if method == "dpo":
        allowed.add("beta")
    chosen: dict[str, Any] = {}
    for name, value in given.items():
        if name not in allowed:
            raise bad_request(
                "invalidPayload",
                f"Unknown hyperparameter {name} for the {method} method.",
                param=name,
            )
        if value == "auto" or value is None:
            continue
        if name in INTEGER_LIMITS:
            low, high = INTEGER_LIMITS[name]
            if not _number(value) or int(value) != value or not low <= value <= high:
                raise bad_request(
                    "invalidPayload",
                    f"The hyperparameter {name} must be 'auto' or an integer from {low} to {high}.",
                    param=name,
                )
            chosen[name] = int(value)
        elif name == "beta":
            if not _number(value) or not 0 < float(value) <= BETA_MAX:
                raise bad_request(
                    "invalidPayload",
                    f"The hyperparameter beta must be 'auto' or a number above 0 and at most "
                    f"{BETA_MAX:g}.",
                    param=name,
                )
            chosen[name] = float(value)
        else:
            if not _number(value) or not float(value) > 0:
                raise bad_request(
                    "invalidPayload",
                    "The hyperparameter learning_rate_multiplier must be 'auto' or a number "
                    "above 0.",
                    param=name,
                )
            chosen[name] = float(value)
    return chosen


def _base(sandbox: Sandbox, subdomain: str, model: object) -> tuple[BaseModel, str | None]:
    """(base model, fine-tuned model continued or None) of a job's `model`: a base model that can
    be fine-tuned, or a fine-tuned model of this resource (continuous fine-tuning: Microsoft
    Learn, "Continuous fine-tuning")."""
    name = model if isinstance(model, str) else ""
    base = BASE_MODELS.get(name)
    if base is not None and base.fine_tune:
        return base, None
    doc = sandbox.store.get("model", name) if name else None
    if doc is not None and sandbox.store.parent_of("model", name) == subdomain:
        return BASE_MODELS[str(doc["_base"])], name
    if ".ft-" in name:
        raise bad_request("invalidPayload", f"The model '{name}' was not found.", param="model")
    raise bad_request(
        "invalidPayload", "The base model does not support fine-tuning.", param="model"
    )


def _training_type(body: dict[str, Any], base: BaseModel, region: str) -> str:
    """The job's training type (`trainingType`, an Azure extension of the body; Standard when
    absent), refused where the model does not offer it in the resource's region."""
    given = body.get("trainingType")
    if given is not None and (not isinstance(given, str) or given.lower() not in TRAINING_TYPES):
        raise bad_request(
            "invalidPayload",
            "trainingType must be Standard, GlobalStandard or Developer.",
            param="trainingType",
        )
    kind = TRAINING_TYPES[given.lower()] if isinstance(given, str) else STANDARD
    offered = base.training_types(region)
    if kind not in offered:
        which = ", ".join(offered) or "none"
        raise bad_request(
            "invalidPayload",
            f"The base model '{base.id}' does not offer {kind} training in region '{region}'; "
            f"training types offered there: {which}.",
            param="trainingType",
        )
    return kind


def _method(request: web.Request, body: dict[str, Any], model: str) -> tuple[str, dict[str, Any]]:
    """(method type, explicit hyperparameters) of a job creation, refused where Azure refuses."""
    method = body.get("method")
    top = body.get("hyperparameters") or {}
    if not isinstance(top, dict):
        raise bad_request("invalidPayload", "hyperparameters must be an object.")
    if method is None:
        return "supervised", _check_hyperparameters(top, "supervised")
    if not has_method(request):
        raise bad_request(
            "invalidPayload",
            f"The parameter 'method' is not defined in api-version {api_version(request)}; "
            "use the v1 API or api-version 2025-04-01-preview to choose a training method.",
            param="method",
        )
    if not isinstance(method, dict) or method.get("type") not in ("supervised", "dpo"):
        kind = method.get("type") if isinstance(method, dict) else None
        if kind == "reinforcement":
            raise bad_request(
                "invalidPayload",
                f"The base model '{model}' does not support reinforcement fine-tuning.",
                param="method.type",
            )
        raise bad_request(
            "invalidPayload",
            "method.type must be 'supervised', 'dpo' or 'reinforcement'.",
            param="method.type",
        )
    kind = str(method["type"])
    if kind == "dpo" and not BASE_MODELS[model].dpo:
        raise bad_request(
            "invalidPayload",
            f"The base model '{model}' does not support direct preference optimization (dpo).",
            param="method.type",
        )
    settings = method.get(kind) or {}
    if not isinstance(settings, dict):
        raise bad_request("invalidPayload", f"method.{kind} must be an object.")
    given = settings.get("hyperparameters") or {}
    if not isinstance(given, dict):
        raise bad_request("invalidPayload", f"method.{kind}.hyperparameters must be an object.")
    if top and kind != "supervised":
        raise bad_request(
            "invalidPayload",
            "Top-level hyperparameters are for supervised jobs; put them in method.dpo.",
            param="hyperparameters",
        )
    return kind, _check_hyperparameters({**top, **given}, kind)


def job_view(request: web.Request, job: Doc, *, created: bool = False) -> Doc:
    """A job as this API version shows it: v1 says validating_files and queued for pending (the
    answer to its creation, `created`, always validating_files: the files are checked first,
    however long the sandbox took to answer)."""
    body = wire(job)
    if not has_method(request):
        body.pop("method", None)
    if is_v1(request):
        if job["status"] == "pending":
            sandbox = request.config_dict[SANDBOX]
            validating = created or sandbox.clock.now() < job["created_at"] + VALIDATE_SECONDS
            body["status"] = "validating_files" if validating else "queued"
        body["user_provided_suffix"] = body.get("suffix")
        body.setdefault("organization_id", "")
        body.setdefault("metadata", None)
    else:
        # The dated spec (Swagger 2.0) has no nullable fields: what is unset is absent, as in
        # its examples (get_finetuning_job.json).
        body = {k: v for k, v in body.items() if v is not None}
    return body


async def create_job(request: web.Request) -> web.Response:
    """POST /openai/fine_tuning/jobs."""
    sandbox, account, subdomain = authorize(request)
    body = await json_body(request)
    model = body.get("model")
    base, parent = _base(sandbox, subdomain, model)
    training_type = _training_type(body, base, str(account["location"]))
    kind, given = _method(request, body, base.id)
    training = _usable_file(sandbox, subdomain, body.get("training_file"), "training_file")
    validation = body.get("validation_file")
    if validation is not None:
        _usable_file(sandbox, subdomain, validation, "validation_file")
    wanted = FORMAT_OF_METHOD[kind]
    if training.get("_format", wanted) != wanted:
        raise bad_request(
            "invalidPayload",
            f"The training file has {training['_format']} examples; the {kind} method needs "
            f"{wanted} examples.",
            param="training_file",
        )
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or not _SUFFIX.match(suffix)):
        raise bad_request(
            "invalidPayload",
            "The suffix may have up to 40 characters a-z, A-Z, 0-9, - and _.",
            param="suffix",
        )
    seed = body.get("seed")
    if seed is None:
        seed = random.randrange(1 << 30)
    elif not isinstance(seed, int) or isinstance(seed, bool):
        raise bad_request("invalidPayload", "The seed must be an integer.", param="seed")
    jobs = sandbox.store.docs("job", subdomain)
    if sum(j["status"] == "pending" for j in jobs) >= MAX_PENDING_JOBS:
        raise bad_request(
            "quotaExceeded", f"This resource already has {MAX_PENDING_JOBS} queued jobs."
        )
    examples = int(training.get("_examples") or 0)  # counted by the import, off the event loop
    hyper = default_hyperparameters(examples, given)
    if kind == "dpo":
        hyper["beta"] = float(given.get("beta", 0.1))
    job_id = new_id("ftjob")
    now = sandbox.clock.now()
    start: dict[str, str] = {}
    if parent is not None:
        start = await asyncio.to_thread(start_files, sandbox, job_id, parent)
    job: Doc = {
        "object": "fine_tuning.job",
        "id": job_id,
        "created_at": int(now),
        "status": "pending",
        "model": model,
        "fine_tuned_model": None,
        "training_file": training["id"],
        "validation_file": validation,
        "result_files": [],
        "hyperparameters": {k: v for k, v in hyper.items() if k != "beta"},
        "method": {"type": kind, kind: {"hyperparameters": hyper}},
        "suffix": suffix,
        "seed": seed,
        "trained_tokens": None,
        "finished_at": None,
        "estimated_finish": None,
        "error": None,
        "integrations": None,
        "_queued_until": now + QUEUE_SECONDS[training_type],
        "_base": base.id,
        "_training_type": training_type,
        **start,
    }
    sandbox.store.put("job", job_id, job, parent=subdomain)
    request.config_dict[TRAINER].event(job_id, "Job enqueued. Waiting for jobs ahead to complete.")
    sandbox.wake.set()
    location = str(request.url.with_query(None)) + f"/{job_id}"
    status = 200 if is_v1(request) else 201
    body = job_view(request, job, created=True)
    return web.json_response(body, status=status, headers={"Location": location})


async def list_jobs(request: web.Request) -> web.Response:
    """GET /openai/fine_tuning/jobs: newest first, `after` and `limit` page."""
    sandbox, _, subdomain = authorize(request)
    jobs = list(reversed(sandbox.store.docs("job", subdomain)))
    chosen, more = page(jobs, request.query.get("after"), request.query.get("limit"), 20)
    views = [job_view(request, j) for j in chosen]
    return web.json_response({"object": "list", "data": views, "has_more": more})


async def get_job(request: web.Request) -> web.Response:
    """GET /openai/fine_tuning/jobs/{id}."""
    sandbox, _, subdomain = authorize(request)
    job = _owned_job(sandbox, subdomain, request.match_info["job_id"])
    return web.json_response(job_view(request, job))


async def cancel_job(request: web.Request) -> web.Response:
    """POST /openai/fine_tuning/jobs/{id}/cancel."""
    sandbox, _, subdomain = authorize(request)
    job_id = request.match_info["job_id"]
    job = _owned_job(sandbox, subdomain, job_id)
    if job["status"] not in (*ACTIVE, "paused"):
        raise AzureError(409, "conflict", f"The job is {job['status']} and cannot be cancelled.")
    job.update(status="cancelled", finished_at=sandbox.clock.stamp(), estimated_finish=None)
    sandbox.store.put("job", job_id, job)
    trainer = request.config_dict[TRAINER]
    trainer.cancel(job_id)
    trainer.event(job_id, "Job cancelled.")
    return web.json_response(job_view(request, job))


async def pause_job(request: web.Request) -> web.Response:
    """POST /openai/fine_tuning/jobs/{id}/pause: a running job stops at its last step."""
    sandbox, _, subdomain = authorize(request)
    if not has_method(request):
        raise not_found("404", "Resource not found")
    job_id = request.match_info["job_id"]
    job = _owned_job(sandbox, subdomain, job_id)
    if job["status"] != "running":
        raise AzureError(409, "conflict", f"The job is {job['status']} and cannot be paused.")
    if int(job.get("_step", 0)) < 1:  # Microsoft Learn, "Pause and resume"
        raise AzureError(
            409,
            "conflict",
            "The job has not trained a step yet; a job can be paused once it has trained at "
            "least one step.",
        )
    job = request.config_dict[TRAINER].pause(job_id)
    return web.json_response(job_view(request, job))


async def resume_job(request: web.Request) -> web.Response:
    """POST /openai/fine_tuning/jobs/{id}/resume: a paused job queues again, at its last step."""
    sandbox, _, subdomain = authorize(request)
    if not has_method(request):
        raise not_found("404", "Resource not found")
    job_id = request.match_info["job_id"]
    job = _owned_job(sandbox, subdomain, job_id)
    if job["status"] != "paused":
        raise AzureError(409, "conflict", f"The job is {job['status']} and cannot be resumed.")
    job.update(status="pending", _queued_until=sandbox.clock.now(), _resumed=True)
    sandbox.store.put("job", job_id, job)
    request.config_dict[TRAINER].event(job_id, "Job resumed.")
    sandbox.wake.set()
    return web.json_response(job_view(request, job))


async def delete_job(request: web.Request) -> web.Response:
    """DELETE /openai/fine_tuning/jobs/{id} (204): the job goes with its events, checkpoints,
    results file and fine-tuned model. A job still pending or running is refused (cancel it
    first), and so is one whose model is deployed (delete the deployments first)."""
    sandbox, account, subdomain = authorize(request)
    job_id = request.match_info["job_id"]
    job = _owned_job(sandbox, subdomain, job_id)
    if job["status"] in (*ACTIVE, "paused"):
        raise AzureError(
            409, "conflict", f"The job is {job['status']}; cancel it before deleting it."
        )
    model = job.get("fine_tuned_model")
    store = sandbox.store
    if model:
        deployed = [
            d["name"]
            for d in store.docs("deployment", str(account["id"]).lower())
            if str(d["properties"]["model"]["name"]).partition(":ckpt-step-")[0] == model
        ]
        if deployed:
            raise AzureError(
                409,
                "conflict",
                f"The model '{model}' is deployed ({', '.join(deployed)}); delete its "
                "deployments before deleting the job.",
            )
        store.delete("model", model)
    for kept in kept_files(sandbox, job):
        kept.unlink(missing_ok=True)
    for kind in ("event", "checkpoint"):
        for item, _ in list(store.items(kind, job_id)):
            store.delete(kind, item)
    for result in job.get("result_files") or []:
        if store.parent_of("file", result) == subdomain:
            store.delete("file", result)
            file_path(sandbox, result).unlink(missing_ok=True)
    store.delete("job", job_id)
    request.config_dict[TRAINER].cancel(job_id)
    return web.Response(status=204)


async def list_events(request: web.Request) -> web.Response:
    """GET /openai/fine_tuning/jobs/{id}/events: oldest first; `after` gives the newer ones."""
    sandbox, _, subdomain = authorize(request)
    job_id = request.match_info["job_id"]
    _owned_job(sandbox, subdomain, job_id)
    events = sandbox.store.docs("event", job_id)
    chosen, more = page(events, request.query.get("after"), request.query.get("limit"), 20)
    return listing(chosen, has_more=more)


async def list_checkpoints(request: web.Request) -> web.Response:
    """GET /openai/fine_tuning/jobs/{id}/checkpoints: the last three, by step."""
    sandbox, _, subdomain = authorize(request)
    job_id = request.match_info["job_id"]
    _owned_job(sandbox, subdomain, job_id)
    checkpoints = sandbox.store.docs("checkpoint", job_id)
    chosen, more = page(checkpoints, request.query.get("after"), request.query.get("limit"), 10)
    return listing(chosen, has_more=more)


# -- models ------------------------------------------------------------------------------------


def base_model_doc(model_id: str, region: str) -> Doc:
    """A base model as the data plane of an account in `region` lists it: `fine_tune` where it
    can be fine-tuned there (with a training type the region offers)."""
    base = BASE_MODELS[model_id]
    return {
        "object": "model",
        "id": base.id,
        "created_at": CREATED_AT,
        "status": "succeeded",
        "capabilities": {
            "fine_tune": base.fine_tune and bool(base.training_types(region)),
            "inference": True,
            "completion": False,
            "chat_completion": True,
            "embeddings": False,
        },
        "lifecycle_status": "generally-available",
        "deprecation": {
            "fine_tune": CREATED_AT + 730 * 86_400,
            "inference": CREATED_AT + 1095 * 86_400,
        },
    }


def model_view(request: web.Request, doc: Doc) -> Doc:
    """A model as this API shows it: v1's `OpenAI.Model` requires `created` and `owned_by`
    besides Azure's own fields."""
    if not is_v1(request):
        return doc
    owner = "system" if doc["id"] in BASE_MODELS else "user"
    return {**doc, "created": doc["created_at"], "owned_by": owner}


async def list_models(request: web.Request) -> web.Response:
    """GET /openai/models: base models, then this account's fine-tuned models."""
    sandbox, account, subdomain = authorize(request)
    region = str(account["location"])
    docs = [base_model_doc(m, region) for m in BASE_MODELS] + sandbox.store.docs("model", subdomain)
    return listing([model_view(request, wire(d)) for d in docs])


async def get_model(request: web.Request) -> web.Response:
    """GET /openai/models/{id}."""
    sandbox, account, subdomain = authorize(request)
    model_id = request.match_info["model_id"]
    if model_id in BASE_MODELS:
        base = base_model_doc(model_id, str(account["location"]))
        return web.json_response(model_view(request, base))
    doc = sandbox.store.get("model", model_id)
    if doc is None or sandbox.store.parent_of("model", model_id) != subdomain:
        raise not_found("notFound", f"The model '{model_id}' was not found.")
    return web.json_response(model_view(request, wire(doc)))


BODY_LIMIT = web.RequestKey("sandbox_body_limit", tuple[int, str])
"""Request key: (bytes, error code) of a surface's own body cap (Resource Manager sets 4 MB)."""


def too_large(request: web.Request) -> AzureError:
    """The 413 of a body over its surface's cap (which says the cap, never the content)."""
    limit, code = request.get(BODY_LIMIT, (MAX_JSON_BYTES, "RequestEntityTooLarge"))
    return AzureError(413, code, f"The request content exceeds the limit of {limit:,} bytes.")


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400/413 in Azure's shape (never echoing it)."""
    limit = request.get(BODY_LIMIT, (MAX_JSON_BYTES, ""))[0]
    if (request.content_length or 0) > limit:
        raise too_large(request)
    raw = bytearray()
    while chunk := await request.content.read(1 << 16):
        raw += chunk
        if len(raw) > limit:
            raise too_large(request)
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_request("invalidPayload", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("invalidPayload", "The request body must be a JSON object.")
    return body


def add_routes(app: web.Application) -> None:
    """Register the data plane under `/openai-accounts/{account}/openai` and `.../openai/v1`."""
    for base in ("/openai-accounts/{account}/openai", "/openai-accounts/{account}/openai/v1"):
        app.router.add_post(f"{base}/files", upload_file)
        app.router.add_get(f"{base}/files", list_files)
        app.router.add_get(f"{base}/files/{{file_id}}", get_file)
        app.router.add_delete(f"{base}/files/{{file_id}}", delete_file)
        app.router.add_get(f"{base}/files/{{file_id}}/content", file_content)
        app.router.add_post(f"{base}/fine_tuning/jobs", create_job)
        app.router.add_get(f"{base}/fine_tuning/jobs", list_jobs)
        app.router.add_get(f"{base}/fine_tuning/jobs/{{job_id}}", get_job)
        app.router.add_delete(f"{base}/fine_tuning/jobs/{{job_id}}", delete_job)
        app.router.add_post(f"{base}/fine_tuning/jobs/{{job_id}}/cancel", cancel_job)
        app.router.add_post(f"{base}/fine_tuning/jobs/{{job_id}}/pause", pause_job)
        app.router.add_post(f"{base}/fine_tuning/jobs/{{job_id}}/resume", resume_job)
        app.router.add_get(f"{base}/fine_tuning/jobs/{{job_id}}/events", list_events)
        app.router.add_get(f"{base}/fine_tuning/jobs/{{job_id}}/checkpoints", list_checkpoints)
        app.router.add_get(f"{base}/models", list_models)
        app.router.add_get(f"{base}/models/{{model_id}}", get_model)
