"""What deploy and chat share for the bot's life: the Azure clients and the service's clock, and
the start of their background work (deployments being followed, the idle watcher) as tracked
tasks (`services.tasks`, stopped by app.py before the clients close).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from infra.azure import AzureClients
from infra.settings import Settings
from skills.deployment import Account
from skills.service_clock import ServiceClock

if TYPE_CHECKING:
    from bot.services import Services


class Hosting:
    """Clients and clock of deployments and chat."""

    def __init__(self, clock: ServiceClock, source: Callable[[], AzureClients]) -> None:
        self.clock = clock
        self._source = source
        self.following: set[str] = set()

    @classmethod
    def for_settings(cls, settings: Settings, source: Callable[[], AzureClients]) -> Hosting:
        """Real time on Azure; sandbox time (SANDBOX_SPEEDUP faster) on the sandbox."""
        speedup = settings.sandbox_speedup if settings.sandbox_mode else 1.0
        return cls(ServiceClock(speedup), source)

    def azure(self) -> AzureClients:
        """The Azure clients (built at start by app.py through infra/azure.py)."""
        return self._source()

    async def start(self, services: Services) -> None:
        """Follow again the deployments left in progress, and start the idle watcher."""
        from bot.deployment_watcher import resume_following
        from bot.idle_watcher import watch_idle

        await resume_following(services)
        services.tasks.spawn(watch_idle(services), "idle watcher")


def clients(services: Services) -> AzureClients:
    """The Azure clients of this bot (real Azure or the sandbox)."""
    return services.hosting.azure()


def account_of(azure: AzureClients) -> Account:
    """The Azure OpenAI resource the bot acts on."""
    return Account(azure.resource_group, azure.account)


def clock_of(services: Services) -> ServiceClock:
    """The service's clock (sandbox time runs faster)."""
    return services.hosting.clock
