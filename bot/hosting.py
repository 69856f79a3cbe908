"""What deploy and chat share for the bot's life: the Azure clients, the service's clock, and the
background work (deployments being followed, the idle watcher), started and stopped by app.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from infra.azure import AzureClients
from infra.settings import Settings
from skills.service_clock import ServiceClock

if TYPE_CHECKING:
    from bot.services import Services


class Hosting:
    """Clients, clock and background tasks of deployments and chat."""

    def __init__(self, clock: ServiceClock, source: Callable[[], AzureClients]) -> None:
        self.clock = clock
        self._source = source
        self.following: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    def for_settings(cls, settings: Settings, source: Callable[[], AzureClients]) -> Hosting:
        """Real time on Azure; sandbox time (SANDBOX_SPEEDUP faster) on the sandbox."""
        speedup = settings.sandbox_speedup if settings.sandbox_mode else 1.0
        return cls(ServiceClock(speedup), source)

    def azure(self) -> AzureClients:
        """The Azure clients (built at start by app.py through infra/azure.py)."""
        return self._source()

    def spawn(self, services: Services, work: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `work` as a tracked task that `stop` cancels."""
        task = services.tasks.spawn(work, name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, services: Services) -> None:
        """Follow again the deployments left in progress, and start the idle watcher."""
        from bot.deployments import resume_following
        from bot.idle_watcher import watch_idle

        await resume_following(services)
        self.spawn(services, watch_idle(services), "idle watcher")

    async def stop(self) -> None:
        """Cancel the background work (before the clients close)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
