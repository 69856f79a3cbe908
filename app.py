"""The bot service: `create_app(settings)` builds the aiohttp app, `main()` runs it."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiohttp import web
from botbuilder.core import serializer_helper
from botbuilder.integration.aiohttp import CloudAdapter

from bot.adapter import AuthUnavailable, Unauthorized, authenticate, create_adapter
from bot.commands import build_router
from bot.doctor import bot_framework_check, package_check
from bot.handler import FineTuneBot
from bot.help import mode_line
from bot.inbound import BadActivity, parse_activity, read_body
from bot.notifier import Notifier
from bot.services import Services
from infra.azure import Azure
from infra.datasets import DatasetStore, FileDatasets
from infra.doctor import Check, failed, graph_check, reason, settings_check, state_check
from infra.downloads import Downloader
from infra.files import private_dir
from infra.graph import Graph
from infra.identity import federated_assertion
from infra.ownership import LocalOwnership, Ownership, every_retry
from infra.records import RecordStore
from infra.settings import SandboxIds, Settings, load_settings
from infra.state import open_state
from infra.tasks import Tasks
from sandbox import SandboxError, contract
from skills.audit import Audit
from skills.checks import FileChecks
from skills.claims import Claims
from skills.confirmations import Confirmations
from skills.context import Context
from skills.datasets import Datasets
from skills.deployment.service import Hosting
from skills.doctor import azure_checks
from skills.evaluation.service import DOWNLOAD_PATH, Evaluation
from skills.languages import Languages
from skills.notify import Notify
from skills.playground import Playground
from skills.provisioning.access import Access
from skills.provisioning.service import Provisioning
from skills.provisioning.teardown import Teardown
from skills.resources import Resources
from skills.retention import Retention
from skills.service_clock import ServiceClock
from skills.spend import Spend
from skills.training.service import Training

log = logging.getLogger("ftbot")

ADAPTER = web.AppKey("adapter", CloudAdapter)
BOT = web.AppKey("bot", FineTuneBot)
SETTINGS = web.AppKey("settings", Settings)
SANDBOX_IDS = SandboxIds(
    contract.SUBSCRIPTION, contract.RESOURCE_GROUP, contract.ACCOUNT, contract.BOT_PRINCIPAL
)
"""What the bot must know of a sandbox, as the sandbox names it; `main` hands it to the settings."""


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /api/messages: one Bot Framework activity, checked at the edge (bot/inbound.py) and
    authenticated (bot/adapter.py) before a turn runs."""
    if "application/json" not in request.headers.get("Content-Type", ""):
        return web.json_response({"error": "expected an application/json activity"}, status=415)
    settings = request.app[SETTINGS]
    try:
        activity = parse_activity(read_body(await request.read()), local=settings.local_mode)
    except BadActivity as bad:
        log.warning("refused a request to /api/messages (400): %s", bad.sentence)
        return web.json_response({"error": bad.sentence}, status=400)
    adapter = request.app[ADAPTER]
    try:
        auth = await authenticate(adapter, activity, request.headers.get("Authorization", ""))
    except Unauthorized as refused:
        log.info("refused a request to /api/messages (401): %s", refused)
        return web.json_response({"error": "the request is not authorized"}, status=401)
    except AuthUnavailable as reason:
        log.warning("cannot fetch the keys to check tokens (%s): answering 503", reason)
        return web.json_response({"error": "cannot check tokens right now"}, status=503)
    invoke = await adapter.process_activity(auth, activity, request.app[BOT].on_turn)
    if invoke is None:
        return web.Response(status=201)
    return web.json_response(serializer_helper(invoke.body), status=invoke.status)


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the service is up."""
    return web.json_response({"status": "ok"})


async def evaluation_outputs(request: web.Request) -> web.Response:
    """GET /api/evaluations/{id}/outputs.jsonl?key=...: an evaluation's outputs, for the holder
    of the link its result card carries; 404 for anything else."""
    ident = request.match_info["id"]
    body = await request.app[BOT].services.evaluation.outputs(ident, request.query.get("key", ""))
    if body is None:
        raise web.HTTPNotFound()
    disposition = f'attachment; filename="evaluation-{ident[:12]}.jsonl"'
    return web.Response(
        body=body,
        content_type="application/jsonl",
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


def build_context(
    settings: Settings,
    records: RecordStore,
    notify: Notify,
    sandbox_token: str = "",
    *,
    owners: Ownership | None = None,
    datasets: DatasetStore | None = None,
) -> Context:
    """The infrastructure every skill runs on, for `settings`: `sandbox_token` is the embedded
    sandbox's access secret; by default one instance's own ownership and dataset folder."""
    speedup = settings.sandbox_speedup if settings.sandbox_mode else 1.0
    return Context(
        settings=settings,
        records=records,
        azure=Azure(settings, sandbox_token=sandbox_token),
        notify=notify,
        tasks=Tasks(),
        owners=owners or LocalOwnership(),
        claims=Claims(records, owner=settings.instance),  # one owner per instance
        confirmations=Confirmations(records),
        clock=ServiceClock(speedup),  # sandbox time runs SANDBOX_SPEEDUP faster
        datasets=datasets or FileDatasets(settings.data_dir / "datasets"),
        audit=Audit(records),
    )


def graph_client(
    settings: Settings, assertion: Callable[[], str] | None, sandbox_token: str = ""
) -> Graph | None:
    """Microsoft Graph for files in channels and group chats: with an app registration, Graph
    (FTBOT_GRAPH_URL) as that app; without one, on a sandbox, the sandbox's Graph stand-in with its
    access secret (`sandbox_token` for the embedded one, else SANDBOX_ARM_TOKEN); else none (the
    bot then offers a personal chat)."""
    if settings.app_id:
        return Graph(
            settings.graph_url,
            settings.app_id,
            settings.app_password.get_secret_value(),
            settings.authority_host,
            assertion,
        )
    if settings.sandbox_mode:
        secret = sandbox_token or settings.sandbox_arm_token.get_secret_value()
        return Graph(settings.sandbox_root + contract.GRAPH, token=secret)
    return None


def create_app(settings: Settings) -> web.Application:
    """The bot's aiohttp application, with everything built from `settings`."""
    private_dir(settings.data_dir)
    # The embedded sandbox accepts only this secret (SANDBOX_ARM_TOKEN, else a fresh one).
    token = settings.sandbox_arm_token.get_secret_value() or secrets.token_urlsafe(32)
    sandbox_app = None
    if settings.embedded_sandbox:  # in production only with FTBOT_DEMO_SANDBOX (settings.py)
        from sandbox.app import create_sandbox_app  # numpy and tiktoken: only when embedded

        sandbox_app = create_sandbox_app(  # a bad SANDBOX_FAULTS stops the start here
            settings.data_dir / "sandbox",
            speedup=settings.sandbox_speedup,
            faults=settings.sandbox_faults,
            arm_token=token,
            loopback_only=True,
            cost_delay_hours=settings.cost_delay_hours,
        )
    state = open_state(settings)  # SQLite and local files, or Blob Storage (FTBOT_STATE)
    records = RecordStore(state.storage)
    assertion = federated_assertion(settings)  # the app's credential without a secret, or None
    adapter = create_adapter(settings, assertion)
    notifier = Notifier(adapter, records, settings.app_id)
    ctx = build_context(
        settings,
        records,
        notifier,
        token if settings.embedded_sandbox else "",
        owners=state.owners,
        datasets=state.datasets,
    )
    hosting = Hosting(ctx)
    training = Training(ctx)
    resources = Resources(ctx)
    provisioning = Provisioning(ctx, resources)
    access = Access(ctx, resources)
    teardown = Teardown(ctx, resources)
    spend = Spend(ctx, resources)
    datasets = Datasets(ctx)
    retention = Retention(ctx)
    graph = graph_client(settings, assertion, token if settings.embedded_sandbox else "")
    checks = FileChecks(ctx, datasets, Downloader(settings.local_mode, graph))
    evaluation = Evaluation(ctx, Downloader(settings.local_mode, graph))
    services = Services(
        settings=settings,
        claims=ctx.claims,
        confirmations=ctx.confirmations,
        datasets=datasets,
        checks=checks,
        training=training,
        hosting=hosting,
        evaluation=evaluation,
        playground=Playground(ctx, hosting),
        resources=resources,
        provisioning=provisioning,
        access=access,
        teardown=teardown,
        audit=ctx.audit,
        languages=Languages(ctx),
        spend=spend,
        graph=graph,
    )
    bot = FineTuneBot(build_router(), services, notifier)
    app = web.Application()
    app[ADAPTER] = adapter
    app[BOT] = bot
    app[SETTINGS] = settings
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get(DOWNLOAD_PATH.format(id="{id}"), evaluation_outputs)

    async def work(_: web.Application) -> AsyncIterator[None]:
        stale = await asyncio.to_thread(ctx.datasets.remove_stale)
        if stale:
            log.info("removed %d partial download(s) or cached copies unused for a week", stale)
        await retention.sweep()  # old delivery ids, questions and audit entries; then hourly
        ctx.tasks.spawn(retention.run(), "retention")
        await training.start()  # the watch list of unfinished jobs, interrupted launches
        await hosting.start()  # deployments in progress, the idle watcher
        ctx.tasks.spawn(spend.watch(), "budget watch")  # the 80% and 100% notices
        await evaluation.start()  # evaluations left running, and a dead instance's
        for interrupted in (provisioning.resume, teardown.resume):  # a restart or a lost instance
            await interrupted()
            ctx.tasks.spawn(every_retry(ctx.owners, interrupted, "work"), "adopter")
        try:
            await access.sync_keys()  # a key switched before this start (keys rotate)
        except Exception:
            log.warning("could not check which key to use; the key sync tries again", exc_info=True)
        ctx.tasks.spawn(access.run_sync(), "key sync")  # the key each key-auth resource uses
        await checks.resume()  # downloads and validations left unfinished
        yield
        await training.stop()
        await ctx.tasks.close()  # stop all work before the clients and the store close
        checks.close()
        await adapter.close()  # after the last proactive send
        if graph is not None:
            await graph.close()
        if assertion is not None:
            await asyncio.to_thread(assertion.close)
        await ctx.azure.close()
        await state.close()  # leases released: another instance takes the work over at once

    app.cleanup_ctx.append(work)
    if sandbox_app is not None:
        app.add_subapp("/sandbox", sandbox_app)
    return app


