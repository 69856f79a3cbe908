"""The Azure OpenAI data plane, as at `https://{account}.openai.azure.com/openai/...`.

Here it answers at `{sandbox}/openai-accounts/{account}/openai/...`: files, fine-tuning jobs with
their events and checkpoints, and models. Chat completions live in `chat.py`.
"""

from __future__ import annotations

import random
import re
from typing import Any

from aiohttp import BodyPartReader, web

from infra.sandbox.auth import bearer, principal_of, require
from infra.sandbox.catalog import BASE_MODELS, CREATED_AT
from infra.sandbox.errors import AzureError, bad_request, not_found
from infra.sandbox.ids import new_id
from infra.sandbox.imports import file_path, import_file
from infra.sandbox.service import SANDBOX, Sandbox
from infra.sandbox.store import Doc, wire
from infra.sandbox.training import ACTIVE, QUEUE_SECONDS, TRAINER, default_hyperparameters

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_PENDING_JOBS = 20
_SUFFIX = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)


def authorize(request: web.Request) -> tuple[Sandbox, Doc, str]:
    """(sandbox, account, subdomain) of a data-plane call with a valid key, or a bearer token
    whose principal's roles allow it (auth.py)."""
    sandbox = request.config_dict[SANDBOX]
    subdomain = request.match_info["account"].lower()
    account = sandbox.account_by_subdomain(subdomain)
    if account is None:
        raise not_found("404", "Resource not found")
    key = request.headers.get("api-key")
    if key is not None:
        if key not in account["_keys"].values():
            raise AzureError(401, "401", _DENIED)
        return sandbox, account, subdomain
    token = bearer(request)
    if not token:
        raise AzureError(401, "401", _DENIED)
    principal = principal_of(token, sandbox.secret)
    if principal is None:
        raise AzureError(401, "invalid_token", "The access token is invalid or expired.")
    require(request, sandbox, principal, str(account["id"]))
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
                purpose = (await part.text()).strip()
            elif part.name == "file":
                filename = part.filename or "file.jsonl"
                with target.open("wb") as out:
                    while chunk := await part.read_chunk(1 << 16):
                        size += len(chunk)
                        if size > MAX_FILE_BYTES:
                            raise bad_request(
                                "invalidPayload",
                                "The file exceeds the limit of 512 MB.",
                                param="file",
                            )
                        out.write(chunk)
        if filename is None:
            raise bad_request("invalidPayload", "The file is missing.", param="file")
        if purpose != "fine-tune":
            raise bad_request(
                "invalidPayload",
                f"The purpose '{purpose}' is not supported for uploads; use 'fine-tune'.",
                param="purpose",
            )
        if not filename.lower().endswith(".jsonl"):
            raise bad_request(
                "invalidPayload", "The file extension must be .jsonl for fine-tuning.", param="file"
            )
    except AzureError:
        target.unlink(missing_ok=True)
        raise
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
    return web.json_response(wire(doc), status=201, headers={"Location": location})


async def list_files(request: web.Request) -> web.Response:
    """GET /openai/files (optionally `purpose=`); `after` and `limit` page, as the SDK asks."""
    sandbox, _, subdomain = authorize(request)
    purpose = request.query.get("purpose")
    docs = [
        d for d in sandbox.store.docs("file", subdomain) if not purpose or d["purpose"] == purpose
    ]
    chosen, more = page(docs, request.query.get("after"), request.query.get("limit"), 10_000)
    return listing(chosen, has_more=more)


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


def _hyperparameters(body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("method") or {}
    given = dict(body.get("hyperparameters") or {})
    if isinstance(method, dict) and isinstance(method.get("supervised"), dict):
        given.update(method["supervised"].get("hyperparameters") or {})
    limits = {"n_epochs": (1, 50), "batch_size": (1, 256), "learning_rate_multiplier": (0.0, 10.0)}
    chosen: dict[str, Any] = {}
    for name, (low, high) in limits.items():
        value = given.get(name, "auto")
        if value == "auto" or value is None:
            continue
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        integral = name != "learning_rate_multiplier"
        if not number_ok or (integral and int(value) != value) or not low < value <= high:
            raise bad_request(
                "invalidPayload",
                f"The hyperparameter {name} must be 'auto' or a number in ({low}, {high}].",
                param=name,
            )
        chosen[name] = int(value) if integral else float(value)
    return chosen


async def create_job(request: web.Request) -> web.Response:
    """POST /openai/fine_tuning/jobs."""
    sandbox, _, subdomain = authorize(request)
    body = await json_body(request)
    model = body.get("model")
    base = BASE_MODELS.get(model) if isinstance(model, str) else None
    if base is None or not base.fine_tune:
        raise bad_request(
            "invalidPayload",
            f"The base model '{model}' does not support fine-tuning.",
            param="model",
        )
    training = _usable_file(sandbox, subdomain, body.get("training_file"), "training_file")
    validation = body.get("validation_file")
    if validation is not None:
        _usable_file(sandbox, subdomain, validation, "validation_file")
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
    text = file_path(sandbox, training["id"]).read_text(encoding="utf-8", errors="replace")
    examples = sum(1 for line in text.splitlines() if line.strip())
    hyper = default_hyperparameters(examples, _hyperparameters(body))
    job_id = new_id("ftjob")
    now = sandbox.clock.now()
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
        "hyperparameters": hyper,
        "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}},
        "suffix": suffix,
        "seed": seed,
        "trained_tokens": None,
        "finished_at": None,
        "estimated_finish": None,
        "error": None,
        "integrations": None,
        "_queued_until": now + QUEUE_SECONDS,
    }
    sandbox.store.put("job", job_id, job, parent=subdomain)
    request.config_dict[TRAINER].event(job_id, "Job enqueued. Waiting for jobs ahead to complete.")
    sandbox.wake.set()
    location = str(request.url.with_query(None)) + f"/{job_id}"
    return web.json_response(wire(job), status=201, headers={"Location": location})


