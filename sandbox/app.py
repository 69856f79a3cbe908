"""The sandbox's aiohttp application: data plane, Resource Manager, faults, background work."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from sandbox import SandboxError, arm, chat, contracts, dataplane, evals, graph
from sandbox.accounts import add_accounts
from sandbox.auth import from_loopback
from sandbox.chat import CHAT_MODELS, ChatModels
from sandbox.costs import add_costs
from sandbox.errors import AzureError
from sandbox.faults import describe, parse_faults
from sandbox.groups import add_groups
from sandbox.ids import new_guid
from sandbox.imports import resume_imports
from sandbox.lifecycle import sweep
from sandbox.lock import hold
from sandbox.roles import add_roles
from sandbox.service import SANDBOX, Sandbox, SandboxConfig
from sandbox.training import TRAINER, Trainer

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ARM_ROUTER = web.AppKey("sandbox_arm_router", arm.Router)
TOGETHER = web.AppKey("sandbox_together", asyncio.Barrier)
"""The barrier of the `together=<n>` fault: chat completions wait for each other."""


@web.middleware
async def azure_edge(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Injected faults and a test's barriers, Azure-shaped errors, and the headers every answer
    carries."""
    sandbox = request.config_dict[SANDBOX]
    faults = sandbox.config.faults
    request_id = new_guid()
    try:
        if sandbox.config.loopback_only and not from_loopback(request):
            raise AzureError(403, "Forbidden", "This sandbox answers only on this machine.")
        if faults.latency:
            await asyncio.sleep(faults.latency)
        if faults.together and request.path.endswith("/chat/completions"):
            await request.config_dict[TOGETHER].wait()
        status = faults.pick(sandbox.fault_rng) if faults.rates else None
        status = sandbox.barriers.refusal(request.method, request.path) or status
        if status is not None:
            code, message = describe(status)
            headers = {}
            if status in (429, 503):
                headers = {"Retry-After": f"{faults.retry_after:g}"}
            raise AzureError(status, code, message, headers=headers)
        await sandbox.barriers.wait(request.method, request.path, served=False)
        response = await handler(request)
        await sandbox.barriers.wait(request.method, request.path, served=True)
        lost = faults.lost and request.method == "POST" and not response.prepared
        if lost and sandbox.fault_rng.random() < faults.lost:
            raise AzureError(504, *describe(504))  # done, but the caller never hears of it
    except AzureError as error:
        response = error.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = "404" if error.status == 404 else str(error.status)
        response = AzureError(error.status, code, error.reason).response()
    except Exception:
        log.exception(
            "sandbox request %s %s failed (request id %s)", request.method, request.path, request_id
        )
        response = AzureError(
            500, "InternalServerError", "The server had an error while processing your request."
        ).response()
    if not response.prepared:
        response.headers["x-ms-request-id"] = request_id
        response.headers["apim-request-id"] = request_id
        response.headers["x-sandbox-time"] = f"{sandbox.clock.now():.3f}"
    return response


async def _dataplane_root(request: web.Request) -> web.Response:
    dataplane.authorize(request)
    raise AzureError(404, "404", "Resource not found")


ARM_MAX_BYTES = 4 * 1024 * 1024
"""Resource Manager refuses request bodies over 4 MB (Azure's documented ARM request limit)."""


async def _arm(request: web.Request) -> web.Response:
    request[dataplane.BODY_LIMIT] = (ARM_MAX_BYTES, "RequestContentTooLarge")
    if (request.content_length or 0) > ARM_MAX_BYTES:
        raise dataplane.too_large(request)
    return await request.config_dict[ARM_ROUTER].dispatch(request)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    sandbox, trainer = app[SANDBOX], app[TRAINER]
    folder = hold(sandbox.config.data_dir)  # one sandbox per data folder, or a clear refusal
    try:
        sandbox.ensure_default_account()
        resume_imports(sandbox)
        evals.resume_runs(sandbox, app[CHAT_MODELS])
        sandbox.spawn(trainer.loop(), "trainer")
        sandbox.spawn(sweep(sandbox), "sweeper")
        yield
        await sandbox.stop()
    finally:
        folder.release()


def build_app(config: SandboxConfig) -> web.Application:
    """The sandbox application for a configuration."""
    app = web.Application(middlewares=[contracts.middleware(), azure_edge], client_max_size=1024**3)
    sandbox = Sandbox(config)
    app[SANDBOX] = sandbox
    app[TRAINER] = Trainer(sandbox)
    app[CHAT_MODELS] = ChatModels(sandbox)
    app[TOGETHER] = asyncio.Barrier(max(1, config.faults.together))
    router = arm.build_router()
    add_accounts(router)
    add_groups(router)
    add_roles(router)
    add_costs(router)
    app[ARM_ROUTER] = router
    app.router.add_get("/openai-accounts/{account}/", _dataplane_root, name=arm.DATAPLANE_ROUTE)
    dataplane.add_routes(app)
    chat.add_routes(app)
    graph.add_routes(app)
    evals.add_routes(app)
    app.router.add_route("*", "/{tail:subscriptions/.*}", _arm)
    app.router.add_route("*", "/{tail:providers/.*}", _arm)
    app.cleanup_ctx.append(_lifetime)
    return app


def create_sandbox_app(
    data_dir: Path,
    *,
    speedup: float = 1.0,
    faults: str = "",
    arm_token: str = "",
    loopback_only: bool = False,
    cost_delay_hours: float = 8.0,
) -> web.Application:
    """The Azure sandbox as an aiohttp app, standalone or mounted with `app.add_subapp`.

    `data_dir` holds its SQLite state and files; `speedup` runs sandbox time faster; `faults` is
    the `SANDBOX_FAULTS` syntax; `arm_token` is the access secret (a fresh one when empty:
    `app[SANDBOX].secret`); with `loopback_only` it answers only callers on this machine;
    `cost_delay_hours` is how late Cost Management reports costs (sandbox hours). A bad
    `faults`, or an empty or damaged database, is a `SandboxError` (one line for the operator).
    """
    try:
        parsed = parse_faults(faults)
    except ValueError as error:
        raise SandboxError(f"invalid setting SANDBOX_FAULTS: {error}") from None
    return build_app(
        SandboxConfig(
            Path(data_dir), speedup, parsed, arm_token, loopback_only, cost_delay_hours * 3600
        )
    )
