"""What the state store forgets, and when, so that nothing in it grows with the bot's uptime.

- the ids of handled activities (`seen/`, one per turn), a day after (channels redeliver within
  minutes);
- questions on cards, a day after they expired (skills/confirmations.py);
- audit entries, after `FTBOT_AUDIT_DAYS` (400 days by default: a year's audit and then some).

`sweep` runs at start and then every `FTBOT_SWEEP_SECONDS` (an hour by default) while the bot
runs. With several instances each one sweeps: removing what another removed first is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time

from skills.context import Context
from skills.records import DELIVERY_CLAIMS

log = logging.getLogger(__name__)

SEEN_SECONDS = 24 * 3600.0
"""How long an activity id is remembered to drop redeliveries."""
DAY = 24 * 3600.0


class Retention:
    """Forgets, on a schedule, what the bot no longer needs."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def sweep(self) -> None:
        """Remove old delivery ids, expired questions and audit entries past their retention."""
        seen = await self.ctx.claims.forget(DELIVERY_CLAIMS, SEEN_SECONDS)
        questions = await self.ctx.confirmations.sweep()
        cutoff = time.time() - self.ctx.settings.audit_days * DAY
        audit = await self.ctx.audit.prune(cutoff)
        if seen or questions or audit:
            log.info(
                "forgot %d delivery id(s), %d old question(s), %d audit entr(ies) past %d days",
                seen,
                questions,
                audit,
                self.ctx.settings.audit_days,
            )

    async def run(self) -> None:
        """`sweep` every FTBOT_SWEEP_SECONDS until cancelled."""
        while True:
            await asyncio.sleep(self.ctx.settings.sweep_seconds)
            try:
                await self.sweep()
            except Exception as error:  # the store is unreachable for now: next time
                log.warning("could not sweep the state store (%s); trying again later", error)