async def doctor(settings: Settings) -> AsyncIterator[Check]:
    """`ftbot doctor`: each check of `settings`, in order, as it finishes. With no Azure setting
    the checks run against a sandbox of their own on a loopback port (as `make run` would embed
    it); what has no stand-in is skipped, and says why."""
    assertion = federated_assertion(settings)
    yield settings_check(settings)
    yield await bot_framework_check(settings, assertion)
    yield await state_check(settings)
    try:
        async with _azure(settings) as azure:
            checks = await azure_checks(azure)
    except (SandboxError, OSError) as error:  # the embedded sandbox did not start
        checks = [
            failed(
                "Azure (sandbox)",
                f"the sandbox did not start: {reason(error)}.",
                "make FTBOT_DATA_DIR a folder this user can write, and stop any other bot or "
                "`ftbot sandbox` using it.",
            )
        ]
    for check in checks:
        yield check
    yield await graph_check(settings, assertion)
    yield package_check(settings)
    if assertion is not None:
        await asyncio.to_thread(assertion.close)


@asynccontextmanager
async def _azure(settings: Settings) -> AsyncIterator[Azure]:
    """The Azure clients the checks use: Azure, the external sandbox, or an embedded one started
    here on a free loopback port for the checks' time."""
    runner = None
    url, token = None, ""
    if settings.embedded_sandbox:
        from sandbox.app import create_sandbox_app

        token = settings.sandbox_arm_token.get_secret_value() or secrets.token_urlsafe(32)
        runner = web.AppRunner(
            create_sandbox_app(settings.data_dir / "sandbox", arm_token=token, loopback_only=True)
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}"
    azure = Azure(settings, sandbox_url=url, sandbox_token=token)
    try:
        yield azure
    finally:
        await azure.close()
        if runner is not None:
            await runner.cleanup()


def main() -> int:
    """Start the bot with settings from the environment (a bad one raises a one-line UserError,
    a bad SANDBOX_FAULTS or sandbox data folder a one-line SandboxError)."""
    settings = load_settings(SANDBOX_IDS)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("azure", "httpx", "httpx2", "openai"):  # every request, headers included
        logging.getLogger(chatty).setLevel(logging.WARNING)
    app = create_app(settings)
    print(
        f"FineTune Ops listening on http://{settings.host}:{settings.port}/api/messages "
        f"(data in {settings.data_dir}). {mode_line(settings)}",
        flush=True,
    )
    if settings.everyone_admin:
        print("No FTBOT_ADMINS or FTBOT_TRAINERS set: everyone is admin.", flush=True)
    web.run_app(app, host=settings.host, port=settings.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
