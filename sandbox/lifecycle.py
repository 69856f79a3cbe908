"""Time-driven state: accounts and deployments becoming ready, accounts being deleted (then
soft-deleted, then purged after 48 hours), and deployments Azure removes.

A deployment being deleted shows `Deleting` for DELETE_SECONDS, then it is gone.

A fine-tuned deployment with no chat completion for 15 days (sandbox time) is deleted, the model
stays; a developer-tier deployment ends 24 hours after it was created. `settle` applies what is
due; the handlers call it before they read, and a sweeper calls it in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sandbox.billing import start_hosting, stop_hosting
from sandbox.clock import DAY, HOUR
from sandbox.service import Backoff, Sandbox

log = logging.getLogger(__name__)

IDLE_LIMIT = 15 * DAY
DEVELOPER_LIFETIME = 24 * HOUR
FINE_TUNED_DEPLOY_SECONDS = 20.0
BASE_DEPLOY_SECONDS = 5.0
"""Sandbox seconds a deployment spends in Creating (Azure: 15-20 minutes for a fine-tuned one)."""
DELETE_SECONDS = 20.0
"""Sandbox seconds a deployment spends in Deleting before it is gone."""


def settle(sandbox: Sandbox) -> None:
    """Apply every state change that is due at the current sandbox time."""
    store, now = sandbox.store, sandbox.clock.now()
    for key, account in store.items("account"):
        props = account["properties"]
        state = props.get("provisioningState")
        if state == "Deleting":
            if now >= float(account["_gone_at"]):
                sandbox.soft_delete(key)
        elif state != "Succeeded" and now >= account["_ready_at"]:
            props["provisioningState"] = "Succeeded"
            store.put("account", key, account)
    for key, deleted in store.items("deleted"):
        if now >= float(deleted["_purge_at"]):
            log.info("purging deleted account %s: 48 hours are over", deleted["name"])
            sandbox.purge(key)
    for key, deployment in store.items("deployment"):
        props = deployment["properties"]
        state = props.get("provisioningState")
        if state == "Deleting":
            if now >= deployment["_gone_at"]:
                stop_hosting(sandbox, deployment, float(deployment["_gone_at"]))
                store.delete("deployment", key)
            continue
        if state in ("Accepted", "Creating") and now >= deployment["_ready_at"]:
            props["provisioningState"] = "Succeeded"
            store.put("deployment", key, deployment)
            state = "Succeeded"
            start_hosting(sandbox, deployment, float(deployment["_ready_at"]))
        if state != "Succeeded":
            continue
        sku = str(deployment["sku"]["name"]).lower()
        idle = now - float(deployment["_last_used"])
        if deployment["_fine_tuned"] and idle >= IDLE_LIMIT:
            log.info("deleting deployment %s: no completion for 15 days", deployment["name"])
            stop_hosting(sandbox, deployment, float(deployment["_last_used"]) + IDLE_LIMIT)
            store.delete("deployment", key)
        elif sku == "developertier" and now - float(deployment["_created"]) >= DEVELOPER_LIFETIME:
            log.info("deleting developer deployment %s: 24 hours are over", deployment["name"])
            stop_hosting(sandbox, deployment, float(deployment["_created"]) + DEVELOPER_LIFETIME)
            store.delete("deployment", key)


async def sweep(sandbox: Sandbox) -> None:
    """Settle state continually and save the sandbox clock once a second (backing off while the
    store fails, as on a full disk)."""
    saved = time.monotonic()
    backoff = Backoff("the sandbox's sweeper")
    while True:
        try:
            settle(sandbox)
            if time.monotonic() - saved >= 1:
                sandbox.save_clock()
                saved = time.monotonic()
        except Exception as error:
            await asyncio.sleep(backoff.failed(error))
            continue
        backoff.succeeded()
        await asyncio.sleep(0.05)