async def list_jobs(request: web.Request) -> web.Response:
    """GET /openai/fine_tuning/jobs: newest first, `after` and `limit` page."""
    sandbox, _, subdomain = authorize(request)
    jobs = list(reversed(sandbox.store.docs("job", subdomain)))
    chosen, more = page(jobs, request.query.get("after"), request.query.get("limit"), 20)
    return listing(chosen, has_more=more)


async def get_job(request: web.Request) -> web.Response:
    """GET /openai/fine_tuning/jobs/{id}."""
    sandbox, _, subdomain = authorize(request)
    return web.json_response(wire(_owned_job(sandbox, subdomain, request.match_info["job_id"])))


async def cancel_job(request: web.Request) -> web.Response:
    """POST /openai/fine_tuning/jobs/{id}/cancel."""
    sandbox, _, subdomain = authorize(request)
    job_id = request.match_info["job_id"]
    job = _owned_job(sandbox, subdomain, job_id)
    if job["status"] not in ACTIVE:
        raise AzureError(409, "conflict", f"The job is {job['status']} and cannot be cancelled.")
    job.update(status="cancelled", finished_at=sandbox.clock.stamp(), estimated_finish=None)
    sandbox.store.put("job", job_id, job)
    trainer = request.config_dict[TRAINER]
    trainer.cancel(job_id)
    trainer.event(job_id, "Job cancelled.")
    return web.json_response(wire(job))


async def delete_job(request: web.Request) -> web.Response:
    """DELETE /openai/fine_tuning/jobs/{id} (204): the job goes with its events, checkpoints,
    results file and fine-tuned model. A job still pending or running is refused (cancel it
    first), and so is one whose model is deployed (delete the deployments first)."""
    sandbox, account, subdomain = authorize(request)
    job_id = request.match_info["job_id"]
    job = _owned_job(sandbox, subdomain, job_id)
    if job["status"] in ACTIVE:
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
        (sandbox.models_dir / f"{model}.jsonl").unlink(missing_ok=True)
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


def base_model_doc(model_id: str) -> Doc:
    """A base model as the data plane lists it."""
    base = BASE_MODELS[model_id]
    return {
        "object": "model",
        "id": base.id,
        "created_at": CREATED_AT,
        "status": "succeeded",
        "capabilities": {
            "fine_tune": base.fine_tune,
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


async def list_models(request: web.Request) -> web.Response:
    """GET /openai/models: base models, then this account's fine-tuned models."""
    sandbox, _, subdomain = authorize(request)
    docs = [base_model_doc(m) for m in BASE_MODELS] + sandbox.store.docs("model", subdomain)
    return listing(docs)


async def get_model(request: web.Request) -> web.Response:
    """GET /openai/models/{id}."""
    sandbox, _, subdomain = authorize(request)
    model_id = request.match_info["model_id"]
    if model_id in BASE_MODELS:
        return web.json_response(base_model_doc(model_id))
    doc = sandbox.store.get("model", model_id)
    if doc is None or sandbox.store.parent_of("model", model_id) != subdomain:
        raise not_found("notFound", f"The model '{model_id}' was not found.")
    return web.json_response(wire(doc))


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or a 400 in Azure's shape."""
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("invalidPayload", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("invalidPayload", "The request body must be a JSON object.")
    return body


def add_routes(app: web.Application) -> None:
    """Register the data plane under `/openai-accounts/{account}/openai`."""
    base = "/openai-accounts/{account}/openai"
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
    app.router.add_get(f"{base}/fine_tuning/jobs/{{job_id}}/events", list_events)
    app.router.add_get(f"{base}/fine_tuning/jobs/{{job_id}}/checkpoints", list_checkpoints)
    app.router.add_get(f"{base}/models", list_models)
    app.router.add_get(f"{base}/models/{{model_id}}", get_model)
